/**
 * Messages between the engine host (in the backend process, or serve) and the engine worker (a
 * Node child process, or an Electron utilityProcess). Carried by structured clone, so typed arrays pass as they are.
 */
import type {
  EditProgress,
  EditResult,
  EditSettings,
  GridCell,
  GridProgress,
  GridSettings,
  ModelInfo,
  ProviderName,
  RgbImage,
} from '../../../shared/engine-types';
import type { GridMetrics } from '../../../shared/contract/schemas';
import type { GridMetricsRequest } from '../../engine/measured-grid';

export type { GridMetricsRequest };

/** How the engine may use the machine (the app's memory and threads settings). */
export interface EngineLoadOptions {
  /** Bytes an edit may plan for, or 'auto' (the memory free when it starts). */
  memoryBudget: number | 'auto';
  /** onnxruntime's threads per operator; null = one per core. */
  threads: number | null;
}

export const AUTO_ENGINE_OPTIONS: EngineLoadOptions = { memoryBudget: 'auto', threads: null };

export function sameEngineOptions(a: EngineLoadOptions, b: EngineLoadOptions): boolean {
  return a.memoryBudget === b.memoryBudget && a.threads === b.threads;
}

/** What optimising a model folder into the user's cache produced. */
export interface OptimizedCopy {
  /** The optimised folder: <cacheRoot>/<key>. */
  dir: string;
  /** sha256 of the source UNet's files and the optimiser's version. */
  key: string;
  /** True when the folder already existed and was used as it was. */
  reused: boolean;
  attentionRewritten: number;
}

export interface OptimizeProgress {
  stage: 'hashing' | 'rewriting';
  /** 0..1 over all stages. */
  fraction: number;
}

export type HostToWorker =
  | {
      type: 'load';
      requestId: number;
      dir: string;
      provider: ProviderName;
      options: EngineLoadOptions;
    }
  | { type: 'optimize'; jobId: string; dir: string; cacheRoot: string }
  | { type: 'edit'; jobId: string; source: RgbImage; settings: EditSettings }
  | {
      type: 'grid';
      jobId: string;
      source: RgbImage;
      settings: GridSettings;
      batchRows?: number;
      /** Null: no metrics (no CLIP model). */
      metrics: GridMetricsRequest | null;
    }
  | { type: 'cancel'; jobId: string }
  | { type: 'shutdown' };

export type WorkerToHost =
  | { type: 'ready'; pid: number }
  | { type: 'loaded'; requestId: number; info: ModelInfo }
  | { type: 'loadFailed'; requestId: number; message: string; name: string }
  | { type: 'progress'; jobId: string; progress: EditProgress }
  | { type: 'done'; jobId: string; result: EditResult }
  | { type: 'optimizeProgress'; jobId: string; progress: OptimizeProgress }
  | { type: 'optimized'; jobId: string; copy: OptimizedCopy }
  | { type: 'gridProgress'; jobId: string; progress: GridProgress }
  /** A finished cell, with its metrics (null without a CLIP model or when CLIP failed). */
  | { type: 'gridCell'; jobId: string; cell: GridCell; metrics: GridMetrics | null }
  | {
      type: 'gridDone';
      jobId: string;
      unetRows: number;
      unetRowsAlone: number;
      totalMs: number;
      /** Why metrics were asked for but not computed (the CLIP model did not load), else null. */
      metricsError: string | null;
    }
  | { type: 'failed'; jobId: string; message: string; name: string; cancelled: boolean };

/** Which engine implementation the worker loads (env INSTRUCT_EDIT_ENGINE). */
export const ENGINE_KIND_ENV = 'INSTRUCT_EDIT_ENGINE';
export type EngineKind = 'onnx' | 'fake';
