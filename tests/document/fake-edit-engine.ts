/**
 * A deterministic in-process EditEngine for document tests: it resizes the source to the model's
 * processing size (like the real pipeline) and adds `seed % 7 + textGuidance` to the red channel, so
 * each result can be predicted exactly. Steps yield to the event loop so jobs can be cancelled mid-run.
 * `failWhen` makes chosen runs fail; a closed `gate` holds every run before it finishes, so a test
 * decides when results land (a held run still ends at once when cancelled).
 */
import type {
  EditEngine,
  EditResult,
  EditRunOptions,
  EditSettings,
  RgbImage,
} from '../../src/shared/engine-types';
import { processingSize, resizeRgb } from '../../src/main/engine/image-io';

export interface FakeEngineCalls {
  sources: RgbImage[];
  settings: EditSettings[];
}

export function redShift(settings: EditSettings): number {
  return (settings.seed % 7) + settings.textGuidance;
}

/** Holds runs while closed; opening lets every held run go on. */
export class EngineGate {
  private isOpen: boolean;
  private waiters = new Set<() => void>();

  constructor(open = false) {
    this.isOpen = open;
  }

  open(): void {
    this.isOpen = true;
    for (const wake of [...this.waiters]) wake();
  }

  close(): void {
    this.isOpen = false;
  }

  /** Resolves once the gate is open; rejects as a cancellation when `signal` aborts first. */
  pass(signal: AbortSignal | undefined): Promise<void> {
    if (this.isOpen) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const wake = (): void => {
        this.waiters.delete(wake);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        this.waiters.delete(wake);
        reject(cancelled());
      };
      if (signal?.aborted) return reject(cancelled());
      this.waiters.add(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

export interface FakeEngineOptions {
  stepDelayMs?: number;
  /** Every run fails with this message. */
  failWith?: string;
  /** A run fails with the returned message (null: it succeeds). */
  failWhen?: (settings: EditSettings) => string | null;
  gate?: EngineGate;
}

export function fakeEditEngine(options: FakeEngineOptions = {}): EditEngine & {
  calls: FakeEngineCalls;
} {
  const calls: FakeEngineCalls = { sources: [], settings: [] };
  return {
    calls,
    async edit(source: RgbImage, settings: EditSettings, run: EditRunOptions = {}): Promise<EditResult> {
      calls.sources.push({ ...source, data: new Uint8Array(source.data) });
      calls.settings.push({ ...settings });
      const size = processingSize(source.width, source.height, settings.resolution);
      const processedSource =
        size.width === source.width && size.height === source.height
          ? source
          : await resizeRgb(source, size.width, size.height);
      for (let step = 0; step < settings.steps; step++) {
        if (run.signal?.aborted) throw cancelled();
        await new Promise((resolve) => setTimeout(resolve, options.stepDelayMs ?? 0));
        if (run.signal?.aborted) throw cancelled();
        run.onProgress?.({ step, totalSteps: settings.steps, stepMs: 0, elapsedMs: 0 });
      }
      await options.gate?.pass(run.signal);
      if (options.failWith) throw new Error(options.failWith);
      const failure = options.failWhen?.(settings) ?? null;
      if (failure !== null) throw new Error(failure);
      const data = new Uint8Array(processedSource.data);
      const shift = redShift(settings);
      for (let i = 0; i < data.length; i += 3) data[i] = Math.min(255, data[i]! + shift);
      return {
        image: { width: size.width, height: size.height, data },
        processedSource,
        settings,
        timings: {
          tokenizeMs: 0,
          textEncoderMs: 0,
          vaeEncoderMs: 0,
          unetStepMs: [],
          vaeDecoderMs: 0,
          totalMs: 0,
          unetRows: 3,
          textEncoderRuns: 0,
          vaeEncoderRuns: 0,
        },
      };
    },
  };
}

function cancelled(): Error {
  const error = new Error('The edit was cancelled');
  error.name = 'EditCancelledError';
  return error;
}
