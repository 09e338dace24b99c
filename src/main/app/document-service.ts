/**
 * What the handlers need from the document model (records, undo/redo, variants, staleness, the job
 * runner, project files, PNG/PSD export). The implementation adapts the document package
 * (src/shared/document, src/main/document); the handlers only see this interface, which is also
 * what contract tests fake.
 */
import type { EditSettings } from '../../shared/engine-types';
import type {
  DocumentView,
  ExportFormat,
  GridView,
  JobProgress,
  JobStatus,
  PngImage,
  RecoveryEntry,
} from '../../shared/contract/schemas';

export interface LayerPatch {
  visible?: boolean;
  opacity?: number;
  name?: string;
}

export interface JobUpdate {
  jobId: string;
  messageId: string;
  status: JobStatus;
  error: string | null;
}

export interface TrainingPairsExport {
  pairs: number;
  /** Edit layers without a result, which were left out. */
  skipped: string[];
}

export interface GridProgressEvent {
  gridId: string;
  messageId: string;
  stepsDone: number;
  totalSteps: number;
  cellsDone: number;
  totalCells: number;
  elapsedMs: number;
  cellIndex: number | null;
  preview: { width: number; height: number; channels: 3; data: Uint8Array } | null;
}

export interface DocumentEvents {
  changed(view: DocumentView | null): void;
  progress(progress: JobProgress): void;
  job(update: JobUpdate): void;
  /** A guidance grid started, got a cell, ended, or had a cell kept. */
  grid?(view: GridView): void;
  gridProgress?(progress: GridProgressEvent): void;
}

export interface GridStartRequest {
  messageId: string;
  textScales: number[];
  imageScales: number[];
  steps?: number;
  seed?: number;
  captionBefore?: string | null;
  captionAfter?: string | null;
  /** The CLIP model for the metrics, or null (no metrics). */
  clipDir: string | null;
}

export interface DocumentService {
  current(): DocumentView | null;
  /** An image (PNG, JPEG, WebP, TIFF…) or a saved project, by content. `path` is where it came from, if known. */
  open(bytes: Uint8Array, name: string, path: string | null): Promise<DocumentView>;
  /** A layer's pixels or mask as PNG, scaled to fit `maxSide` when that is smaller (never enlarged). */
  layerImage(
    layerId: string,
    what: 'pixels' | 'mask' | 'thumbnail',
    variantId?: string,
    maxSide?: number,
  ): Promise<PngImage>;
  updateLayer(layerId: string, patch: LayerPatch): Promise<DocumentView>;
  moveLayer(layerId: string, toIndex: number): Promise<DocumentView>;
  deleteLayer(layerId: string): Promise<DocumentView>;
  setMask(layerId: string, mask: { width: number; height: number; data: Uint8Array }): Promise<DocumentView>;
  invertMask(layerId: string): Promise<DocumentView>;
  clearMask(layerId: string): Promise<DocumentView>;
  undo(): Promise<DocumentView | null>;
  redo(): Promise<DocumentView | null>;
  enqueueEdit(settings: EditSettings, rerunOf?: string): Promise<{ jobId: string; messageId: string }>;
  cancelJob(jobId: string): Promise<boolean>;
  pickVariant(messageId: string, variantId: string): Promise<DocumentView>;
  /**
   * The project file's bytes and a suggested file name; `revision` identifies the state they hold
   * (for markDownloaded).
   */
  projectBytes(): Promise<{ name: string; bytes: Uint8Array; revision?: number }>;
  /** After the project was written to `path`. */
  markSaved(path: string): void;
  /** Browser mode: the project's bytes went to the user as a download; unsaved only if changed since. */
  markDownloaded(revision: number): void;
  /** Queues the stale layers' re-runs, bottom first; answers how many are stale. */
  rerunStale(): Promise<number>;
  exportBytes(format: ExportFormat): Promise<{ name: string; bytes: Uint8Array }>;
  /**
   * The open document's kept edits as training pairs (document/training-pairs.ts) written into
   * `outDir` (new or empty); `name` suggests a folder name for them.
   */
  exportTrainingPairs(outDir: string): Promise<TrainingPairsExport>;
  /** A folder name for the pairs of the open document ("<project>-training-pairs"). */
  trainingPairsName(): string;
  /** Autosaves newer than what was saved: unsaved pictures, and the open project's. */
  recoveries(): Promise<RecoveryEntry[]>;
  restoreRecovery(id: string): Promise<DocumentView>;
  discardRecovery(id: string): Promise<boolean>;
  /** Runs a guidance grid on an edit message's source (see src/main/document/grids.ts). */
  startGrid(request: GridStartRequest): Promise<{ gridId: string }>;
  cancelGrid(gridId: string): Promise<boolean>;
  /** The message's last grid, or null. */
  grid(messageId: string): Promise<GridView | null>;
  gridCellImage(gridId: string, cellIndex: number, maxSide?: number): Promise<PngImage>;
  /** Adds a finished cell as a variant of its message (one undo step), without running the engine. */
  keepGridCell(gridId: string, cellIndex: number): Promise<DocumentView>;
  subscribe(events: DocumentEvents): () => void;
  dispose(): Promise<void>;
}
