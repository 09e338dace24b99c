/**
 * Messages between the engine host (in the backend process, or serve) and the engine worker (a
 * Node child process, or an Electron utilityProcess). Carried by structured clone, so typed arrays pass as they are.
 *
 * Each side writes and reads messages with whole images (HostRequest, WorkerReport); on the channel
 * an image larger than one piece travels ahead of its message as ImagePieces and the message holds a
 * reference to them (OnWire): Node's IPC copies every message whole and synchronously on both
 * sides, so a full-size picture in one message would hold the host's event loop for a second or
 * more (see image-transfer.ts).
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

/**
 * Most bytes of pixels one message carries. Node copies a message whole on the main thread when it
 * sends it (V8's serializer) and when it receives it (the IPC parser joins its chunks, then
 * deserialises), each at a few nanoseconds a byte: 2 MiB costs the host's event loop ~10 ms per
 * message instead of ~1 s for a 24 MP picture in one.
 */
export const IMAGE_PIECE_BYTES = 2 * 1024 * 1024;

/** Part of an image travelling ahead of the message that uses it: bytes [offset, offset + data.length). */
export interface ImagePiece {
  type: 'imagePiece';
  /** The job the image belongs to ('' for none): a cancelled job's partial images are dropped. */
  jobId: string;
  /** Numbers the sender's transfers; the message refers to its image by it. */
  transferId: number;
  /** The whole image's byte length (the receiver allocates it once, at the first piece). */
  bytes: number;
  offset: number;
  data: Uint8Array;
}

/** Where a message had an image sent in pieces: the receiver puts the reassembled image back here. */
export interface ImageInPieces {
  imageInPieces: number;
  width: number;
  height: number;
}

/** An image (anything with width, height and a Uint8Array of data) as a message on the channel holds it. */
export type ImageOnWire = { width: number; height: number; data: Uint8Array } | ImageInPieces;

/** A message as it travels: each image in it may be a reference to pieces sent before it. */
export type OnWire<T> = T extends { width: number; height: number; data: Uint8Array }
  ? ImageOnWire
  : T extends ArrayBufferView
    ? T
    : T extends object
      ? { [K in keyof T]: OnWire<T[K]> }
      : T;

/** What the host asks of the worker, with whole images. */
export type HostRequest =
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

export type HostToWorker = OnWire<HostRequest> | ImagePiece;

/** What the worker tells the host, with whole images. */
export type WorkerReport =
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

export type WorkerToHost = OnWire<WorkerReport> | ImagePiece;

/** Which engine implementation the worker loads (env INSTRUCT_EDIT_ENGINE). */
export const ENGINE_KIND_ENV = 'INSTRUCT_EDIT_ENGINE';
export type EngineKind = 'onnx' | 'fake';
