/**
 * A stand-in engine for tests of the host, the handlers and the UI when no ONNX model is wanted:
 * it reads `fake-engine.json` from the "model" folder and tints the image towards a colour named in
 * the instruction, step by step, with previews and cancellation like the real pipeline.
 * Instructions containing "__crash__" kill the worker process (to test crash recovery).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CANCELLED_ERROR_NAME,
  type EditResult,
  type EditRunOptions,
  type EditSettings,
  type ModelInfo,
  type RgbImage,
} from '../../../shared/engine-types';
import type { LoadedEngine } from './worker-engine';

export const FAKE_ENGINE_FILE = 'fake-engine.json';

interface FakeConfig {
  stepDelayMs?: number;
}

const COLOURS: Record<string, [number, number, number]> = {
  red: [230, 30, 30],
  green: [30, 200, 60],
  blue: [30, 60, 230],
  yellow: [240, 220, 30],
  black: [0, 0, 0],
  white: [255, 255, 255],
};

function cancelled(): Error {
  const error = new Error('The edit was cancelled');
  error.name = CANCELLED_ERROR_NAME;
  return error;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(cancelled());
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(cancelled());
      },
      { once: true },
    );
  });

export async function loadFakeEngine(dir: string): Promise<LoadedEngine> {
  const configPath = join(dir, FAKE_ENGINE_FILE);
  if (!existsSync(configPath)) {
    throw new Error(`${dir} is not a model folder: ${FAKE_ENGINE_FILE} is missing`);
  }
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as FakeConfig;
  const stepDelayMs = config.stepDelayMs ?? 20;
  const info: ModelInfo = {
    dir,
    flavor: 'optimum',
    precision: 'float32',
    provider: 'cpu',
    unetInChannels: 8,
    components: {
      textEncoder: { inputs: [], outputs: [] },
      unet: { inputs: [], outputs: [] },
      vaeEncoder: { inputs: [], outputs: [] },
      vaeDecoder: { inputs: [], outputs: [] },
    },
  };
  return {
    info,
    async edit(source: RgbImage, settings: EditSettings, options: EditRunOptions = {}): Promise<EditResult> {
      if (settings.instruction.includes('__crash__')) process.exit(70);
      const started = Date.now();
      const word = Object.keys(COLOURS).find((name) => settings.instruction.toLowerCase().includes(name));
      const target = COLOURS[word ?? 'red']!;
      const strength = Math.min(
        1,
        settings.textGuidance / (settings.textGuidance + settings.imageGuidance * 2),
      );
      const out = new Uint8Array(source.data.length);
      for (let step = 0; step < settings.steps; step++) {
        await sleep(stepDelayMs, options.signal);
        options.onProgress?.({
          step,
          totalSteps: settings.steps,
          stepMs: stepDelayMs,
          elapsedMs: Date.now() - started,
          preview: {
            width: 8,
            height: 8,
            data: new Uint8Array(8 * 8 * 3).fill(Math.round((255 * (step + 1)) / settings.steps)),
          },
        });
      }
      for (let i = 0; i < source.data.length; i++) {
        const channel = target[i % 3]!;
        const jitter = ((settings.seed + i) % 7) - 3;
        out[i] = Math.max(
          0,
          Math.min(255, Math.round(source.data[i]! * (1 - strength) + channel * strength + jitter)),
        );
      }
      const image = { width: source.width, height: source.height, data: out };
      const totalMs = Date.now() - started;
      return {
        image,
        processedSource: source,
        settings,
        timings: {
          tokenizeMs: 0,
          textEncoderMs: 0,
          vaeEncoderMs: 0,
          unetStepMs: new Array<number>(settings.steps).fill(stepDelayMs),
          vaeDecoderMs: 0,
          totalMs,
          unetRows: settings.imageGuidance === 1 ? 2 : 3,
          textEncoderRuns: 1,
          vaeEncoderRuns: 1,
        },
      };
    },
    async dispose() {},
  };
}
