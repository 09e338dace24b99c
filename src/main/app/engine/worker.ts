/**
 * The engine worker: runs in its own process (a Node child process of the backend or of serve)
 * so an out-of-memory or a native crash in inference cannot take the window or the document down.
 * Runs as TypeScript under tsx in development and tests, and as built JS in the packaged app.
 */
import {
  CANCELLED_ERROR_NAME,
  type GridCell,
  type GridRunOptions,
  type ProviderName,
} from '../../../shared/engine-types';
import type { GridMetrics } from '../../../shared/contract/schemas';
import { runGridByCells } from '../../engine/grid-by-cells';
import { disposeClip, GridMeter, loadClip } from './grid-metrics';
import { ImageAssembler, ImageSender } from './image-transfer';
import {
  ENGINE_KIND_ENV,
  sameEngineOptions,
  type EngineKind,
  type EngineLoadOptions,
  type HostRequest,
  type HostToWorker,
  type WorkerReport,
  type WorkerToHost,
} from './protocol';
import { loadEngine, type LoadedEngine } from './worker-engine';

interface Port {
  send(message: WorkerToHost): void;
  onMessage(listener: (message: HostToWorker) => void): void;
}

interface ElectronParentPort {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (event: { data: unknown }) => void): void;
}

function connect(): Port {
  const parentPort = (process as unknown as { parentPort?: ElectronParentPort }).parentPort;
  if (parentPort) {
    return {
      send: (message) => parentPort.postMessage(message),
      onMessage: (listener) => parentPort.on('message', (event) => listener(event.data as HostToWorker)),
    };
  }
  if (!process.send) throw new Error('The engine worker must be started by the engine host (no IPC channel)');
  // The parent went away: nothing is left to serve.
  process.on('disconnect', () => process.exit(0));
  return {
    send: (message) => process.send?.(message),
    onMessage: (listener) => process.on('message', (message) => listener(message as HostToWorker)),
  };
}

const kind: EngineKind = process.env[ENGINE_KIND_ENV] === 'fake' ? 'fake' : 'onnx';
const port = connect();
let engine: LoadedEngine | null = null;
let loaded: { dir: string; provider: ProviderName; options: EngineLoadOptions } | null = null;
const running = new Map<string, AbortController>();
// Everything goes out through one sender, in order; large images in pieces (image-transfer.ts).
const outbox = new ImageSender<WorkerReport>((message) => port.send(message));
const images = new ImageAssembler();

/** Posts a report; `stop` ends a large one between pieces (the promise then rejects). */
function report(message: WorkerReport, stop?: () => boolean): Promise<void> {
  return outbox.post(message, stop);
}

/** Posts a report nobody waits for (it still goes out in order). */
function tell(message: WorkerReport): void {
  report(message).catch(() => undefined);
}

function errorFields(error: unknown): { message: string; name: string } {
  if (error instanceof Error) return { message: error.message || error.name, name: error.name };
  return { message: String(error), name: 'Error' };
}

async function handle(message: HostRequest): Promise<void> {
  switch (message.type) {
    case 'load': {
      try {
        if (
          engine &&
          loaded &&
          loaded.dir === message.dir &&
          loaded.provider === message.provider &&
          sameEngineOptions(loaded.options, message.options)
        ) {
          tell({ type: 'loaded', requestId: message.requestId, info: engine.info });
          return;
        }
        const previous = engine;
        engine = null;
        loaded = null;
        await previous?.dispose().catch(() => undefined);
        engine = await loadEngine(kind, message.dir, message.provider, message.options);
        loaded = { dir: message.dir, provider: message.provider, options: message.options };
        tell({ type: 'loaded', requestId: message.requestId, info: engine.info });
      } catch (error) {
        tell({ type: 'loadFailed', requestId: message.requestId, ...errorFields(error) });
      }
      return;
    }
    case 'edit':
      await runJob(message.jobId, async (signal) => {
        if (!engine) throw new Error('No model is loaded');
        const result = await engine.edit(message.source, message.settings, {
          signal,
          onProgress: (progress) => tell({ type: 'progress', jobId: message.jobId, progress }),
        });
        // A cancel during the result's pieces stops them: the job then ends as cancelled.
        await report({ type: 'done', jobId: message.jobId, result }, () => signal.aborted);
      });
      return;
    case 'optimize':
      await runJob(message.jobId, async (signal) => {
        // Loaded lazily, as the pipeline is: it reads the whole UNet, here and never in the app.
        const { optimizeIntoCache } = await import('../../engine/optimize-into-cache');
        const copy = await optimizeIntoCache(message.dir, message.cacheRoot, {
          signal,
          onProgress: (progress) => tell({ type: 'optimizeProgress', jobId: message.jobId, progress }),
        });
        await report({ type: 'optimized', jobId: message.jobId, copy });
      });
      return;
    case 'grid': {
      // Cells are sent in the order they finish, each after its metrics.
      let delivered: Promise<void> = Promise.resolve();
      let metricsError: string | null = null;
      await runJob(
        message.jobId,
        async (signal) => {
          if (!engine) throw new Error('No model is loaded');
          let meter: GridMeter | null = null;
          if (message.metrics) {
            try {
              meter = new GridMeter(await loadClip(message.metrics.clipDir), message.metrics);
            } catch (error) {
              metricsError = `The CLIP model did not load: ${errorFields(error).message}`;
            }
          }
          const options = {
            signal,
            ...(message.batchRows !== undefined ? { batchRows: message.batchRows } : {}),
            onProgress: (progress: Parameters<NonNullable<GridRunOptions['onProgress']>>[0]) =>
              tell({ type: 'gridProgress', jobId: message.jobId, progress }),
            onCell: (cell: GridCell) => {
              delivered = delivered.then(async () => {
                let metrics: GridMetrics | null = null;
                if (meter && metricsError === null) {
                  try {
                    metrics = await meter.measure(cell.result.processedSource, cell.result.image);
                  } catch (error) {
                    metricsError = `CLIP could not measure the grid: ${errorFields(error).message}`;
                  }
                }
                await report({ type: 'gridCell', jobId: message.jobId, cell, metrics });
              });
            },
          };
          const result = engine.editGrid
            ? await engine.editGrid(message.source, message.settings, options)
            : await runGridByCells(engine, message.source, message.settings, options);
          await delivered;
          await report({
            type: 'gridDone',
            jobId: message.jobId,
            unetRows: result.unetRows,
            unetRowsAlone: result.unetRowsAlone,
            totalMs: result.totalMs,
            metricsError,
          });
        },
        // The cells finished before a cancel or a failure still go out, before the failure.
        () => delivered,
      );
      return;
    }
    case 'cancel':
      running.get(message.jobId)?.abort();
      return;
    case 'shutdown':
      for (const controller of running.values()) controller.abort();
      await engine?.dispose().catch(() => undefined);
      await disposeClip();
      process.exit(0);
  }
}

/** Runs one job: its abort controller (for 'cancel'), and a 'failed' answer when it throws. */
async function runJob(
  jobId: string,
  work: (signal: AbortSignal) => Promise<void>,
  beforeFailure?: () => Promise<void>,
): Promise<void> {
  const controller = new AbortController();
  running.set(jobId, controller);
  try {
    await work(controller.signal);
  } catch (error) {
    await beforeFailure?.();
    const fields = errorFields(error);
    tell({
      type: 'failed',
      jobId,
      ...fields,
      cancelled: fields.name === CANCELLED_ERROR_NAME || controller.signal.aborted,
    });
  } finally {
    running.delete(jobId);
  }
}

port.onMessage((message) => {
  if (message.type === 'imagePiece') {
    images.accept(message);
    return;
  }
  // A job cancelled while its source was on the way: its pieces are not wanted.
  if (message.type === 'cancel') images.drop(message.jobId);
  let request: HostRequest;
  try {
    request = images.unpack<HostRequest>(message);
  } catch (error) {
    if ('jobId' in message)
      tell({ type: 'failed', jobId: message.jobId, ...errorFields(error), cancelled: false });
    return;
  }
  void handle(request);
});
tell({ type: 'ready', pid: process.pid });
