import { copyFileSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EditProgress, EditSettings, RgbImage } from '../../src/shared/engine-types';
import { EditCancelledError } from '../../src/main/engine/errors';
import { InstructPix2PixPipeline } from '../../src/main/engine/pipeline';
import { SeededRandom } from '../../src/main/engine/rng';
import { parseSchedulerConfig } from '../../src/main/engine/schedulers/config';
import { createScheduler } from '../../src/main/engine/schedulers/index';
import { makeTinyModel, type TinyModelOptions } from '../../src/main/engine/tiny-model/tiny-model';

const root = mkdtempSync(join(tmpdir(), 'ip2p-pipeline-'));
const made = new Map<string, string>();

async function model(options: TinyModelOptions): Promise<string> {
  const key = JSON.stringify(options);
  const existing = made.get(key);
  if (existing) return existing;
  const dir = join(root, `model-${made.size}`);
  await makeTinyModel(dir, options);
  made.set(key, dir);
  return dir;
}

function gradient(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = Math.round((x / Math.max(1, width - 1)) * 255);
      data[i + 1] = Math.round((y / Math.max(1, height - 1)) * 255);
      data[i + 2] = (x * 7 + y * 3) % 256;
    }
  }
  return { width, height, data };
}

const base: EditSettings = {
  instruction: 'make it red',
  steps: 3,
  textGuidance: 7.5,
  imageGuidance: 1.5,
  seed: 7,
  scheduler: 'euler-ancestral',
  resolution: 'native',
};

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('every export flavor loads and edits end to end', () => {
  const cases = [
    { flavor: 'diffusers', precision: 'float32', timestep: 'float32' },
    { flavor: 'optimum-legacy', precision: 'float32', timestep: 'int64' },
    { flavor: 'optimum', precision: 'float32', timestep: 'float32' },
    { flavor: 'diffusers', precision: 'float16', timestep: 'float16' },
    { flavor: 'optimum-legacy', precision: 'float16', timestep: 'int64' },
    { flavor: 'optimum', precision: 'float16', timestep: 'float16' },
  ] as const;

  for (const { flavor, precision, timestep } of cases) {
    it(`${flavor} ${precision}`, async () => {
      const dir = await model({ flavor, precision });
      const pipeline = await InstructPix2PixPipeline.load(dir, { provider: 'cpu' });
      try {
        expect(pipeline.info.flavor).toBe(flavor);
        expect(pipeline.info.precision).toBe(precision);
        expect(pipeline.info.provider).toBe('cpu');
        const unetTimestep = pipeline.info.components.unet.inputs.find((input) => input.name === 'timestep');
        expect(unetTimestep?.type).toBe(timestep);
        const result = await pipeline.edit(gradient(80, 72), base);
        // native: each side rounded down to a multiple of 64
        expect([result.image.width, result.image.height]).toEqual([64, 64]);
        expect(result.image.data.length).toBe(64 * 64 * 3);
        const distinct = new Set(result.image.data).size;
        expect(distinct).toBeGreaterThan(8);
        expect(result.timings.unetStepMs).toHaveLength(3);
        expect(result.timings.unetRows).toBe(3);
      } finally {
        await pipeline.dispose();
      }
    });
  }
});

describe('guidance math against a model whose answer is known', () => {
  let dir: string;
  let pipeline: InstructPix2PixPipeline;
  beforeAll(async () => {
    dir = await model({ flavor: 'optimum', kind: 'analytic' });
    pipeline = await InstructPix2PixPipeline.load(dir, { provider: 'cpu' });
  });
  afterAll(() => pipeline.dispose());

  /** The analytic UNet: out = 0.5·x_scaled + 0.25·imageLatents + mean(text embedding) + t/1000. */
  function reference(
    settings: EditSettings,
    imageLatents: Float32Array,
    meanText: number,
    meanEmpty: number,
    rows: 2 | 3,
  ): Float32Array {
    const config = parseSchedulerConfig({
      beta_start: 0.00085,
      beta_end: 0.012,
      beta_schedule: 'scaled_linear',
      num_train_timesteps: 1000,
      steps_offset: 1,
      timestep_spacing: 'linspace',
      prediction_type: 'epsilon',
    });
    const scheduler = createScheduler(settings.scheduler, config, settings.steps);
    const random = new SeededRandom(settings.seed);
    let latents: Float32Array = random.normal(imageLatents.length).map((v) => v * scheduler.initNoiseSigma);
    for (let step = 0; step < settings.steps; step++) {
      const x = scheduler.scaleModelInput(latents, step);
      const t = scheduler.timesteps[step]! / 1000;
      const guided = new Float32Array(x.length);
      for (let i = 0; i < x.length; i++) {
        const withText = 0.5 * x[i]! + 0.25 * imageLatents[i]! + meanText + t;
        const imageOnly = 0.5 * x[i]! + 0.25 * imageLatents[i]! + meanEmpty + t;
        const unconditional = 0.5 * x[i]! + meanEmpty + t;
        guided[i] =
          rows === 3
            ? unconditional +
              settings.textGuidance * (withText - imageOnly) +
              settings.imageGuidance * (imageOnly - unconditional)
            : imageOnly + settings.textGuidance * (withText - imageOnly);
      }
      latents = scheduler.step(guided, step, latents, random);
    }
    return latents;
  }

  const mean = (values: Float32Array) => values.reduce((a, b) => a + b, 0) / values.length;

  it('uses the VAE mean (not the log-variance), unscaled', async () => {
    const image = gradient(64, 64);
    const latents = await pipeline.imageLatents(image);
    expect(latents.length).toBe(4 * 8 * 8);
    // channel 0 of latent pixel (0,0) = mean red of the top-left 8×8 block in [-1, 1]
    let red = 0;
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) red += image.data[(y * 64 + x) * 3]! / 127.5 - 1;
    expect(latents[0]).toBeCloseTo(red / 64, 4);
    expect(Math.max(...latents)).toBeLessThan(1.01); // the logvar channels are 5.0
  });

  for (const scheduler of ['euler', 'euler-ancestral', 'ddim', 'dpmpp-2m'] as const) {
    it(`final latents match the reference with ${scheduler}`, async () => {
      const settings = { ...base, scheduler, steps: 4, textGuidance: 6, imageGuidance: 1.7 };
      const image = gradient(64, 64);
      const imageLatents = await pipeline.imageLatents(image);
      const instruction = (await pipeline.textEmbedding(settings.instruction)).embedding;
      const empty = (await pipeline.textEmbedding('')).embedding;
      expect(mean(instruction.data)).not.toBeCloseTo(mean(empty.data), 3);
      const latents = await pipeline.denoise({
        imageLatents,
        latentWidth: 8,
        latentHeight: 8,
        instruction,
        empty,
        settings,
      });
      const expected = reference(settings, imageLatents, mean(instruction.data), mean(empty.data), 3);
      let maxError = 0;
      for (let i = 0; i < expected.length; i++)
        maxError = Math.max(maxError, Math.abs(latents[i]! - expected[i]!));
      expect(maxError).toBeLessThan(1e-3);
      // Swapping the two guidance scales gives a clearly different answer, so the test can fail.
      const swapped = reference(
        { ...settings, textGuidance: settings.imageGuidance, imageGuidance: settings.textGuidance },
        imageLatents,
        mean(instruction.data),
        mean(empty.data),
        3,
      );
      let swapError = 0;
      for (let i = 0; i < expected.length; i++)
        swapError = Math.max(swapError, Math.abs(swapped[i]! - expected[i]!));
      expect(swapError).toBeGreaterThan(0.05);
    });
  }

  it('image guidance 1 runs two rows and equals the three-row result', async () => {
    const settings = { ...base, scheduler: 'euler' as const, steps: 4, imageGuidance: 1 };
    const imageLatents = await pipeline.imageLatents(gradient(64, 64));
    const instruction = (await pipeline.textEmbedding(settings.instruction)).embedding;
    const empty = (await pipeline.textEmbedding('')).embedding;
    const rowsBefore = pipeline.counters.unetRows;
    const latents = await pipeline.denoise({
      imageLatents,
      latentWidth: 8,
      latentHeight: 8,
      instruction,
      empty,
      settings,
    });
    expect(pipeline.counters.unetRows - rowsBefore).toBe(2 * 4);
    const threeRow = reference(settings, imageLatents, mean(instruction.data), mean(empty.data), 3);
    for (let i = 0; i < threeRow.length; i++) expect(latents[i]).toBeCloseTo(threeRow[i]!, 4);
  });

  it('decodes latents / 0.18215 to (x/2 + 0.5)·255', async () => {
    const latents = new Float32Array(4 * 8 * 8).fill(0.5);
    const image = await pipeline.decode(latents, 8, 8);
    expect(image.width).toBe(64);
    // analytic decoder: sample = upsample(latent) · 0.18215, so the pixel is (0.5/2 + 0.5)·255
    expect(image.data[0]).toBe(Math.round(0.75 * 255));
  });
});

describe('seeds, cancel and caches', () => {
  let pipeline: InstructPix2PixPipeline;
  beforeAll(async () => {
    pipeline = await InstructPix2PixPipeline.load(await model({ flavor: 'optimum' }), { provider: 'cpu' });
  });
  afterAll(() => pipeline.dispose());

  it('the same seed gives the same pixels, across fresh loads; another seed differs', async () => {
    const image = gradient(64, 64);
    const first = await pipeline.edit(image, base);
    const again = await pipeline.edit(image, base);
    expect(Buffer.from(again.image.data).equals(Buffer.from(first.image.data))).toBe(true);
    const fresh = await InstructPix2PixPipeline.load(await model({ flavor: 'optimum' }), { provider: 'cpu' });
    try {
      const reloaded = await fresh.edit(image, base);
      expect(Buffer.from(reloaded.image.data).equals(Buffer.from(first.image.data))).toBe(true);
    } finally {
      await fresh.dispose();
    }
    const other = await pipeline.edit(image, { ...base, seed: 8 });
    expect(Buffer.from(other.image.data).equals(Buffer.from(first.image.data))).toBe(false);
  });

  it('re-running with other guidance or seed runs no text encoder and no VAE encoder', async () => {
    const image = gradient(64, 64);
    const first = await pipeline.edit(image, { ...base, instruction: 'turn it into a sketch' });
    expect(first.timings.textEncoderRuns).toBeGreaterThanOrEqual(1);
    const rerun = await pipeline.edit(image, {
      ...base,
      instruction: 'turn it into a sketch',
      textGuidance: 3,
      imageGuidance: 2,
      seed: 99,
    });
    expect(rerun.timings.textEncoderRuns).toBe(0);
    expect(rerun.timings.vaeEncoderRuns).toBe(0);
    const otherImage = gradient(64, 64);
    otherImage.data[0] = 1;
    const changed = await pipeline.edit(otherImage, { ...base, instruction: 'turn it into a sketch' });
    expect(changed.timings.vaeEncoderRuns).toBe(1);
    expect(changed.timings.textEncoderRuns).toBe(0);
  });

  it('an AbortSignal stops the run within one step and the next run is unaffected', async () => {
    const image = gradient(64, 64);
    const settings = { ...base, steps: 10 };
    const controller = new AbortController();
    const seen: EditProgress[] = [];
    await expect(
      pipeline.edit(image, settings, {
        signal: controller.signal,
        onProgress: (progress) => {
          seen.push(progress);
          if (progress.step === 2) controller.abort();
        },
      }),
    ).rejects.toBeInstanceOf(EditCancelledError);
    expect(seen.map((p) => p.step)).toEqual([0, 1, 2]);
    expect(seen[0]?.preview?.width).toBe(8);
    expect(seen[0]?.totalSteps).toBe(10);
    const after = await pipeline.edit(image, settings);
    const fresh = await pipeline.edit(image, settings);
    expect(Buffer.from(after.image.data).equals(Buffer.from(fresh.image.data))).toBe(true);
    await expect(pipeline.edit(image, settings, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(
      EditCancelledError,
    );
  });

  it('rejects invalid settings with every problem named', async () => {
    await expect(
      pipeline.edit(gradient(64, 64), { ...base, instruction: ' ', steps: 0, textGuidance: Number.NaN }),
    ).rejects.toThrow(
      /the instruction is empty; steps must be a whole number from 1 to 150, got 0; text guidance/,
    );
  });

  it('512 mode processes at 512 on the long side and keeps the source for layering', async () => {
    const result = await pipeline.edit(gradient(200, 120), { ...base, resolution: '512', steps: 1 });
    expect([result.image.width, result.image.height]).toEqual([512, 320]);
    expect([result.processedSource.width, result.processedSource.height]).toEqual([512, 320]);
  });
});

describe('bad model folders fail with one clear message', () => {
  async function copyOf(options: TinyModelOptions): Promise<string> {
    const dir = join(root, `broken-${Math.random().toString(36).slice(2)}`);
    await makeTinyModel(dir, options);
    return dir;
  }

  it('a missing folder', async () => {
    await expect(InstructPix2PixPipeline.load(join(root, 'nope'))).rejects.toThrow(
      /Model folder not found: .*nope/,
    );
  });

  it('a missing component file names the file and what it is', async () => {
    const dir = await copyOf({ flavor: 'optimum' });
    unlinkSync(join(dir, 'unet', 'model.onnx'));
    await expect(InstructPix2PixPipeline.load(dir)).rejects.toThrow(
      /incomplete: missing unet\/model\.onnx \(the UNet graph\).*found: .*text_encoder\//,
    );
  });

  it('missing external weights name the external file', async () => {
    const dir = await copyOf({ flavor: 'diffusers' });
    unlinkSync(join(dir, 'unet', 'weights.pb'));
    await expect(InstructPix2PixPipeline.load(dir)).rejects.toThrow(
      /unet\/model\.onnx .*'weights\.pb', which is missing/,
    );
  });

  it('a UNet without 8 input channels', async () => {
    const dir = await copyOf({ flavor: 'optimum', unetInChannels: 4 });
    await expect(InstructPix2PixPipeline.load(dir, { provider: 'cpu' })).rejects.toThrow(
      /unet\/model\.onnx: 'sample' has 4 input channels; an InstructPix2Pix UNet takes 8/,
    );
  });

  it('graphs whose names match no known export', async () => {
    const dir = await copyOf({ flavor: 'optimum' });
    copyFileSync(join(dir, 'vae_decoder', 'model.onnx'), join(dir, 'unet', 'model.onnx'));
    await expect(InstructPix2PixPipeline.load(dir, { provider: 'cpu' })).rejects.toThrow(
      /unet\/model\.onnx: expected an input named 'sample' .*found 'latent_sample'/,
    );
  });

  it('a corrupt graph', async () => {
    const dir = await copyOf({ flavor: 'optimum-legacy' });
    writeFileSync(join(dir, 'vae_encoder', 'model.onnx'), 'not a protobuf');
    await expect(InstructPix2PixPipeline.load(dir, { provider: 'cpu' })).rejects.toThrow(
      /Could not load vae_encoder\/model\.onnx/,
    );
  });

  it('a corrupt scheduler config', async () => {
    const dir = await copyOf({ flavor: 'optimum' });
    writeFileSync(join(dir, 'scheduler', 'scheduler_config.json'), '{ nope');
    await expect(InstructPix2PixPipeline.load(dir)).rejects.toThrow(
      /scheduler_config\.json is not valid JSON/,
    );
  });

  it('an explicit provider that cannot start is an error, not a fallback', async () => {
    const dir = await model({ flavor: 'optimum' });
    await expect(InstructPix2PixPipeline.load(dir, { provider: 'cuda' })).rejects.toThrow(/cuda/i);
    await expect(InstructPix2PixPipeline.load(dir, { provider: 'coreml' })).rejects.toThrow(/coreml/);
  });

  it('auto falls back to CPU with a visible notice', async () => {
    const pipeline = await InstructPix2PixPipeline.load(await model({ flavor: 'optimum' }), {
      provider: 'auto',
    });
    try {
      // This machine has no GPU: whatever auto picked, it says what it could not use.
      if (pipeline.info.provider === 'cpu')
        expect(pipeline.info.providerNotice).toMatch(/Using the cpu execution provider; not available: cuda/);
    } finally {
      await pipeline.dispose();
    }
  });
});
