/**
 * A deterministic in-process EditEngine for document tests: it resizes the source to the model's
 * processing size (like the real pipeline) and adds `seed % 7 + textGuidance` to the red channel, so
 * each result can be predicted exactly. Steps yield to the event loop so jobs can be cancelled mid-run.
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

export function fakeEditEngine(options: { stepDelayMs?: number; failWith?: string } = {}): EditEngine & {
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
      if (options.failWith) throw new Error(options.failWith);
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
