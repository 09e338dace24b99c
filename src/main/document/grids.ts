/**
 * Guidance grids of an open document: the last grid run on each edit layer, beside the records
 * (a grid run is no undo step and its cells are not layers), saved with the project.
 *
 * A grid re-runs the layer's edit on the source a re-run would use (the composite below the layer
 * when the grid's turn comes in the session's queue), with the layer's settings and every
 * (text, image) guidance pair. Finished cells keep their full result while the document is open,
 * so Keep turns one into a variant exactly as a finished edit becomes one, without running the
 * engine again. Saved grids keep each cell as a thumbnail, its metrics and settings; after a
 * reopen their cells can be looked at, not kept.
 */
import { randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import {
  activeVariant,
  settingsOf,
  sourceParts,
  type EditRequest,
  type PixelRef,
} from '../../shared/document';
import { GRID_THUMBNAIL_SIDE, type GridCellRecord, type GridRecord } from '../../shared/document/schema';
import type { GridMetrics } from '../../shared/contract/schemas';
import {
  CANCELLED_ERROR_NAME,
  cellSettings,
  gridCellPositions,
  type EditEngine,
  type EditResult,
  type GridCell,
  type GridCellPosition,
  type GridSettings,
  type RgbImage,
} from '../../shared/engine-types';
import { runGridByCells, validateGridScales } from '../engine/grid-by-cells';
import { processingSize, resizeRgb } from '../engine/image-io';
import type {
  GridMetricsRequest,
  MeasuredGridRunOptions,
  MeasuringGridEngine,
} from '../engine/measured-grid';
import { DocumentStateError } from './errors';
import type { DocumentSession } from './session';

export type GridState = 'running' | 'done' | 'cancelled' | 'failed';

export interface GridCellState extends GridCellPosition {
  thumbnail: PixelRef;
  metrics: GridMetrics | null;
  durationMs: number | null;
  keptVariantId: string | null;
  /** The cell's edit at processing size; null for cells of a grid loaded from a project. */
  result: EditResult | null;
}

export interface Grid {
  id: string;
  layerId: string;
  state: GridState;
  error: string | null;
  /** The settings shared by all cells (a request without the two scales). */
  request: Omit<EditRequest, 'textGuidance' | 'imageGuidance'>;
  textScales: number[];
  imageScales: number[];
  captionBefore: string | null;
  captionAfter: string | null;
  /** The name of the CLIP model's folder the metrics come from, or null. */
  clipModel: string | null;
  processedWidth: number;
  processedHeight: number;
  createdAt: number;
  /** Finished cells by index. */
  cells: Map<number, GridCellState>;
  /** The cell the engine is on (null between cells or when batched). */
  runningCell: number | null;
  /** What Keep needs: the source the cells edited and what it was made of. Null after a reopen. */
  live: { source: RgbImage; sourceParts: string[] } | null;
  controller: AbortController | null;
  /** Whether its turn in the session's queue has come (a grid cancelled before then ends at once). */
  started: boolean;
  /** Resolves when the run has ended (at once for grids loaded from a project). */
  done: Promise<void>;
}

export interface GridStart {
  textScales: number[];
  imageScales: number[];
  steps?: number;
  seed?: number;
  captionBefore?: string | null;
  captionAfter?: string | null;
  /** The CLIP model to measure cells with; null or absent: no metrics. */
  clipDir?: string | null;
  batchRows?: number;
}

/** The undo label of keeping a cell, e.g. "Keep grid cell s_T 7.5 · s_I 1.5". */
export function keepLabel(cell: Pick<GridCellPosition, 'textGuidance' | 'imageGuidance'>): string {
  return `Keep grid cell s_T ${cell.textGuidance} · s_I ${cell.imageGuidance}`;
}

function isMeasuring(engine: EditEngine): engine is EditEngine & MeasuringGridEngine {
  return (engine as Partial<MeasuringGridEngine>).measuresGrids === true;
}

export class GridBook {
  /** The last grid of each layer, by layer id. */
  private readonly byLayer = new Map<string, Grid>();

  constructor(
    private readonly session: DocumentSession,
    saved: readonly GridRecord[],
  ) {
    for (const record of saved) this.byLayer.set(record.layerId, fromRecord(record));
  }

  /** The layer's last grid (running or ended), or null. */
  of(layerId: string): Grid | null {
    return this.byLayer.get(layerId) ?? null;
  }

  byId(gridId: string): Grid | null {
    for (const grid of this.byLayer.values()) if (grid.id === gridId) return grid;
    return null;
  }

  /**
   * Starts a grid on an edit layer that has a result. Refused while the layer's previous grid is
   * still running (cancel it first); an ended one is replaced.
   */
  start(layerId: string, input: GridStart): Grid {
    const session = this.session;
    const layer = session.layer(layerId);
    const engine = session.currentEngine;
    if (!engine) throw new DocumentStateError('No model is loaded: choose or download one first');
    const variant = activeVariant(layer);
    if (!variant)
      throw new DocumentStateError(`“${layer.name}” has no result yet: run the edit before exploring it`);
    const previous = this.byLayer.get(layerId);
    if (previous?.state === 'running')
      throw new DocumentStateError(
        `A guidance grid is already running on “${layer.name}”: cancel it or wait for it to end`,
      );
    validateGridScales(input);
    const base = settingsOf(variant.request);
    const { textGuidance: _t, imageGuidance: _i, ...shared } = base;
    const request: Grid['request'] = {
      ...shared,
      ...(input.steps !== undefined ? { steps: input.steps } : {}),
      ...(input.seed !== undefined ? { seed: input.seed } : {}),
      model: session.currentModel(),
      placement: variant.request.placement,
    };
    const size = processingSize(session.doc.width, session.doc.height, request.resolution);
    let finish: () => void = () => undefined;
    const grid: Grid = {
      id: `grid-${randomUUID().slice(0, 13)}`,
      layerId,
      state: 'running',
      error: null,
      request,
      textScales: [...input.textScales],
      imageScales: [...input.imageScales],
      captionBefore: nonEmpty(input.captionBefore),
      captionAfter: nonEmpty(input.captionAfter),
      clipModel: input.clipDir && isMeasuring(engine) ? basename(input.clipDir) : null,
      processedWidth: size.width,
      processedHeight: size.height,
      createdAt: Date.now(),
      cells: new Map(),
      runningCell: null,
      live: null,
      controller: new AbortController(),
      started: false,
      done: new Promise<void>((resolve) => (finish = resolve)),
    };
    this.byLayer.set(layerId, grid);
    this.emit(grid);
    void session.schedule(() => this.run(grid, input)).finally(finish);
    return grid;
  }

  cancel(gridId: string): boolean {
    const grid = this.byId(gridId);
    if (!grid || grid.state !== 'running' || !grid.controller) return false;
    grid.controller.abort();
    if (!grid.started) {
      grid.state = 'cancelled';
      grid.controller = null;
      this.emit(grid);
    }
    return true;
  }

  cancelAll(): void {
    for (const grid of this.byLayer.values()) if (grid.state === 'running') grid.controller?.abort();
  }

  /** Resolves when every running grid has ended. */
  async idle(): Promise<void> {
    await Promise.all([...this.byLayer.values()].map((grid) => grid.done));
  }

  /** Whether Keep can add the cell now (its full result is held and its layer is there). */
  keepable(grid: Grid, cell: GridCellState): boolean {
    return cell.result !== null && grid.live !== null && this.session.doc.layers[grid.layerId] !== undefined;
  }

  /** The variant a cell became, while it is still one of its layer's variants (undo removes it). */
  keptVariant(grid: Grid, cell: GridCellState): string | null {
    const layer = this.session.doc.layers[grid.layerId];
    if (!layer || cell.keptVariantId === null) return null;
    return layer.variants.some((v) => v.id === cell.keptVariantId) ? cell.keptVariantId : null;
  }

  /** A finished cell's picture: its result at processing size, or its thumbnail after a reopen. */
  async cellImage(gridId: string, index: number): Promise<RgbImage> {
    const { cell } = this.finishedCell(gridId, index);
    return cell.result ? cell.result.image : this.session.store.getRgb(cell.thumbnail);
  }

  /**
   * Adds a finished cell as a new (active) variant of its layer, placed at full size as every
   * edit result is; one undo step. The engine does not run.
   */
  async keep(gridId: string, index: number): Promise<string> {
    const { grid, cell } = this.finishedCell(gridId, index);
    const layer = this.session.doc.layers[grid.layerId];
    if (!layer) throw new DocumentStateError('The layer of that grid was deleted');
    if (!cell.result || !grid.live) {
      throw new DocumentStateError(
        'This grid was reopened from a saved project and holds only thumbnails of its cells: run the grid again to keep one',
      );
    }
    const kept = this.keptVariant(grid, cell);
    if (kept !== null) throw new DocumentStateError('That cell is already a variant of its edit');
    const settings = cellSettings(this.gridSettings(grid), cell);
    const request: EditRequest = {
      ...settingsOf(settings),
      model: grid.request.model,
      placement: grid.request.placement,
    };
    const variant = await this.session.makeVariant(
      grid.live.source,
      cell.result,
      request,
      [...grid.live.sourceParts],
      cell.durationMs ?? 0,
    );
    this.session.apply(
      { type: 'add-variant', layerId: grid.layerId, variant, activate: true },
      keepLabel(cell),
    );
    cell.keptVariantId = variant.id;
    this.emit(grid);
    return variant.id;
  }

  /** The grids as the project saves them (a running grid as far as it got, marked cancelled). */
  records(): GridRecord[] {
    const out: GridRecord[] = [];
    for (const grid of this.byLayer.values()) {
      if (grid.cells.size === 0 && grid.state === 'running') continue;
      const cells: GridCellRecord[] = [...grid.cells.values()]
        .sort((a, b) => a.index - b.index)
        .map((cell) => ({
          index: cell.index,
          textGuidance: cell.textGuidance,
          imageGuidance: cell.imageGuidance,
          thumbnail: cell.thumbnail,
          metrics: cell.metrics ? { ...cell.metrics } : null,
          durationMs: cell.durationMs,
          keptVariantId: cell.keptVariantId,
        }));
      out.push({
        id: grid.id,
        layerId: grid.layerId,
        state: grid.state === 'running' ? 'cancelled' : grid.state,
        error: grid.error,
        request: { ...grid.request, model: { ...grid.request.model } },
        textScales: [...grid.textScales],
        imageScales: [...grid.imageScales],
        captionBefore: grid.captionBefore,
        captionAfter: grid.captionAfter,
        clipModel: grid.clipModel,
        processedWidth: grid.processedWidth,
        processedHeight: grid.processedHeight,
        createdAt: grid.createdAt,
        cells,
      });
    }
    return out;
  }

  gridSettings(grid: Grid): GridSettings {
    const { model: _m, placement: _p, ...settings } = grid.request;
    return { ...settings, textScales: [...grid.textScales], imageScales: [...grid.imageScales] };
  }

  private finishedCell(gridId: string, index: number): { grid: Grid; cell: GridCellState } {
    const grid = this.byId(gridId);
    if (!grid)
      throw new GridNotFoundError(`No guidance grid ${gridId}: it was replaced or its layer deleted`);
    const cell = grid.cells.get(index);
    if (!cell) {
      const count = grid.textScales.length * grid.imageScales.length;
      throw index >= count
        ? new GridNotFoundError(`The grid has cells 0 to ${count - 1}, not ${index}`)
        : new DocumentStateError(`Cell ${index} of the grid has not finished`);
    }
    return { grid, cell };
  }

  private async run(grid: Grid, input: GridStart): Promise<void> {
    const session = this.session;
    if (grid.state !== 'running' || !grid.controller) return; // cancelled while queued
    grid.started = true;
    const signal = grid.controller.signal;
    // Cells are stored in the order they arrive; each waits for its thumbnail.
    let stored: Promise<void> = Promise.resolve();
    try {
      if (signal.aborted) throw cancelled();
      const engine = session.currentEngine;
      if (!engine) throw new DocumentStateError('No model is loaded: choose or download one first');
      if (!session.doc.layers[grid.layerId]) throw new DocumentStateError('The layer was deleted');
      const parts = sourceParts(session.doc, grid.layerId);
      const source = await session.compositeBelow(grid.layerId);
      grid.live = { source, sourceParts: parts };
      const settings = this.gridSettings(grid);
      const onCell = (cell: GridCell & { metrics?: GridMetrics | null }) => {
        stored = stored.then(() => this.addCell(grid, cell));
      };
      const options: MeasuredGridRunOptions = {
        signal,
        ...(input.batchRows !== undefined ? { batchRows: input.batchRows } : {}),
        onProgress: (progress) => {
          grid.runningCell = progress.cell?.index ?? null;
          session.emitGrid({ gridId: grid.id, layerId: grid.layerId }, progress);
        },
        onCell,
      };
      if (isMeasuring(engine)) {
        const metrics: GridMetricsRequest | null =
          input.clipDir && grid.clipModel
            ? { clipDir: input.clipDir, captionBefore: grid.captionBefore, captionAfter: grid.captionAfter }
            : null;
        const result = await engine.editGrid(source, settings, { ...options, metrics });
        if (result.metricsError) {
          grid.error = result.metricsError;
          grid.clipModel = null;
        }
      } else if (engine.editGrid) {
        await engine.editGrid(source, settings, { ...options, onCell });
      } else {
        await runGridByCells(engine, source, settings, { ...options, onCell });
      }
      await stored;
      grid.state = 'done';
    } catch (error) {
      await stored.catch(() => undefined);
      const wasCancelled = signal.aborted || (error as Error).name === CANCELLED_ERROR_NAME;
      grid.state = wasCancelled ? 'cancelled' : 'failed';
      if (!wasCancelled) grid.error = errorMessage(error);
    } finally {
      grid.runningCell = null;
      grid.controller = null;
      // Part of the project, though no undo step: the document has unsaved changes.
      if (grid.cells.size > 0) session.touch();
      this.emit(grid);
    }
  }

  private async addCell(grid: Grid, cell: GridCell & { metrics?: GridMetrics | null }): Promise<void> {
    const image = cell.result.image;
    const scale = Math.min(1, GRID_THUMBNAIL_SIDE / Math.max(image.width, image.height));
    const thumbnail =
      scale >= 1
        ? image
        : await resizeRgb(
            image,
            Math.max(1, Math.round(image.width * scale)),
            Math.max(1, Math.round(image.height * scale)),
          );
    grid.processedWidth = image.width;
    grid.processedHeight = image.height;
    grid.cells.set(cell.index, {
      index: cell.index,
      textIndex: cell.textIndex,
      imageIndex: cell.imageIndex,
      textGuidance: cell.textGuidance,
      imageGuidance: cell.imageGuidance,
      thumbnail: this.session.store.putRgb(thumbnail),
      metrics: cell.metrics ?? null,
      durationMs: Math.round(cell.result.timings.totalMs),
      keptVariantId: null,
      result: cell.result,
    });
    this.emit(grid);
  }

  private emit(grid: Grid): void {
    this.session.emitGrid({ gridId: grid.id, layerId: grid.layerId });
  }
}

export class GridNotFoundError extends Error {
  override name = 'GridNotFoundError';
}

function fromRecord(record: GridRecord): Grid {
  const positions = new Map(gridCellPositions(record).map((position) => [position.index, position] as const));
  const cells = new Map<number, GridCellState>();
  for (const cell of record.cells) {
    const position = positions.get(cell.index);
    if (!position) continue;
    cells.set(cell.index, {
      ...position,
      thumbnail: cell.thumbnail,
      metrics: cell.metrics,
      durationMs: cell.durationMs,
      keptVariantId: cell.keptVariantId,
      result: null,
    });
  }
  return {
    id: record.id,
    layerId: record.layerId,
    state: record.state,
    error: record.error,
    request: record.request,
    textScales: [...record.textScales],
    imageScales: [...record.imageScales],
    captionBefore: record.captionBefore,
    captionAfter: record.captionAfter,
    clipModel: record.clipModel,
    processedWidth: record.processedWidth,
    processedHeight: record.processedHeight,
    createdAt: record.createdAt,
    cells,
    runningCell: null,
    live: null,
    controller: null,
    started: true,
    done: Promise.resolve(),
  };
}

function nonEmpty(text: string | null | undefined): string | null {
  const trimmed = text?.trim() ?? '';
  return trimmed === '' ? null : trimmed;
}

function cancelled(): Error {
  const error = new Error('The grid was cancelled');
  error.name = CANCELLED_ERROR_NAME;
  return error;
}

function errorMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] || 'The grid failed';
}
