/**
 * How a guidance grid's UNet work is laid out. Every cell runs the guidance rows of one edit
 * (guidance.ts: 3, or 2 when s_I = 1). At step 0 all cells hold the same latents (one seed), so
 * the rows of step 0 are run once for the whole grid: 3 when any cell needs the unconditional row,
 * else 2. Cells then run in groups whose rows together fit one UNet call of `batchRows` rows, so a
 * group's cells step together and are delivered together, and a cancel loses at most one group.
 */
import { guidanceRows } from './guidance';

/** Cells (indices into `rowsPerCell`) packed in order into groups of at most `batchRows` rows. */
export function packCellGroups(rowsPerCell: readonly number[], batchRows: number): number[][] {
  const groups: number[][] = [];
  let current: number[] = [];
  let currentRows = 0;
  rowsPerCell.forEach((rows, cell) => {
    // A cell never splits across groups; one wider than a batch forms a group alone.
    if (current.length > 0 && currentRows + rows > batchRows) {
      groups.push(current);
      current = [];
      currentRows = 0;
    }
    current.push(cell);
    currentRows += rows;
  });
  if (current.length > 0) groups.push(current);
  return groups;
}

/** The rows of step 0 that every cell reads: 3 when any cell uses image guidance ≠ 1, else 2. */
export function sharedStepZeroRows(imageScales: readonly number[]): 2 | 3 {
  return imageScales.some((scale) => guidanceRows(scale) === 3) ? 3 : 2;
}

export interface GridRowCount {
  /** UNet rows the grid runs: every cell's rows at steps 1…, plus the shared rows of step 0. */
  unetRows: number;
  /** What running each cell alone would run. */
  unetRowsAlone: number;
}

/** UNet rows of a grid whose cells use these image scales (one entry per cell) over `steps` steps. */
export function gridRowCount(cellImageScales: readonly number[], steps: number): GridRowCount {
  const perStep = cellImageScales.reduce((sum, scale) => sum + guidanceRows(scale), 0);
  return {
    unetRows: perStep * (steps - 1) + sharedStepZeroRows(cellImageScales),
    unetRowsAlone: perStep * steps,
  };
}
