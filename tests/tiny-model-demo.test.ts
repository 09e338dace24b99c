/**
 * The 'demo' tiny model through the real pipeline: colour words tint the picture, anything else
 * keeps it. Before/after PNGs go to test-output/tiny-model-demo/ for a look by eye.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_EDIT_SETTINGS, type EditSettings, type RgbImage } from '../src/shared/engine-types';
import { InstructPix2PixPipeline } from '../src/main/engine/pipeline';
import { parseSchedulerConfig } from '../src/main/engine/schedulers/config';
import { alphasCumprod, sigmaAt, trainingSigmas } from '../src/main/engine/schedulers/noise-schedule';
import { DEMO_COLOURS, DEMO_TINT_STRENGTH, demoColourLatent } from '../src/main/engine/tiny-model/demo-model';
import {
  makeTinyModel,
  SCHEDULER_CONFIG,
  TINY_WIDTHS,
  type TinyModelFlavor,
  type TinyModelPrecision,
} from '../src/main/engine/tiny-model/tiny-model';
import { cli } from './engine/cli-helpers';

const ROOT = join(__dirname, '..');
const OUTPUT = join(ROOT, 'test-output/tiny-model-demo');
const PHOTO = join(ROOT, 'tests/e2e/fixtures/photo.png');
const D = TINY_WIDTHS.textHidden;

const root = mkdtempSync(join(tmpdir(), 'tiny-model-demo-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function readPhoto(): Promise<RgbImage> {
  const { data, info } = await sharp(PHOTO).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}

async function savePng(image: RgbImage, name: string): Promise<void> {
  mkdirSync(OUTPUT, { recursive: true });
  await sharp(Buffer.from(image.data), { raw: { width: image.width, height: image.height, channels: 3 } })
    .png()
    .toFile(join(OUTPUT, name));
}

function channelMeans(image: RgbImage): [number, number, number] {
  const sums = [0, 0, 0];
  for (let i = 0; i < image.data.length; i++) sums[i % 3]! += image.data[i]!;
  const n = image.width * image.height;
  return [sums[0]! / n, sums[1]! / n, sums[2]! / n];
}

function luminance(image: RgbImage): Float64Array {
  const out = new Float64Array(image.width * image.height);
  for (let p = 0; p < out.length; p++) {
    const d = image.data;
    out[p] = 0.299 * d[p * 3]! + 0.587 * d[p * 3 + 1]! + 0.114 * d[p * 3 + 2]!;
  }
  return out;
}

function correlation(a: Float64Array, b: Float64Array): number {
  const n = a.length;
  const meanA = a.reduce((s, v) => s + v, 0) / n;
  const meanB = b.reduce((s, v) => s + v, 0) / n;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < n; i++) {
    ab += (a[i]! - meanA) * (b[i]! - meanB);
    aa += (a[i]! - meanA) ** 2;
    bb += (b[i]! - meanB) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

function meanAbsDiff(a: RgbImage, b: RgbImage): number {
  expect([a.width, a.height]).toEqual([b.width, b.height]);
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) sum += Math.abs(a.data[i]! - b.data[i]!);
  return sum / a.data.length;
}

/** How the edit moved the picture: channel means before/after, luminance correlation, mean |Δ|. */
function compare(source: RgbImage, result: RgbImage) {
  const before = channelMeans(source);
  const after = channelMeans(result);
  return {
    before,
    after,
    shift: after.map((v, c) => v - before[c]!) as [number, number, number],
    lumaCorrelation: correlation(luminance(source), luminance(result)),
    meanAbsDiff: meanAbsDiff(source, result),
  };
}

const settings = (instruction: string, overrides: Partial<EditSettings> = {}): EditSettings => ({
  ...DEFAULT_EDIT_SETTINGS,
  instruction,
  seed: 42,
  ...overrides,
});

describe('the demo model through the real pipeline (default settings: 20 Euler-ancestral steps, 7.5 / 1.5)', () => {
  let pipeline: InstructPix2PixPipeline;
  let photo: RgbImage;

  beforeAll(async () => {
    const dir = join(root, 'demo');
    await makeTinyModel(dir, { kind: 'demo' });
    pipeline = await InstructPix2PixPipeline.load(dir, { provider: 'cpu' });
    photo = await readPhoto();
  });
  afterAll(async () => pipeline?.dispose());

  it('"make it red" casts the photo red and keeps its structure', async () => {
    const result = await pipeline.edit(photo, settings('make it red'));
    await savePng(result.processedSource, 'before.png');
    await savePng(result.image, 'after-make-it-red.png');
    const stats = compare(result.processedSource, result.image);
    expect(stats.shift[0]).toBeGreaterThan(25);
    expect(stats.shift[1]).toBeLessThan(-25);
    expect(stats.shift[2]).toBeLessThan(-25);
    expect(stats.lumaCorrelation).toBeGreaterThan(0.95);
    // A cast, not a flood: the red channel still spans the picture's tones.
    expect(stats.after[0]).toBeLessThan(200);
  });

  it('"make it blue" casts it blue', async () => {
    const result = await pipeline.edit(photo, settings('make it blue'));
    await savePng(result.image, 'after-make-it-blue.png');
    const stats = compare(result.processedSource, result.image);
    expect(stats.shift[2]).toBeGreaterThan(20);
    expect(stats.shift[0]).toBeLessThan(-20);
    expect(stats.lumaCorrelation).toBeGreaterThan(0.95);
  });

  it('an instruction without a colour word keeps the picture', async () => {
    const result = await pipeline.edit(photo, settings('add a hat'));
    await savePng(result.image, 'after-add-a-hat.png');
    const stats = compare(result.processedSource, result.image);
    for (const shift of stats.shift) expect(Math.abs(shift)).toBeLessThan(1.5);
    expect(stats.meanAbsDiff).toBeLessThan(5);
    expect(stats.lumaCorrelation).toBeGreaterThan(0.97);
  });

  it('is deterministic for a seed; another seed gives the same cast', async () => {
    const first = await pipeline.edit(photo, settings('make it red'));
    const again = await pipeline.edit(photo, settings('make it red'));
    expect(Buffer.from(again.image.data).equals(Buffer.from(first.image.data))).toBe(true);
    const other = await pipeline.edit(photo, settings('make it red', { seed: 7 }));
    expect(Buffer.from(other.image.data).equals(Buffer.from(first.image.data))).toBe(false);
    const a = channelMeans(first.image);
    const b = channelMeans(other.image);
    for (let c = 0; c < 3; c++) expect(Math.abs(a[c]! - b[c]!)).toBeLessThan(1);
  });

  it('takes the mean of the colour words: repeats change nothing, two colours mix', async () => {
    const red = await pipeline.edit(photo, settings('make it red'));
    const loud = await pipeline.edit(photo, settings('Make it RED, red!'));
    expect(Buffer.from(loud.image.data).equals(Buffer.from(red.image.data))).toBe(true);
    const blue = await pipeline.edit(photo, settings('make it blue'));
    const both = await pipeline.edit(photo, settings('make it red and blue'));
    const [r, , b] = channelMeans(both.image);
    const redMeans = channelMeans(red.image);
    const blueMeans = channelMeans(blue.image);
    expect(r).toBeLessThan(redMeans[0]! - 10);
    expect(r).toBeGreaterThan(blueMeans[0]! + 10);
    expect(b).toBeGreaterThan(redMeans[2]! + 10);
    expect(b).toBeLessThan(blueMeans[2]! - 10);
  });

  it('less image guidance or more text guidance makes a stronger cast', async () => {
    const shiftOf = async (overrides: Partial<EditSettings>): Promise<number> => {
      const result = await pipeline.edit(photo, settings('make it red', overrides));
      return compare(result.processedSource, result.image).shift[0];
    };
    const standard = await shiftOf({});
    expect(await shiftOf({ imageGuidance: 1 })).toBeGreaterThan(standard + 5);
    expect(await shiftOf({ textGuidance: 3 })).toBeLessThan(standard - 5);
  });

  it('every scheduler gives the cast and keeps the picture without a colour word', async () => {
    const cases: Partial<EditSettings>[] = [
      { scheduler: 'euler' },
      { scheduler: 'ddim' },
      { scheduler: 'dpmpp-2m' },
      { scheduler: 'dpmpp-2m', karrasSigmas: true },
      { scheduler: 'euler-ancestral', steps: 50 },
    ];
    for (const overrides of cases) {
      const label = JSON.stringify(overrides);
      const red = await pipeline.edit(photo, settings('make it red', overrides));
      const redStats = compare(red.processedSource, red.image);
      expect(redStats.shift[0], label).toBeGreaterThan(25);
      expect(redStats.lumaCorrelation, label).toBeGreaterThan(0.95);
      const plain = await pipeline.edit(photo, settings('add a hat', overrides));
      expect(compare(plain.processedSource, plain.image).meanAbsDiff, label).toBeLessThan(5);
    }
  });
});

describe('the demo model in every export flavor and precision', () => {
  const flavors: TinyModelFlavor[] = ['diffusers', 'optimum-legacy', 'optimum'];
  const precisions: TinyModelPrecision[] = ['float32', 'float16'];
  for (const flavor of flavors) {
    for (const precision of precisions) {
      it(`${flavor} ${precision}: the same I/O as the analytic kind, and a red cast`, async () => {
        const demoDir = join(root, `demo-${flavor}-${precision}`);
        const analyticDir = join(root, `analytic-${flavor}-${precision}`);
        await makeTinyModel(demoDir, { kind: 'demo', flavor, precision });
        await makeTinyModel(analyticDir, { kind: 'analytic', flavor, precision });
        const demo = await InstructPix2PixPipeline.load(demoDir, { provider: 'cpu' });
        const analytic = await InstructPix2PixPipeline.load(analyticDir, { provider: 'cpu' });
        try {
          expect(demo.info.components).toEqual(analytic.info.components);
          expect(demo.info.flavor).toBe(flavor);
          expect(demo.info.precision).toBe(precision);
          const photo = await readPhoto();
          const red = await demo.edit(photo, settings('make it red', { steps: 10 }));
          const stats = compare(red.processedSource, red.image);
          expect(stats.shift[0]).toBeGreaterThan(25);
          expect(stats.shift[2]).toBeLessThan(-25);
          expect(stats.lumaCorrelation).toBeGreaterThan(0.95);
        } finally {
          await Promise.all([demo.dispose(), analytic.dispose()]);
        }
      });
    }
  }
});

describe('the demo graphs', () => {
  let dir = '';
  beforeAll(async () => {
    dir = join(root, 'graphs');
    await makeTinyModel(dir, { kind: 'demo' });
  });
  const session = (component: string): Promise<ort.InferenceSession> =>
    ort.InferenceSession.create(join(dir, component, 'model.onnx'));

  it('the text encoder maps each colour word to its colour and other tokens to zero', async () => {
    const pipeline = await InstructPix2PixPipeline.load(dir, { provider: 'cpu' });
    try {
      for (const [word, rgb] of Object.entries(DEMO_COLOURS)) {
        const { embedding } = await pipeline.textEmbedding(`make it ${word}`);
        // <|startoftext|> make it WORD <|endoftext|>…: the colour sits at position 3.
        const row = embedding.data.subarray(3 * D, 3 * D + 5);
        const expected = [...demoColourLatent(rgb), 1];
        for (let j = 0; j < 5; j++) expect(row[j], `${word}[${j}]`).toBeCloseTo(expected[j]!, 6);
        let elsewhere = 0;
        for (let i = 0; i < embedding.data.length; i++) {
          if (i < 3 * D || i >= 4 * D) elsewhere = Math.max(elsewhere, Math.abs(embedding.data[i]!));
        }
        expect(elsewhere, word).toBe(0);
      }
    } finally {
      await pipeline.dispose();
    }
  });

  it('the UNet is an exact ε-predictor for the scheduler noise schedule, at fractional timesteps', async () => {
    const unet = await session('unet');
    const sigmas = trainingSigmas(alphasCumprod(parseSchedulerConfig(SCHEDULER_CONFIG)));
    const [H, W, S] = [4, 6, 77];
    const plane = H * W;
    const red = demoColourLatent(DEMO_COLOURS.red!);
    // Image latents: a deterministic pattern in [-1, 1].
    const image = new Float32Array(4 * plane);
    for (let i = 0; i < image.length; i++) image[i] = Math.sin(i * 1.7) * 0.9;
    const noise = new Float32Array(4 * plane);
    for (let i = 0; i < noise.length; i++) noise[i] = Math.cos(i * 2.3) * 1.3;

    // Two of the 20-step linspace timesteps, an integer one and one between t = 0 and 1.
    for (const t of [(999 * 18) / 19, 500, 999 / 19, 0.5]) {
      const sigma = sigmaAt(sigmas, t);
      const signalScale = 1 / Math.sqrt(sigma * sigma + 1);
      const noiseScale = sigma * signalScale;
      // Row 0: "make it red" with the image; row 1: no colour, with the image; row 2: no image.
      const sample = new Float32Array(3 * 8 * plane);
      const expected = new Float32Array(3 * 4 * plane);
      for (let i = 0; i < 4 * plane; i++) {
        const c = Math.floor(i / plane);
        const tinted = image[i]! + DEMO_TINT_STRENGTH * (red[c]! - image[i]!);
        sample[i] = signalScale * tinted + noiseScale * noise[i]!;
        sample[4 * plane + i] = image[i]!;
        sample[8 * plane + i] = signalScale * image[i]! + noiseScale * noise[i]!;
        sample[12 * plane + i] = image[i]!;
        sample[16 * plane + i] = 0.25 * (c - 1.5); // flat per channel: nothing to smooth away
        expected[i] = noise[i]!;
        expected[4 * plane + i] = noise[i]!;
        expected[8 * plane + i] = 0;
      }
      const hidden = new Float32Array(3 * S * D);
      hidden.set([...red, 1], 3 * D);
      const result = await unet.run({
        sample: new ort.Tensor('float32', sample, [3, 8, H, W]),
        timestep: new ort.Tensor('float32', Float32Array.of(t), []),
        encoder_hidden_states: new ort.Tensor('float32', hidden, [3, S, D]),
      });
      const out = result.out_sample!.data as Float32Array;
      let worst = 0;
      for (let i = 0; i < out.length; i++) worst = Math.max(worst, Math.abs(out[i]! - expected[i]!));
      expect(worst, `t = ${t}`).toBeLessThan(t < 1 ? 1e-3 : 1e-4);
    }
  });
});

describe('cli make-tiny-model --demo', () => {
  it('writes a demo model that tints blue', async () => {
    const dir = join(root, 'cli-demo');
    const made = await cli(['make-tiny-model', dir, '--demo', '--flavor', 'diffusers']);
    expect(made.code).toBe(0);
    expect(made.stdout).toMatch(/float32 diffusers demo model/);
    const pipeline = await InstructPix2PixPipeline.load(dir, { provider: 'cpu' });
    try {
      const result = await pipeline.edit(await readPhoto(), settings('make it blue', { steps: 8 }));
      expect(compare(result.processedSource, result.image).shift[2]).toBeGreaterThan(20);
    } finally {
      await pipeline.dispose();
    }
  });

  it('refuses --analytic with --demo', async () => {
    const result = await cli(['make-tiny-model', join(root, 'both'), '--analytic', '--demo']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--analytic and --demo/);
  });
});
