/**
 * The guidance explorer's decisions, kept free of React and the DOM so they can be tested alone:
 * scale lists and presets, the expected time, the keys that move between cells, and the geometry of
 * the paper's trade-off plot (CLIP directional similarity or CLIP-T against CLIP image similarity).
 */
import { LIMITS } from '../../../shared/contract/limits';
import type { GridCellView, GridView } from '../../../shared/contract/schemas';

/** The paper's grid: s_T along the columns, s_I along the rows. */
export const DEFAULT_TEXT_SCALES = [3, 5, 7.5, 10, 12.5];
export const DEFAULT_IMAGE_SCALES = [1.0, 1.2, 1.5, 1.8, 2.2];

/** Cell thumbnails are asked for at this longest side; hovering enlarges them on screen. */
export const CELL_THUMB_SIDE = 256;

/** Why Keep is off for a finished cell whose full result is gone (the grid came from a saved project). */
export const THUMBNAILS_ONLY_REASON =
  'Run the grid again to keep a cell: a reopened project holds only thumbnails';

/** A finished, not yet kept cell that Keep cannot add: only its thumbnail is held (a reopened project). */
export function isThumbnailOnly(cell: GridCellView): boolean {
  return cell.state === 'done' && !cell.keepable && !cell.keptVariantId;
}

export interface GridPreset {
  id: 'quick' | 'full';
  label: string;
  textScales: number[];
  imageScales: number[];
}

export const GRID_PRESETS: GridPreset[] = [
  { id: 'quick', label: 'Quick 3×3', textScales: [3, 7.5, 12.5], imageScales: [1.0, 1.5, 2.2] },
  { id: 'full', label: 'Full 5×5', textScales: DEFAULT_TEXT_SCALES, imageScales: DEFAULT_IMAGE_SCALES },
];

export function formatScales(scales: readonly number[]): string {
  return scales.join(', ');
}

/**
 * A typed list of scales ("3, 5, 7.5" or "3 5 7.5"; a decimal comma is not a decimal point) → sorted,
 * without repeats; or the reason it cannot be used.
 */
export function parseScales(text: string): { scales: number[] } | { error: string } {
  const parts = text
    .split(/[\s,;]+/)
    .map((part) => part.trim())
    .filter(Boolean);
  if (parts.length === 0) return { error: 'enter at least one scale' };
  const values: number[] = [];
  for (const part of parts) {
    const value = Number(part);
    if (!Number.isFinite(value)) return { error: `“${part}” is not a number` };
    if (value < 0 || value > LIMITS.maxGuidance)
      return { error: `${part} is outside 0 … ${LIMITS.maxGuidance}` };
    values.push(value);
  }
  const scales = [...new Set(values)].sort((a, b) => a - b);
  if (scales.length > LIMITS.gridScalesPerAxis)
    return { error: `at most ${LIMITS.gridScalesPerAxis} scales per axis` };
  return { scales };
}

// ---- Expected time -------------------------------------------------------------------------------

/** Milliseconds per denoising step from a progress report (`step` counts from 0), or null. */
export function stepMsFromProgress(progress: { step: number; elapsedMs: number }): number | null {
  const steps = progress.step + 1;
  if (steps < 1 || !(progress.elapsedMs > 0)) return null;
  return progress.elapsedMs / steps;
}

/**
 * Milliseconds per step from a finished variant (its whole edit time over its steps, so a little
 * high: it includes the encoders and the decoder), for when no step was measured in this session.
 */
export function stepMsFromVariant(variant: {
  durationMs?: number;
  settings: { steps: number };
}): number | null {
  if (variant.durationMs === undefined || !(variant.durationMs > 0) || variant.settings.steps < 1)
    return null;
  return variant.durationMs / variant.settings.steps;
}

/** Milliseconds per cell-step from a grid's progress report, or null before its first step. */
export function stepMsFromGridProgress(progress: { stepsDone: number; elapsedMs: number }): number | null {
  if (progress.stepsDone < 1 || !(progress.elapsedMs > 0)) return null;
  return progress.elapsedMs / progress.stepsDone;
}

/** The expected time of a grid: the last measured time of one step × cells × steps; null when unmeasured. */
export function expectedGridMs(stepMs: number | null, cells: number, steps: number): number | null {
  if (stepMs === null || !(stepMs > 0)) return null;
  return stepMs * cells * steps;
}

/** "under 1 s", "45 s", "3 min 20 s", "1 h 5 min". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return 'under 1 s';
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return seconds % 60 ? `${minutes} min ${seconds % 60} s` : `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
}

// ---- Cells and keys ------------------------------------------------------------------------------

/** The cell at a column (text scale) and row (image scale). */
export function cellAt(grid: GridView, textIndex: number, imageIndex: number): GridCellView | undefined {
  return grid.cells.find((cell) => cell.textIndex === textIndex && cell.imageIndex === imageIndex);
}

export type GridKeyAction =
  | { kind: 'select'; index: number }
  | { kind: 'keep'; index: number }
  | { kind: 'compare'; index: number }
  | { kind: 'close' };

/**
 * What a key does in the grid: arrows move the selection (stopping at the edges), Enter keeps the
 * selected cell, Space compares it with the current result, Escape closes. Cell indices are
 * imageIndex × columns + textIndex. Nothing selected yet: an arrow selects the first cell.
 */
export function gridKeyAction(
  key: string,
  selected: number | null,
  columns: number,
  rows: number,
): GridKeyAction | null {
  if (key === 'Escape') return { kind: 'close' };
  if (columns < 1 || rows < 1) return null;
  if (selected === null) {
    return key.startsWith('Arrow') ? { kind: 'select', index: 0 } : null;
  }
  const column = selected % columns;
  const row = Math.floor(selected / columns);
  const at = (c: number, r: number) => ({
    kind: 'select' as const,
    index: Math.min(rows - 1, Math.max(0, r)) * columns + Math.min(columns - 1, Math.max(0, c)),
  });
  switch (key) {
    case 'ArrowLeft':
      return at(column - 1, row);
    case 'ArrowRight':
      return at(column + 1, row);
    case 'ArrowUp':
      return at(column, row - 1);
    case 'ArrowDown':
      return at(column, row + 1);
    case 'Enter':
      return { kind: 'keep', index: selected };
    case ' ':
      return { kind: 'compare', index: selected };
    default:
      return null;
  }
}

/** A short line for the header while a grid runs or after it ended. */
export function gridStateLine(
  grid: GridView,
  progress: { stepsDone: number; totalSteps: number; elapsedMs: number } | undefined,
): string {
  const done = grid.cells.filter((cell) => cell.state === 'done').length;
  const total = grid.cells.length;
  if (grid.state === 'running') {
    const steps = progress ? ` · step ${progress.stepsDone} / ${progress.totalSteps}` : '';
    const elapsed = progress ? ` · ${formatDuration(progress.elapsedMs)}` : '';
    return `Running: ${done} of ${total} cells${steps}${elapsed}`;
  }
  if (grid.state === 'cancelled') return `Cancelled: ${done} of ${total} cells finished`;
  if (grid.state === 'failed')
    return `Failed after ${done} of ${total} cells${grid.error ? `: ${grid.error}` : ''}`;
  return `Done: ${total} cells`;
}

// ---- The trade-off plot --------------------------------------------------------------------------

export type PlotAxis = 'directional' | 'clipT';

export interface PlotPoint {
  cellIndex: number;
  textGuidance: number;
  x: number;
  y: number;
}

export interface PlotSeries {
  imageGuidance: number;
  imageIndex: number;
  /** Along s_T, ascending. */
  points: PlotPoint[];
}

export interface PlotData {
  xAxis: PlotAxis;
  series: PlotSeries[];
  /** The data's range on each axis (a small span when all values are equal). */
  xRange: [number, number];
  yRange: [number, number];
}

/**
 * The plot's data: x is directional similarity when the grid has it (a before caption was given), else
 * CLIP-T; y is image similarity. One series per s_I, points along s_T. Null without metrics.
 */
export function plotData(grid: GridView): PlotData | null {
  const measured = grid.cells.filter((cell) => cell.metrics?.imageSimilarity != null);
  const xAxis: PlotAxis | null = measured.some((cell) => cell.metrics?.directionalSimilarity != null)
    ? 'directional'
    : measured.some((cell) => cell.metrics?.clipT != null)
      ? 'clipT'
      : null;
  if (!xAxis) return null;
  const xOf = (cell: GridCellView) =>
    (xAxis === 'directional' ? cell.metrics?.directionalSimilarity : cell.metrics?.clipT) ?? null;
  const series: PlotSeries[] = [];
  grid.imageScales.forEach((imageGuidance, imageIndex) => {
    const points = grid.cells
      .filter((cell) => cell.imageIndex === imageIndex)
      .flatMap((cell) => {
        const x = xOf(cell);
        const y = cell.metrics?.imageSimilarity ?? null;
        return x === null || y === null
          ? []
          : [{ cellIndex: cell.index, textGuidance: cell.textGuidance, x, y }];
      })
      .sort((a, b) => a.textGuidance - b.textGuidance);
    if (points.length > 0) series.push({ imageGuidance, imageIndex, points });
  });
  if (series.length === 0) return null;
  const all = series.flatMap((entry) => entry.points);
  return {
    xAxis,
    series,
    xRange: paddedRange(all.map((point) => point.x)),
    yRange: paddedRange(all.map((point) => point.y)),
  };
}

function paddedRange(values: number[]): [number, number] {
  const low = Math.min(...values);
  const high = Math.max(...values);
  const pad = high > low ? (high - low) * 0.08 : 0.01;
  return [low - pad, high + pad];
}

export interface PlotFrame {
  width: number;
  height: number;
  /** Room for the axis labels: left, right, top, bottom. */
  margin: { left: number; right: number; top: number; bottom: number };
}

/** Maps data values to SVG coordinates inside the frame (y grows upwards on screen). */
export function plotScales(
  data: Pick<PlotData, 'xRange' | 'yRange'>,
  frame: PlotFrame,
): { x: (value: number) => number; y: (value: number) => number } {
  const { margin } = frame;
  const innerWidth = frame.width - margin.left - margin.right;
  const innerHeight = frame.height - margin.top - margin.bottom;
  const [x0, x1] = data.xRange;
  const [y0, y1] = data.yRange;
  return {
    x: (value) => margin.left + ((value - x0) / (x1 - x0)) * innerWidth,
    y: (value) => margin.top + innerHeight - ((value - y0) / (y1 - y0)) * innerHeight,
  };
}

/** The SVG polyline `points` attribute of one series. */
export function polylinePoints(
  points: readonly PlotPoint[],
  scales: { x: (value: number) => number; y: (value: number) => number },
): string {
  return points.map((point) => `${round2(scales.x(point.x))},${round2(scales.y(point.y))}`).join(' ');
}

/** Evenly spaced tick values over a range (inclusive of both ends). */
export function ticks(range: [number, number], count: number): number[] {
  const [low, high] = range;
  if (count < 2) return [low];
  return Array.from({ length: count }, (_, i) => low + ((high - low) * i) / (count - 1));
}

/** Decimals that tell neighbouring ticks apart (at least 2, as CLIP scores are usually shown). */
export function tickDecimals(range: [number, number], count: number): number {
  const step = (range[1] - range[0]) / Math.max(1, count - 1);
  if (!(step > 0)) return 2;
  return Math.min(6, Math.max(2, Math.ceil(-Math.log10(step))));
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
