/**
 * Types shared by the engine, the document, the CLI and the UI. Plain data only:
 * no imports of electron, the DOM or Node built-ins.
 */

export const SCHEDULER_NAMES = ['euler-ancestral', 'euler', 'ddim', 'dpmpp-2m'] as const;
export type SchedulerName = (typeof SCHEDULER_NAMES)[number];

export const PROVIDER_NAMES = ['auto', 'cpu', 'cuda', 'dml', 'coreml', 'webgpu'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

/** '512' scales the longer side to 512 (sides multiples of 64); 'native' keeps the size, rounded down to 64. */
export const RESOLUTION_MODES = ['512', 'native'] as const;
export type ResolutionMode = (typeof RESOLUTION_MODES)[number];

/** Everything needed to run (and re-run) one instruction edit, apart from the source pixels. */
export interface EditSettings {
  instruction: string;
  steps: number;
  textGuidance: number;
  imageGuidance: number;
  seed: number;
  scheduler: SchedulerName;
  resolution: ResolutionMode;
  /** Use Karras sigmas where the scheduler supports them (DPM-Solver++ 2M, Euler). */
  karrasSigmas?: boolean;
}

export const DEFAULT_EDIT_SETTINGS: Omit<EditSettings, 'instruction' | 'seed'> = {
  steps: 20,
  textGuidance: 7.5,
  imageGuidance: 1.5,
  scheduler: 'euler-ancestral',
  resolution: '512',
};

/** An 8-bit RGB image, pixels row-major, 3 bytes per pixel. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface EditProgress {
  /** 0-based index of the step that just finished. */
  step: number;
  totalSteps: number;
  /** Milliseconds this step took. */
  stepMs: number;
  elapsedMs: number;
  /** A cheap RGB preview of the current estimate at latent resolution (no VAE call). */
  preview?: RgbImage;
}

export type ModelFlavor = 'diffusers' | 'optimum-legacy' | 'optimum';

export interface TensorInfo {
  name: string;
  type: string;
  shape: (number | string)[];
}

export interface ModelInfo {
  dir: string;
  flavor: ModelFlavor;
  /** 'float32' or 'float16': the UNet's floating point type. */
  precision: 'float32' | 'float16';
  provider: string;
  providerNotice?: string;
  unetInChannels: number;
  components: Record<
    'textEncoder' | 'unet' | 'vaeEncoder' | 'vaeDecoder',
    { inputs: TensorInfo[]; outputs: TensorInfo[] }
  >;
}

export interface EditTimings {
  tokenizeMs: number;
  textEncoderMs: number;
  vaeEncoderMs: number;
  unetStepMs: number[];
  vaeDecoderMs: number;
  totalMs: number;
  /** How many UNet batch rows each step ran (3, or 2 when image guidance is 1). */
  unetRows: number;
  textEncoderRuns: number;
  vaeEncoderRuns: number;
}

/** What one edit produces. Both images are at the processing size the model ran at. */
export interface EditResult {
  /** The edited image at processing size. */
  image: RgbImage;
  /** The source exactly as the model saw it (resized to processing size). */
  processedSource: RgbImage;
  settings: EditSettings;
  timings: EditTimings;
}

export interface EditRunOptions {
  signal?: AbortSignal;
  onProgress?: (progress: EditProgress) => void;
}

/**
 * The engine as the document and the UI see it: a source image and settings in, an edited image out.
 * Any implementation (the ONNX pipeline, a remote engine, a test double) honours this.
 */
export interface EditEngine {
  edit(source: RgbImage, settings: EditSettings, options?: EditRunOptions): Promise<EditResult>;
  /** A guidance grid (see GridSettings); engines without one are driven cell by cell by runGridByCells. */
  editGrid?(source: RgbImage, settings: GridSettings, options?: GridRunOptions): Promise<GridResult>;
}

/**
 * A text × image guidance grid: one edit per (textScales[t], imageScales[i]) pair, all with the same
 * seed and steps, so cells differ only by guidance. Cell index = imageIndex × textScales.length +
 * textIndex (rows are image scales, columns text scales).
 */
export interface GridSettings extends Omit<EditSettings, 'textGuidance' | 'imageGuidance'> {
  textScales: number[];
  imageScales: number[];
}

export interface GridCellPosition {
  index: number;
  textIndex: number;
  imageIndex: number;
  textGuidance: number;
  imageGuidance: number;
}

export interface GridCell extends GridCellPosition {
  /** The cell's edit, exactly what edit() returns for these settings (settings hold the cell's scales). */
  result: EditResult;
}

export interface GridProgress {
  /** Steps done over all cells, and all steps the grid will run (cells × steps). */
  stepsDone: number;
  totalSteps: number;
  cellsDone: number;
  totalCells: number;
  elapsedMs: number;
  /** The cell whose preview this is, with a cheap latent preview; absent when steps are batched. */
  cell?: GridCellPosition;
  preview?: RgbImage;
}

export interface GridRunOptions {
  signal?: AbortSignal;
  onProgress?: (progress: GridProgress) => void;
  /** Called as each cell finishes; on cancel, the cells already delivered are the ones kept. */
  onCell?: (cell: GridCell) => void;
  /** Guidance rows per UNet call across cells; default what the memory plan allows. */
  batchRows?: number;
}

export interface GridResult {
  cells: GridCell[];
  /** UNet rows the grid ran in all, and what running every cell alone would have run. */
  unetRows: number;
  unetRowsAlone: number;
  totalMs: number;
}

/** The cells of a grid in index order (rows are image scales, columns text scales). */
export function gridCellPositions(
  settings: Pick<GridSettings, 'textScales' | 'imageScales'>,
): GridCellPosition[] {
  const cells: GridCellPosition[] = [];
  settings.imageScales.forEach((imageGuidance, imageIndex) => {
    settings.textScales.forEach((textGuidance, textIndex) => {
      cells.push({
        index: imageIndex * settings.textScales.length + textIndex,
        textIndex,
        imageIndex,
        textGuidance,
        imageGuidance,
      });
    });
  });
  return cells;
}

/** The settings of one cell of a grid. */
export function cellSettings(settings: GridSettings, cell: GridCellPosition): EditSettings {
  const { textScales: _t, imageScales: _i, ...rest } = settings;
  return { ...rest, textGuidance: cell.textGuidance, imageGuidance: cell.imageGuidance };
}

/** Thrown (or reported) when a run was cancelled through its AbortSignal. */
export const CANCELLED_ERROR_NAME = 'EditCancelledError';
