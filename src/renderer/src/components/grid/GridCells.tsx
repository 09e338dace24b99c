/** The cells laid out with the scales on the axes: s_T along the columns, s_I down the rows. */
import type { CSSProperties } from 'react';
import type { GridView } from '../../../../shared/contract/schemas';
import { cellAt } from '../../state/grid-logic';
import type { GridProgress } from '../../state/store';
import { GridCellTile } from './GridCellTile';

export function GridCells({
  grid,
  progress,
  selected,
  highlighted,
  onHover,
  onSelect,
  onKeep,
}: {
  grid: GridView;
  progress: GridProgress | undefined;
  selected: number | null;
  highlighted: number | null;
  onHover: (index: number | null) => void;
  onSelect: (index: number) => void;
  onKeep: (index: number) => void;
}) {
  return (
    <div
      className="grid-cells"
      data-testid="grid-cells"
      style={
        {
          gridTemplateColumns: `auto repeat(${grid.textScales.length}, minmax(0, 168px))`,
          '--cell-aspect': `${grid.processedWidth} / ${grid.processedHeight}`,
        } as CSSProperties
      }
    >
      <div className="grid-axis-corner" title="rows: image guidance s_I · columns: text guidance s_T">
        s_I ↓ s_T →
      </div>
      {grid.textScales.map((scale) => (
        <div key={`t${scale}`} className="grid-axis grid-axis-text" data-testid="grid-axis-text">
          {scale}
        </div>
      ))}
      {grid.imageScales.map((imageScale, imageIndex) => [
        <div key={`i${imageScale}`} className="grid-axis grid-axis-image" data-testid="grid-axis-image">
          {imageScale}
        </div>,
        ...grid.textScales.map((_, textIndex) => {
          const cell = cellAt(grid, textIndex, imageIndex);
          if (!cell) return <div key={`c${textIndex}-${imageIndex}`} className="grid-cell missing" />;
          return (
            <GridCellTile
              key={cell.index}
              gridId={grid.gridId}
              gridRunning={grid.state === 'running'}
              preview={progress?.cellIndex === cell.index ? progress.preview : null}
              cell={cell}
              selected={selected === cell.index}
              highlighted={highlighted === cell.index}
              onHover={onHover}
              onSelect={onSelect}
              onKeep={onKeep}
            />
          );
        }),
      ])}
    </div>
  );
}
