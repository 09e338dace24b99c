/**
 * A guidance grid with the paper's CLIP metrics per cell: what the engine host offers on top of
 * EditEngine.editGrid (the metrics are computed in the engine worker, beside the engine).
 */
import type { GridMetrics } from '../../shared/contract/schemas';
import type { GridCell, GridResult, GridRunOptions, GridSettings, RgbImage } from '../../shared/engine-types';

/** What a grid's CLIP metrics need: the CLIP export's folder and the captions (either may be null). */
export interface GridMetricsRequest {
  clipDir: string;
  captionBefore: string | null;
  captionAfter: string | null;
}

/** A grid cell with its CLIP metrics (null without a CLIP model). */
export interface MeasuredGridCell extends GridCell {
  metrics: GridMetrics | null;
}

export interface MeasuredGridRunOptions extends Omit<GridRunOptions, 'onCell'> {
  /** Null or absent: no metrics. */
  metrics?: GridMetricsRequest | null;
  onCell?: (cell: MeasuredGridCell) => void;
}

export interface MeasuredGridResult extends GridResult {
  cells: MeasuredGridCell[];
  /** Why metrics were asked for and not computed (the CLIP model did not load), else null. */
  metricsError: string | null;
}

/** An engine whose grids can carry metrics (the engine host). */
export interface MeasuringGridEngine {
  editGrid(
    source: RgbImage,
    settings: GridSettings,
    options?: MeasuredGridRunOptions,
  ): Promise<MeasuredGridResult>;
  readonly measuresGrids: true;
}
