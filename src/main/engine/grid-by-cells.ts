import { performance } from 'node:perf_hooks';
import {
  cellSettings,
  gridCellPositions,
  type EditEngine,
  type GridCell,
  type GridResult,
  type GridRunOptions,
  type GridSettings,
  type RgbImage,
} from '../../shared/engine-types';
import { LIMITS } from '../../shared/contract/limits';
import { guidanceRows } from './guidance';
import { InvalidSettingsError, throwIfAborted } from './errors';

/** Refuses grids with no cells, too many scales, or scales outside the edit limits. */
export function validateGridScales(settings: Pick<GridSettings, 'textScales' | 'imageScales'>): void {
  const problems: string[] = [];
  for (const [axis, scales] of [
    ['text', settings.textScales],
    ['image', settings.imageScales],
  ] as const) {
    if (!Array.isArray(scales) || scales.length === 0) problems.push(`the ${axis} scales are empty`);
    else if (scales.length > LIMITS.gridScalesPerAxis) {
      problems.push(`${scales.length} ${axis} scales (at most ${LIMITS.gridScalesPerAxis})`);
    } else if (scales.some((s) => !Number.isFinite(s) || s < 0 || s > LIMITS.maxGuidance)) {
      problems.push(`${axis} scales must be from 0 to ${LIMITS.maxGuidance}`);
    }
  }
  if (problems.length > 0) throw new InvalidSettingsError(`Invalid guidance grid: ${problems.join('; ')}`);
}

/**
 * A grid run as independent edits, one cell after another: the reference every faster grid must
 * match pixel for pixel, and what engines without their own editGrid do.
 */
export async function runGridByCells(
  engine: Pick<EditEngine, 'edit'>,
  source: RgbImage,
  settings: GridSettings,
  options: GridRunOptions = {},
): Promise<GridResult> {
  validateGridScales(settings);
  const started = performance.now();
  const positions = gridCellPositions(settings);
  const cells: GridCell[] = [];
  let unetRows = 0;
  for (const position of positions) {
    throwIfAborted(options.signal);
    const result = await engine.edit(source, cellSettings(settings, position), {
      signal: options.signal,
      onProgress: (progress) =>
        options.onProgress?.({
          stepsDone: cells.length * settings.steps + progress.step + 1,
          totalSteps: positions.length * settings.steps,
          cellsDone: cells.length,
          totalCells: positions.length,
          elapsedMs: performance.now() - started,
          cell: position,
          preview: progress.preview,
        }),
    });
    const cell: GridCell = { ...position, result };
    cells.push(cell);
    unetRows += guidanceRows(position.imageGuidance) * settings.steps;
    options.onCell?.(cell);
  }
  return { cells, unetRows, unetRowsAlone: unetRows, totalMs: performance.now() - started };
}
