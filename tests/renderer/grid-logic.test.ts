import { describe, expect, it } from 'vitest';
import type { GridCellView, GridMetrics, GridView } from '../../src/shared/contract/schemas';
import {
  stepMsFromVariant,
  cellAt,
  DEFAULT_IMAGE_SCALES,
  DEFAULT_TEXT_SCALES,
  expectedGridMs,
  formatDuration,
  GRID_PRESETS,
  gridKeyAction,
  gridStateLine,
  parseScales,
  plotData,
  plotScales,
  polylinePoints,
  stepMsFromGridProgress,
  stepMsFromProgress,
  tickDecimals,
  ticks,
} from '../../src/renderer/src/state/grid-logic';

function makeGrid(
  textScales: number[],
  imageScales: number[],
  metrics: (t: number, i: number) => GridMetrics | null = () => null,
  state: (index: number) => GridCellView['state'] = () => 'done',
): GridView {
  const cells: GridCellView[] = [];
  imageScales.forEach((imageGuidance, imageIndex) =>
    textScales.forEach((textGuidance, textIndex) => {
      const index = imageIndex * textScales.length + textIndex;
      cells.push({
        index,
        textIndex,
        imageIndex,
        textGuidance,
        imageGuidance,
        state: state(index),
        keepable: true,
        keptVariantId: null,
        metrics: metrics(textIndex, imageIndex),
        durationMs: 1000,
      });
    }),
  );
  return {
    gridId: 'grid-1',
    messageId: 'm1',
    state: 'done',
    error: null,
    instruction: 'make it red',
    steps: 10,
    seed: 42,
    scheduler: 'euler-ancestral',
    resolution: '512',
    textScales,
    imageScales,
    captionBefore: null,
    captionAfter: null,
    clipModel: null,
    processedWidth: 512,
    processedHeight: 384,
    cells,
    createdAt: 1,
  };
}

describe('scale lists', () => {
  it('has the paper’s 5 × 5 default and a 3 × 3 preset inside it', () => {
    expect(DEFAULT_TEXT_SCALES).toEqual([3, 5, 7.5, 10, 12.5]);
    expect(DEFAULT_IMAGE_SCALES).toEqual([1, 1.2, 1.5, 1.8, 2.2]);
    const quick = GRID_PRESETS.find((preset) => preset.id === 'quick')!;
    expect(quick.textScales).toHaveLength(3);
    expect(quick.imageScales).toHaveLength(3);
    for (const scale of quick.textScales) expect(DEFAULT_TEXT_SCALES).toContain(scale);
    for (const scale of quick.imageScales) expect(DEFAULT_IMAGE_SCALES).toContain(scale);
  });

  it('parses commas or spaces, sorts and drops repeats', () => {
    expect(parseScales('7.5, 3 ,5')).toEqual({ scales: [3, 5, 7.5] });
    expect(parseScales('1.5 1 1.5')).toEqual({ scales: [1, 1.5] });
  });

  it('names what is wrong', () => {
    expect(parseScales('  ')).toEqual({ error: 'enter at least one scale' });
    expect(parseScales('3, x')).toEqual({ error: '“x” is not a number' });
    expect(parseScales('3, 51')).toEqual({ error: '51 is outside 0 … 50' });
    expect(parseScales('-1')).toEqual({ error: '-1 is outside 0 … 50' });
    expect(parseScales('1 2 3 4 5 6 7 8 9')).toEqual({ error: 'at most 8 scales per axis' });
  });
});

describe('expected time', () => {
  it('measures a step from an edit’s progress (steps count from 0) and from a grid’s', () => {
    expect(stepMsFromProgress({ step: 3, elapsedMs: 2000 })).toBe(500);
    expect(stepMsFromProgress({ step: 0, elapsedMs: 0 })).toBeNull();
    expect(stepMsFromGridProgress({ stepsDone: 40, elapsedMs: 10_000 })).toBe(250);
    expect(stepMsFromGridProgress({ stepsDone: 0, elapsedMs: 300 })).toBeNull();
  });

  it('is step time × cells × steps, and unknown before anything was measured', () => {
    expect(expectedGridMs(500, 25, 20)).toBe(250_000);
    expect(expectedGridMs(null, 25, 20)).toBeNull();
    expect(formatDuration(250_000)).toBe('4 min 10 s');
    expect(formatDuration(45_400)).toBe('45 s');
    expect(formatDuration(240)).toBe('under 1 s');
    expect(formatDuration(120_000)).toBe('2 min');
    expect(formatDuration(3_900_000)).toBe('1 h 5 min');
  });
});

describe('cells and keys', () => {
  const grid = makeGrid([3, 5, 7.5], [1, 1.5]);

  it('finds a cell by column and row, index = row × columns + column', () => {
    const cell = cellAt(grid, 2, 1)!;
    expect(cell.index).toBe(5);
    expect([cell.textGuidance, cell.imageGuidance]).toEqual([7.5, 1.5]);
    expect(cellAt(grid, 3, 0)).toBeUndefined();
  });

  it('moves with the arrows and stops at the edges', () => {
    expect(gridKeyAction('ArrowRight', 0, 3, 2)).toEqual({ kind: 'select', index: 1 });
    expect(gridKeyAction('ArrowDown', 1, 3, 2)).toEqual({ kind: 'select', index: 4 });
    expect(gridKeyAction('ArrowDown', 4, 3, 2)).toEqual({ kind: 'select', index: 4 });
    expect(gridKeyAction('ArrowRight', 2, 3, 2)).toEqual({ kind: 'select', index: 2 });
    expect(gridKeyAction('ArrowLeft', 3, 3, 2)).toEqual({ kind: 'select', index: 3 });
    expect(gridKeyAction('ArrowUp', 5, 3, 2)).toEqual({ kind: 'select', index: 2 });
  });

  it('selects the first cell on the first arrow; Enter keeps, Space compares, Escape closes', () => {
    expect(gridKeyAction('ArrowDown', null, 3, 2)).toEqual({ kind: 'select', index: 0 });
    expect(gridKeyAction('Enter', null, 3, 2)).toBeNull();
    expect(gridKeyAction('Enter', 4, 3, 2)).toEqual({ kind: 'keep', index: 4 });
    expect(gridKeyAction(' ', 4, 3, 2)).toEqual({ kind: 'compare', index: 4 });
    expect(gridKeyAction('Escape', 4, 3, 2)).toEqual({ kind: 'close' });
    expect(gridKeyAction('x', 4, 3, 2)).toBeNull();
  });

  it('says how far a grid got', () => {
    const running = {
      ...makeGrid([3, 5], [1, 1.5], undefined, (i) => (i < 1 ? 'done' : 'pending')),
      state: 'running' as const,
    };
    expect(gridStateLine(running, { stepsDone: 13, totalSteps: 40, elapsedMs: 6500 })).toBe(
      'Running: 1 of 4 cells · step 13 / 40 · 7 s',
    );
    expect(gridStateLine({ ...running, state: 'cancelled' }, undefined)).toBe(
      'Cancelled: 1 of 4 cells finished',
    );
    expect(gridStateLine(grid, undefined)).toBe('Done: 6 cells');
  });
});

describe('the trade-off plot', () => {
  // Directional similarity grows with s_T and image similarity falls, faster for a smaller s_I.
  const metrics = (t: number, i: number): GridMetrics => ({
    imageSimilarity: 0.9 - 0.1 * t + 0.05 * i,
    directionalSimilarity: 0.1 + 0.05 * t - 0.02 * i,
    clipT: 0.2 + 0.01 * t,
  });

  it('has no plot without metrics', () => {
    expect(plotData(makeGrid([3, 5], [1, 1.5]))).toBeNull();
  });

  it('draws a line per s_I with its points along s_T, x = directional similarity', () => {
    const grid = makeGrid([3, 5, 7.5], [1, 1.5], metrics);
    const data = plotData(grid)!;
    expect(data.xAxis).toBe('directional');
    expect(data.series.map((series) => series.imageGuidance)).toEqual([1, 1.5]);
    const second = data.series[1]!;
    expect(second.points.map((point) => point.cellIndex)).toEqual([3, 4, 5]);
    expect(second.points.map((point) => point.textGuidance)).toEqual([3, 5, 7.5]);
    expect(second.points[2]!.x).toBeCloseTo(0.1 + 0.1 - 0.02, 12);
    expect(second.points[2]!.y).toBeCloseTo(0.9 - 0.2 + 0.05, 12);
    // x from 0.08 to 0.2 padded by 8 % of its span.
    expect(data.xRange[0]).toBeCloseTo(0.08 - 0.12 * 0.08, 12);
    expect(data.xRange[1]).toBeCloseTo(0.2 + 0.12 * 0.08, 12);
  });

  it('uses CLIP-T on x when there is no directional similarity (no before caption)', () => {
    const grid = makeGrid([3, 5], [1], (t, i) => ({ ...metrics(t, i), directionalSimilarity: null }));
    const data = plotData(grid)!;
    expect(data.xAxis).toBe('clipT');
    expect(data.series[0]!.points.map((point) => point.x)).toEqual([0.2, 0.2 + 0.01]);
  });

  it('leaves out cells without numbers (pending) and keeps the rest', () => {
    const grid = makeGrid([3, 5], [1, 1.5], (t, i) => (t === 1 && i === 1 ? null : metrics(t, i)));
    const data = plotData(grid)!;
    expect(data.series[1]!.points.map((point) => point.cellIndex)).toEqual([2]);
  });

  it('maps values into the frame, y growing upwards', () => {
    const frame = { width: 200, height: 100, margin: { left: 20, right: 10, top: 10, bottom: 20 } };
    const scales = plotScales({ xRange: [0, 1], yRange: [0.5, 1] }, frame);
    expect(scales.x(0)).toBe(20);
    expect(scales.x(1)).toBe(190);
    expect(scales.y(0.5)).toBe(80);
    expect(scales.y(1)).toBe(10);
    expect(scales.y(0.75)).toBe(45);
    const points = [
      { cellIndex: 0, textGuidance: 3, x: 0.5, y: 0.75 },
      { cellIndex: 1, textGuidance: 5, x: 1 / 3, y: 1 },
    ];
    expect(polylinePoints(points, scales)).toBe('105,45 76.67,10');
    expect(ticks([0, 1], 5)).toEqual([0, 0.25, 0.5, 0.75, 1]);
  });

  it('gives ticks enough decimals to tell them apart', () => {
    expect(tickDecimals([0, 1], 4)).toBe(2);
    // 0.91 … 0.93 over 4 ticks: a step of 0.0067 needs 3 decimals (0.910, 0.917, 0.923, 0.930).
    expect(tickDecimals([0.91, 0.93], 4)).toBe(3);
    const labels = ticks([0.91, 0.93], 4).map((value) => value.toFixed(tickDecimals([0.91, 0.93], 4)));
    expect(new Set(labels).size).toBe(4);
    expect(tickDecimals([0.5, 0.5], 4)).toBe(2);
  });
});

describe('expected time from a finished variant', () => {
  it('divides the edit time by its steps, and knows nothing without a time', () => {
    expect(stepMsFromVariant({ durationMs: 4000, settings: { steps: 20 } })).toBe(200);
    expect(stepMsFromVariant({ settings: { steps: 20 } })).toBeNull();
    expect(stepMsFromVariant({ durationMs: 0, settings: { steps: 20 } })).toBeNull();
  });
});
