/**
 * The paper's trade-off plot: x is CLIP directional similarity (CLIP-T without a before caption), y is
 * CLIP image similarity; a line per image guidance s_I, its points along text guidance s_T. Each point
 * is linked to its cell: hovering or clicking one highlights the other.
 */
import type { GridView } from '../../../../shared/contract/schemas';
import {
  plotScales,
  polylinePoints,
  tickDecimals,
  ticks,
  type PlotData,
  type PlotFrame,
} from '../../state/grid-logic';

// The right margin leaves room for half of the last x tick label, which is centred on the axis end.
const FRAME: PlotFrame = { width: 360, height: 300, margin: { left: 52, right: 28, top: 12, bottom: 44 } };
/** One hue per s_I row, in order. */
const SERIES_COLOURS = [
  '#4c9ffe',
  '#4fc27a',
  '#f5c542',
  '#f0605a',
  '#c77dff',
  '#2ec4b6',
  '#ff9f1c',
  '#aab2bd',
];

const X_LABEL = {
  directional: 'CLIP directional similarity',
  clipT: 'CLIP-T (result vs. after caption)',
};
const X_MEANING = {
  directional:
    'How well the change in the picture matches the change from the before caption to the after caption (higher: the edit did what was asked).',
  clipT: 'How well the result matches the after caption (higher: closer to the description).',
};
const Y_MEANING =
  'CLIP image similarity: how much the result still looks like the input (higher: more of the picture kept).';

export function GridPlot({
  data,
  grid,
  highlighted,
  onHover,
  onSelect,
}: {
  data: PlotData;
  grid: GridView;
  highlighted: number | null;
  onHover: (index: number | null) => void;
  onSelect: (index: number) => void;
}) {
  const scales = plotScales(data, FRAME);
  const bottom = FRAME.height - FRAME.margin.bottom;
  const right = FRAME.width - FRAME.margin.right;
  const xDecimals = tickDecimals(data.xRange, 4);
  const yDecimals = tickDecimals(data.yRange, 4);
  return (
    <figure className="grid-plot" data-testid="grid-plot" data-x-axis={data.xAxis}>
      <svg
        width={FRAME.width}
        height={FRAME.height}
        viewBox={`0 0 ${FRAME.width} ${FRAME.height}`}
        role="img"
        aria-label={`${X_LABEL[data.xAxis]} against CLIP image similarity`}
      >
        <line className="plot-axis" x1={FRAME.margin.left} y1={bottom} x2={right} y2={bottom} />
        <line
          className="plot-axis"
          x1={FRAME.margin.left}
          y1={FRAME.margin.top}
          x2={FRAME.margin.left}
          y2={bottom}
        />
        {ticks(data.xRange, 4).map((value) => (
          <text
            key={`x${value}`}
            className="plot-tick"
            x={scales.x(value)}
            y={bottom + 14}
            textAnchor="middle"
          >
            {value.toFixed(xDecimals)}
          </text>
        ))}
        {ticks(data.yRange, 4).map((value) => (
          <text
            key={`y${value}`}
            className="plot-tick"
            x={FRAME.margin.left - 6}
            y={scales.y(value) + 4}
            textAnchor="end"
          >
            {value.toFixed(yDecimals)}
          </text>
        ))}
        <text
          className="plot-label"
          x={(FRAME.margin.left + right) / 2}
          y={FRAME.height - 6}
          textAnchor="middle"
        >
          <title>{X_MEANING[data.xAxis]}</title>
          {X_LABEL[data.xAxis]} →
        </text>
        <text
          className="plot-label"
          transform={`translate(12 ${(FRAME.margin.top + bottom) / 2}) rotate(-90)`}
          textAnchor="middle"
        >
          <title>{Y_MEANING}</title>
          CLIP image similarity →
        </text>
        {data.series.map((series) => {
          const colour = SERIES_COLOURS[series.imageIndex % SERIES_COLOURS.length];
          return (
            <g key={series.imageIndex} data-testid="plot-series" data-image-guidance={series.imageGuidance}>
              <polyline
                className="plot-line"
                points={polylinePoints(series.points, scales)}
                stroke={colour}
                fill="none"
              />
              {series.points.map((point) => (
                <circle
                  key={point.cellIndex}
                  className={`plot-point ${highlighted === point.cellIndex ? 'highlighted' : ''}`}
                  data-testid="plot-point"
                  data-cell-index={point.cellIndex}
                  data-highlighted={highlighted === point.cellIndex}
                  cx={scales.x(point.x)}
                  cy={scales.y(point.y)}
                  r={highlighted === point.cellIndex ? 7 : 4.5}
                  fill={colour}
                  onMouseEnter={() => onHover(point.cellIndex)}
                  onMouseLeave={() => onHover(null)}
                  onClick={() => onSelect(point.cellIndex)}
                >
                  <title>
                    {`s_T ${point.textGuidance} · s_I ${series.imageGuidance}\n${X_LABEL[data.xAxis]} ${point.x.toFixed(3)}\nimage similarity ${point.y.toFixed(3)}`}
                  </title>
                </circle>
              ))}
            </g>
          );
        })}
      </svg>
      <figcaption className="plot-legend">
        {data.series.map((series) => (
          <span key={series.imageIndex} className="plot-legend-entry">
            <span
              className="plot-swatch"
              style={{ background: SERIES_COLOURS[series.imageIndex % SERIES_COLOURS.length] }}
            />
            s_I {series.imageGuidance}
          </span>
        ))}
        <p className="muted">
          Points along each line: s_T {grid.textScales.join(', ')}. x: {X_MEANING[data.xAxis]} y: {Y_MEANING}
          {grid.clipModel ? ` Measured with ${grid.clipModel}.` : ''}
        </p>
      </figcaption>
    </figure>
  );
}
