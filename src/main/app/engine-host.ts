/**
 * The engine host: the main side's handle on the engine worker process. It implements EditEngine,
 * so the document's job runner can use it like any engine, but each edit runs in the worker:
 *
 *   edit() → 'edit' message → progress messages → 'done' | 'failed'
 *   abort signal → 'cancel' message (and, if the worker does not answer in time, the worker is killed)
 *   worker exits mid-job → the job fails with EngineCrashedError; the next edit starts a new worker
 *   and loads the model again.
 *
 * How the worker process is started is injected (WorkerLauncher): a Node child process in browser
 * mode, tests and the app's backend process.
 *
 *   editGrid() → 'grid' message → 'gridProgress' / 'gridCell' (with CLIP metrics) → 'gridDone' | 'failed'
 *
 * Edits, grids and optimisations are jobs of one queue: one runs at a time, in the order asked for.
 *
 * Large images (sources, results, previews) travel in pieces, a turn of the event loop apart, and
 * are put back together on arrival (engine/image-transfer.ts), so a full-size picture never holds
 * this process's event loop. A cancel while a source is still on its way stops it there.
 */
import {
  CANCELLED_ERROR_NAME,
  type EditEngine,
  type EditResult,
  type EditRunOptions,
  type EditSettings,
  type GridSettings,
  type ModelInfo,
  type ProviderName,
  type RgbImage,
} from '../../shared/engine-types';
import type { EngineStatus } from '../../shared/contract/schemas';
import type {
  MeasuredGridCell,
  MeasuredGridResult,
  MeasuredGridRunOptions,
  MeasuringGridEngine,
} from '../engine/measured-grid';
import type { ProcessHandle } from './engine/child-handle';
import { ImageAssembler, ImageSender } from './engine/image-transfer';
import {
  AUTO_ENGINE_OPTIONS,
  sameEngineOptions,
  type EngineLoadOptions,
  type HostRequest,
  type HostToWorker,
  type OptimizedCopy,
  type OptimizeProgress,
  type WorkerReport,
  type WorkerToHost,
} from './engine/protocol';

export type WorkerHandle = ProcessHandle<HostToWorker, WorkerToHost>;

export type WorkerLauncher = () => WorkerHandle;

export class EngineCrashedError extends Error {
  override name = 'EngineCrashedError';
}

export class ModelLoadError extends Error {
  override name = 'ModelLoadError';
}

export class NoModelError extends Error {
  override name = 'NoModelError';
  constructor() {
    super('No model is loaded: choose or download one in the model manager');
  }
}

function cancelledError(): Error {
  const error = new Error('The edit was cancelled');
  error.name = CANCELLED_ERROR_NAME;
  return error;
}

interface Worker {
  handle: WorkerHandle;
  ready: Promise<void>;
  exited: boolean;
  /** The model loaded in this worker, if any. */
  loaded: { dir: string; provider: ProviderName; options: EngineLoadOptions; info: ModelInfo } | null;
  /** Every message to the worker goes through here, in order (large images in pieces). */
  outbox: ImageSender<HostRequest>;
  /** The worker's images in pieces, until the message that uses them arrives. */
  images: ImageAssembler;
  listeners: Set<(message: WorkerReport) => void>;
  exitListeners: Set<(reason: string) => void>;
}

export interface EngineHostOptions {
  launcher: WorkerLauncher;
  /** How long the worker may take to start. */
  startTimeoutMs?: number;
  /** After a cancel, how long to wait for the worker to stop before killing it. */
  cancelGraceMs?: number;
  onStatus?: (status: EngineStatus) => void;
}

export class EngineHost implements EditEngine, MeasuringGridEngine {
  readonly measuresGrids = true as const;
  private worker: Worker | null = null;
  private model: { dir: string; provider: ProviderName; options: EngineLoadOptions } | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private nextRequestId = 1;
  private nextJobId = 1;
  private busy = 0;
  private lastCrash: string | null = null;
  private disposed = false;

  constructor(private readonly options: EngineHostOptions) {}

  get pid(): number | null {
    return this.worker && !this.worker.exited ? this.worker.handle.pid : null;
  }

  get modelInfo(): ModelInfo | null {
    return this.worker?.loaded?.info ?? null;
  }

  status(): EngineStatus {
    const worker = this.worker;
    if (!worker || worker.exited) {
      return { state: this.lastCrash ? 'crashed' : 'stopped', pid: null, message: this.lastCrash };
    }
    return {
      state: this.busy > 0 ? 'busy' : worker.loaded ? 'ready' : 'starting',
      pid: worker.handle.pid,
      message: null,
    };
  }

  /** Loads (or switches to) a model folder in the worker; rejects with the loader's message. */
  loadModel(
    dir: string,
    provider: ProviderName,
    options: EngineLoadOptions = AUTO_ENGINE_OPTIONS,
  ): Promise<ModelInfo> {
    return this.serialize(async () => {
      this.model = { dir, provider, options };
      const worker = await this.ensureWorker();
      return this.load(worker);
    });
  }

  /** Forgets the model (the worker keeps running until the next load). */
  unloadModel(): void {
    this.model = null;
  }

  edit(source: RgbImage, settings: EditSettings, options: EditRunOptions = {}): Promise<EditResult> {
    return this.withModel(options.signal, (worker) => this.runEdit(worker, source, settings, options));
  }

  /**
   * Runs a guidance grid in the worker (its editGrid, or cell by cell), with CLIP metrics per cell
   * when `options.metrics` names a CLIP model. A grid is one job: it waits for the edits queued
   * before it, and the edits queued after it wait for it. A cancel keeps the cells already
   * delivered through onCell and then rejects with the cancellation error.
   */
  editGrid(
    source: RgbImage,
    settings: GridSettings,
    options: MeasuredGridRunOptions = {},
  ): Promise<MeasuredGridResult> {
    return this.withModel(options.signal, (worker) => this.runGrid(worker, source, settings, options));
  }

  /**
   * Writes an optimised copy of a model folder into `cacheRoot` (or finds the one there), in the
   * worker: hashing and rewriting read the whole UNet. Queued with edits. Cancelling stops it
   * between chunks; a rewrite that does not stop in time is ended with the worker.
   */
  optimizeModel(
    dir: string,
    cacheRoot: string,
    options: { signal?: AbortSignal; onProgress?: (progress: OptimizeProgress) => void } = {},
  ): Promise<OptimizedCopy> {
    return this.withWorker(options.signal, (worker) => {
      const jobId = `o${this.nextJobId++}`;
      return this.runJob<OptimizedCopy>(
        worker,
        jobId,
        { type: 'optimize', jobId, dir, cacheRoot },
        {
          ...(options.signal ? { signal: options.signal } : {}),
          onMessage: (message) => {
            if (message.type === 'optimizeProgress') options.onProgress?.(message.progress);
            return message.type === 'optimized' ? { value: message.copy } : undefined;
          },
          during: 'while optimising the model',
        },
      );
    });
  }

  /** A queued job on a running worker, counted as busy while it runs. */
  private withWorker<T>(
    signal: AbortSignal | undefined,
    job: (worker: Worker) => Promise<T>,
    needsModel = false,
  ): Promise<T> {
    return this.serialize(async () => {
      if (signal?.aborted) throw cancelledError();
      if (needsModel && !this.model) throw new NoModelError();
      this.busy++;
      this.emitStatus();
      try {
        return await job(await this.ensureWorker());
      } finally {
        this.busy--;
        this.emitStatus();
      }
    });
  }

  /** A queued job on a worker that has the current model (and engine options) loaded. */
  private withModel<T>(signal: AbortSignal | undefined, job: (worker: Worker) => Promise<T>): Promise<T> {
    return this.withWorker(
      signal,
      async (worker) => {
        const model = this.model;
        if (!model) throw new NoModelError();
        if (
          !worker.loaded ||
          worker.loaded.dir !== model.dir ||
          worker.loaded.provider !== model.provider ||
          !sameEngineOptions(worker.loaded.options, model.options)
        ) {
          await this.load(worker);
        }
        if (signal?.aborted) throw cancelledError();
        return job(worker);
      },
      true,
    );
  }

  /** Kills the worker (tests, or a stuck engine); running edits fail as crashed. */
  kill(): void {
    this.worker?.handle.kill();
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    const worker = this.worker;
    this.worker = null;
    if (!worker || worker.exited) return;
    const gone = new Promise<void>((resolve) => worker.exitListeners.add(() => resolve()));
    worker.outbox.post({ type: 'shutdown' }).catch(() => worker.handle.kill());
    const timer = setTimeout(() => worker.handle.kill(), 2000);
    await gone;
    clearTimeout(timer);
  }

  private serialize<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private emitStatus(): void {
    this.options.onStatus?.(this.status());
  }

  private startWorker(): Worker {
    const handle = this.options.launcher();
    const worker: Worker = {
      handle,
      ready: Promise.resolve(),
      exited: false,
      loaded: null,
      outbox: new ImageSender<HostRequest>((message) => handle.send(message)),
      images: new ImageAssembler(),
      listeners: new Set(),
      exitListeners: new Set(),
    };
    handle.onMessage((message) => {
      if (message.type === 'imagePiece') {
        worker.images.accept(message);
        return;
      }
      let report: WorkerReport;
      try {
        report = worker.images.unpack<WorkerReport>(message);
      } catch (error) {
        if (!('jobId' in message)) return;
        report = {
          type: 'failed',
          jobId: message.jobId,
          message: (error as Error).message,
          name: 'Error',
          cancelled: false,
        };
      }
      for (const listener of [...worker.listeners]) listener(report);
    });
    worker.ready = new Promise<void>((resolve, reject) => {
      const timeout = setTimeout(() => {
        handle.kill();
        reject(new EngineCrashedError('The engine process did not start in time'));
      }, this.options.startTimeoutMs ?? 60_000);
      const onReady = (message: WorkerReport) => {
        if (message.type !== 'ready') return;
        clearTimeout(timeout);
        worker.listeners.delete(onReady);
        resolve();
      };
      worker.listeners.add(onReady);
      worker.exitListeners.add((reason) => {
        clearTimeout(timeout);
        reject(new EngineCrashedError(`The engine process could not start (${reason})`));
      });
    });
    worker.ready.catch(() => undefined);
    handle.onExit((reason) => {
      if (worker.exited) return;
      worker.exited = true;
      if (this.worker === worker) {
        this.worker = null;
        if (!this.disposed) this.lastCrash = `The engine stopped (${reason})`;
      }
      for (const listener of [...worker.exitListeners]) listener(reason);
      this.emitStatus();
    });
    return worker;
  }

  private async ensureWorker(): Promise<Worker> {
    if (this.disposed) throw new EngineCrashedError('The engine was shut down');
    if (!this.worker || this.worker.exited) {
      this.worker = this.startWorker();
      this.emitStatus();
    }
    const worker = this.worker;
    await worker.ready;
    this.lastCrash = null;
    this.emitStatus();
    return worker;
  }

  private load(worker: Worker): Promise<ModelInfo> {
    const model = this.model;
    if (!model) return Promise.reject(new NoModelError());
    const requestId = this.nextRequestId++;
    return new Promise<ModelInfo>((resolve, reject) => {
      const cleanup = () => {
        worker.listeners.delete(onMessage);
        worker.exitListeners.delete(onExit);
      };
      const onMessage = (message: WorkerReport) => {
        if (message.type === 'loaded' && message.requestId === requestId) {
          cleanup();
          worker.loaded = { ...model, info: message.info };
          this.emitStatus();
          resolve(message.info);
        } else if (message.type === 'loadFailed' && message.requestId === requestId) {
          cleanup();
          worker.loaded = null;
          reject(new ModelLoadError(message.message));
        }
      };
      const onExit = (reason: string) => {
        cleanup();
        reject(
          new EngineCrashedError(
            `The engine stopped while loading the model (${reason}); it restarts with the next edit`,
          ),
        );
      };
      worker.listeners.add(onMessage);
      worker.exitListeners.add(onExit);
      this.post(worker, {
        type: 'load',
        requestId,
        dir: model.dir,
        provider: model.provider,
        options: model.options,
      });
    });
  }

  /** Posts a message nobody waits for (it goes out in order; a gone worker gets nothing). */
  private post(worker: Worker, message: HostRequest): void {
    worker.outbox.post(message, () => worker.exited).catch(() => undefined);
  }

  /** Sends one job message and settles on its answer, its failure, a cancel or the worker's exit. */
  private runJob<T>(
    worker: Worker,
    jobId: string,
    request: HostRequest,
    options: {
      signal?: AbortSignal;
      onMessage: (message: WorkerReport) => { value: T } | undefined;
      during: string;
    },
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let killTimer: ReturnType<typeof setTimeout> | undefined;
      let cancelRequested = false;
      let settled = false;
      let requestSent = false;
      const cleanup = () => {
        settled = true;
        worker.listeners.delete(onMessage);
        worker.exitListeners.delete(onExit);
        options.signal?.removeEventListener('abort', onAbort);
        if (killTimer) clearTimeout(killTimer);
        worker.images.discard(jobId);
      };
      const onMessage = (message: WorkerReport) => {
        if (!('jobId' in message) || message.jobId !== jobId) return;
        if (message.type === 'failed') {
          cleanup();
          if (message.cancelled) reject(cancelledError());
          else reject(Object.assign(new Error(message.message), { name: message.name }));
          return;
        }
        const settled = options.onMessage(message);
        if (settled) {
          cleanup();
          resolve(settled.value);
        }
      };
      const onExit = (reason: string) => {
        cleanup();
        if (cancelRequested) reject(cancelledError());
        else
          reject(
            new EngineCrashedError(
              `The engine stopped ${options.during} (${reason}); it restarts with the next edit`,
            ),
          );
      };
      const onAbort = () => {
        if (!requestSent) {
          // The job has not reached the worker whole: its pieces stop here, and the cancel tells
          // the worker to drop those it has.
          cleanup();
          this.post(worker, { type: 'cancel', jobId });
          reject(cancelledError());
          return;
        }
        cancelRequested = true;
        this.post(worker, { type: 'cancel', jobId });
        killTimer = setTimeout(() => worker.handle.kill(), this.options.cancelGraceMs ?? 20_000);
      };
      worker.listeners.add(onMessage);
      worker.exitListeners.add(onExit);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      // A stopped request (cancelled, or the worker gone) is settled by onAbort or onExit.
      worker.outbox
        .post(request, () => settled || worker.exited)
        .then(
          () => {
            requestSent = true;
          },
          () => undefined,
        );
    });
  }

  private runGrid(
    worker: Worker,
    source: RgbImage,
    settings: GridSettings,
    options: MeasuredGridRunOptions,
  ): Promise<MeasuredGridResult> {
    const jobId = `g${this.nextJobId++}`;
    const cells: MeasuredGridCell[] = [];
    const batch = options.batchRows !== undefined ? { batchRows: options.batchRows } : {};
    return this.runJob<MeasuredGridResult>(
      worker,
      jobId,
      { type: 'grid', jobId, source, settings, metrics: options.metrics ?? null, ...batch },
      {
        ...(options.signal ? { signal: options.signal } : {}),
        onMessage: (message) => {
          if (message.type === 'gridProgress') {
            safely(() => options.onProgress?.(message.progress));
          } else if (message.type === 'gridCell') {
            const cell: MeasuredGridCell = { ...message.cell, metrics: message.metrics };
            cells.push(cell);
            safely(() => options.onCell?.(cell));
          } else if (message.type === 'gridDone') {
            return {
              value: {
                cells,
                unetRows: message.unetRows,
                unetRowsAlone: message.unetRowsAlone,
                totalMs: message.totalMs,
                metricsError: message.metricsError,
              },
            };
          }
          return undefined;
        },
        during: 'during the guidance grid',
      },
    );
  }

  private runEdit(
    worker: Worker,
    source: RgbImage,
    settings: EditSettings,
    options: EditRunOptions,
  ): Promise<EditResult> {
    const jobId = `e${this.nextJobId++}`;
    return this.runJob<EditResult>(
      worker,
      jobId,
      { type: 'edit', jobId, source, settings },
      {
        ...(options.signal ? { signal: options.signal } : {}),
        onMessage: (message) => {
          if (message.type === 'progress') safely(() => options.onProgress?.(message.progress));
          return message.type === 'done' ? { value: message.result } : undefined;
        },
        during: 'during the edit',
      },
    );
  }
}

function safely(listener: () => void): void {
  try {
    listener();
  } catch (error) {
    console.error('job listener failed', error);
  }
}
