import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EditSettings, RgbImage } from '../../src/shared/engine-types';
import {
  editPeakBytes,
  InsufficientMemoryError,
  largestFittingSize,
  planMemory,
} from '../../src/main/engine/memory-budget';
import { InstructPix2PixPipeline, type PipelineLoadOptions } from '../../src/main/engine/pipeline';
import { makeTinyModel, type TinyModelPrecision } from '../../src/main/engine/tiny-model/tiny-model';

const root = mkdtempSync(join(tmpdir(), 'ip2p-memory-'));
const dirs: Partial<Record<TinyModelPrecision, string>> = {};

beforeAll(async () => {
  for (const precision of ['float32', 'float16'] as const) {
    dirs[precision] = join(root, precision);
    await makeTinyModel(dirs[precision], { flavor: 'optimum', precision });
  }
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function picture(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 + ((i / 3) >> 4) * 11) % 256;
  return { width, height, data };
}

const settings: EditSettings = {
  instruction: 'make it red',
  steps: 3,
  textGuidance: 7.5,
  imageGuidance: 1.5,
  seed: 11,
  scheduler: 'euler-ancestral',
  resolution: 'native',
};

async function editWith(
  precision: TinyModelPrecision,
  options: PipelineLoadOptions,
  run: EditSettings = settings,
): Promise<{ pixels: Uint8Array; latents: Float32Array; loaded: string[]; reopened: number; calls: number }> {
  const pipeline = await InstructPix2PixPipeline.load(dirs[precision]!, { provider: 'cpu', ...options });
  try {
    const image = picture(64, 64);
    const result = await pipeline.edit(image, run);
    const calls = pipeline.counters.unetRuns;
    const loaded = pipeline.loadedSessions();
    // The latents of the same run, through the public stages, for a tighter comparison than pixels.
    const latents = await pipeline.denoise({
      imageLatents: await pipeline.imageLatents(image),
      latentWidth: 8,
      latentHeight: 8,
      instruction: (await pipeline.textEmbedding(run.instruction)).embedding,
      empty: (await pipeline.textEmbedding('')).embedding,
      settings: run,
    });
    return { pixels: result.image.data, latents, loaded, reopened: pipeline.vaeReopenCount(), calls };
  } finally {
    await pipeline.dispose();
  }
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

describe('every memory option gives the same pixels for a fixed seed', () => {
  for (const precision of ['float32', 'float16'] as const) {
    it(`${precision}: batched or in sequence, VAE resident or on demand, 1 or 2 threads`, async () => {
      const reference = await editWith(precision, { unetBatch: 'all-rows', vaeSessions: 'resident' });
      expect(reference.calls).toBe(3);
      expect(reference.loaded).toEqual(['text_encoder', 'unet', 'vae_encoder', 'vae_decoder']);
      const combinations: PipelineLoadOptions[] = [
        { unetBatch: 'row-by-row', vaeSessions: 'resident' },
        { unetBatch: 'all-rows', vaeSessions: 'on-demand' },
        { unetBatch: 'row-by-row', vaeSessions: 'on-demand', threads: 1 },
        { memoryBudget: 'auto', threads: 2 },
      ];
      // fp32 rounding only: batched and single-row kernels may sum in another order.
      const latentTolerance = precision === 'float16' ? 5e-3 : 1e-5;
      for (const options of combinations) {
        const other = await editWith(precision, options);
        expect(maxDiff(other.latents, reference.latents), JSON.stringify(options)).toBeLessThan(
          latentTolerance,
        );
        expect(maxDiff(other.pixels, reference.pixels), JSON.stringify(options)).toBeLessThanOrEqual(1);
        if (options.unetBatch === 'row-by-row') expect(other.calls).toBe(9);
        if (options.vaeSessions === 'on-demand') {
          expect(other.loaded).toEqual(['text_encoder', 'unet']);
          // Released after load, reopened for the encoder and the decoder of the edit.
          expect(other.reopened).toBeGreaterThanOrEqual(2);
        }
      }
      // A different seed moves the pixels well beyond that tolerance, so the comparison can fail.
      const otherSeed = await editWith(precision, {}, { ...settings, seed: 12 });
      expect(maxDiff(otherSeed.pixels, reference.pixels)).toBeGreaterThan(8);
    });
  }

  it('two guidance rows (image guidance 1) match in sequence too', async () => {
    const run = { ...settings, imageGuidance: 1 };
    const batched = await editWith('float32', { unetBatch: 'all-rows' }, run);
    const sequence = await editWith('float32', { unetBatch: 'row-by-row' }, run);
    expect(batched.calls).toBe(3);
    expect(sequence.calls).toBe(6);
    expect(maxDiff(sequence.latents, batched.latents)).toBeLessThan(1e-5);
  });
});

describe('an edit that cannot fit the budget', () => {
  it('is refused before anything runs, naming the largest size that fits', async () => {
    const budget = 600 * 1024 ** 2;
    const pipeline = await InstructPix2PixPipeline.load(dirs.float32!, {
      provider: 'cpu',
      memoryBudget: budget,
    });
    try {
      // 1024×768: 128×96 latent tokens; the tiny UNet's 2 heads need GBs of attention scores.
      const error = await pipeline.edit(picture(1024, 768), settings).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(InsufficientMemoryError);
      const fits = largestFittingSize(pipeline.dimensions, 1024, 768, 3, budget)!;
      expect(fits.width).toBeLessThan(1024);
      expect(fits.width).toBeGreaterThan(fits.height);
      expect((error as Error).message).toMatch(
        new RegExp(
          `A 1024×768 edit needs about [\\d.]+ GB .* budget is 600 MB; the largest size that fits is ${fits.width}×${fits.height}`,
        ),
      );
      expect(pipeline.counters).toMatchObject({ textEncoderRuns: 0, vaeEncoderRuns: 0, unetRuns: 0 });
      // The named size does run, and chooses rows in sequence when batching would not fit.
      const plan = pipeline.memoryPlan(fits.width, fits.height, 3);
      expect(
        planMemory(pipeline.dimensions, { width: fits.width, height: fits.height, rows: 3, budget }),
      ).toEqual(plan);
      const result = await pipeline.edit(picture(fits.width, fits.height), { ...settings, steps: 1 });
      expect([result.image.width, result.image.height]).toEqual([fits.width, fits.height]);
      expect(pipeline.counters.unetRuns).toBe(3 / plan.unetBatch);
    } finally {
      await pipeline.dispose();
    }
  });

  it('a budget that fits rows in sequence but not one batch of three runs the rows one by one', async () => {
    const probe = await InstructPix2PixPipeline.load(dirs.float32!, { provider: 'cpu' });
    const dims = probe.dimensions;
    await probe.dispose();
    const size = 256;
    const budget = editPeakBytes(dims, size, size, 1, 'resident');
    expect(editPeakBytes(dims, size, size, 3, 'on-demand')).toBeGreaterThan(budget);
    const pipeline = await InstructPix2PixPipeline.load(dirs.float32!, {
      provider: 'cpu',
      memoryBudget: budget,
    });
    try {
      expect(pipeline.memoryPlan(size, size, 3)).toMatchObject({ unetBatch: 1, vaeSessions: 'resident' });
      await pipeline.edit(picture(size, size), { ...settings, steps: 2 });
      expect(pipeline.counters.unetRuns).toBe(2 * 3);
      expect(pipeline.loadedSessions()).toEqual(['text_encoder', 'unet', 'vae_encoder', 'vae_decoder']);
    } finally {
      await pipeline.dispose();
    }
  });

  it('rejects a thread count that is not a positive whole number', async () => {
    await expect(
      InstructPix2PixPipeline.load(dirs.float32!, { provider: 'cpu', threads: 0 }),
    ).rejects.toThrow(/threads must be a whole number of at least 1, got 0/);
  });
});
