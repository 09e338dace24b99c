/**
 * Messages between the engine host (in the backend process, or serve) and the engine worker (a
 * Node child process, or an Electron utilityProcess). Carried by structured clone, so typed arrays pass as they are.
 */
import type {
  EditProgress,
  EditResult,
  EditSettings,
  ModelInfo,
  ProviderName,
  RgbImage,
} from '../../../shared/engine-types';

export type HostToWorker =
  | { type: 'load'; requestId: number; dir: string; provider: ProviderName }
  | { type: 'edit'; jobId: string; source: RgbImage; settings: EditSettings }
  | { type: 'cancel'; jobId: string }
  | { type: 'shutdown' };

export type WorkerToHost =
  | { type: 'ready'; pid: number }
  | { type: 'loaded'; requestId: number; info: ModelInfo }
  | { type: 'loadFailed'; requestId: number; message: string; name: string }
  | { type: 'progress'; jobId: string; progress: EditProgress }
  | { type: 'done'; jobId: string; result: EditResult }
  | { type: 'failed'; jobId: string; message: string; name: string; cancelled: boolean };

/** Which engine implementation the worker loads (env INSTRUCT_EDIT_ENGINE). */
export const ENGINE_KIND_ENV = 'INSTRUCT_EDIT_ENGINE';
export type EngineKind = 'onnx' | 'fake';
