/**
 * The CLIP loader and the paper's metrics on generated tiny CLIP models. The analytic model's
 * embeddings follow formulas (see tiny-clip.ts), recomputed here from the preprocessed pixels and the
 * token ids, so the embeddings and every metric are checked against an independent computation.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RgbImage } from '../../../src/shared/engine-types';
import { ClipModel, ClipModelError, inspectClipFolder } from '../../../src/main/engine/clip/clip-model';
import { editMetrics, measureEdit, pixelDistances } from '../../../src/main/engine/clip/metrics';
import { makeTinyClipModel } from '../../../src/main/engine/tiny-model/tiny-clip';
import { cos, dot, expectedImage, expectedText } from './analytic-clip';

const root = mkdtempSync(join(tmpdir(), 'ip2p-clip-'));
const dirs = {
  split: join(root, 'split'),
  combined: join(root, 'combined'),
  random: join(root, 'random'),
  half: join(root, 'half-precision'),
};

beforeAll(async () => {
  await makeTinyClipModel(dirs.split, { layout: 'split', kind: 'analytic' });
  await makeTinyClipModel(dirs.combined, { layout: 'combined', kind: 'analytic' });
  await makeTinyClipModel(dirs.random, { layout: 'split', kind: 'random' });
  await makeTinyClipModel(dirs.half, { layout: 'combined', kind: 'analytic', precision: 'float16' });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function picture(width: number, height: number, f: (x: number, y: number, c: number) => number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = f(x, y, c);
  return { width, height, data };
}

const warm = picture(300, 240, (x, y, c) => (c === 0 ? 200 + (x % 50) : c === 1 ? 80 + (y % 60) : 40));
const cool = picture(240, 300, (x, y, c) => (c === 2 ? 190 + ((x + y) % 60) : c === 1 ? 120 : 30 + (x % 20)));

describe('metric math', () => {
  it('image similarity, CLIP-T and directional similarity on hand-made vectors', () => {
    const m = editMetrics({
      sourceImage: Float32Array.from([1, 0, 0]),
      resultImage: Float32Array.from([0.6, 0.8, 0]),
      captionBefore: Float32Array.from([1, 0, 0]),
      captionAfter: Float32Array.from([0, 1, 0]),
    });
    expect(m.imageSimilarity).toBeCloseTo(0.6, 6);
    expect(m.clipT).toBeCloseTo(0.8, 6);
    // (−0.4, 0.8, 0) · (−1, 1, 0) / (√0.8 · √2)
    expect(m.directionalSimilarity).toBeCloseTo(1.2 / Math.sqrt(1.6), 6);
  });

  it('leaves out what the captions cannot give, and an unchanged picture has direction 0', () => {
    const v = Float32Array.from([0, 1]);
    expect(editMetrics({ sourceImage: v, resultImage: v })).toEqual({
      imageSimilarity: 1,
      clipT: null,
      directionalSimilarity: null,
    });
    const same = editMetrics({
      sourceImage: v,
      resultImage: v,
      captionBefore: v,
      captionAfter: Float32Array.from([1, 0]),
    });
    expect(same.directionalSimilarity).toBe(0);
  });

  it('L1 and L2 on the 0..1 scale', () => {
    const a = picture(2, 1, () => 0);
    const b = picture(2, 1, (x) => (x === 0 ? 255 : 51));
    const d = pixelDistances(a, b);
    expect(d.l1).toBeCloseTo((1 + 0.2) / 2, 9);
    expect(d.l2).toBeCloseTo((1 + 0.04) / 2, 9);
  });
});

describe.each(['split', 'combined'] as const)('analytic tiny CLIP, %s layout', (layout) => {
  let clip: ClipModel;
  beforeAll(async () => {
    clip = await ClipModel.load(dirs[layout], { provider: 'cpu' });
  });
  afterAll(() => clip.dispose());

  it('finds the layout', () => {
    expect(inspectClipFolder(dirs[layout]).kind).toBe(layout);
    expect(clip.layout.kind).toBe(layout);
  });

  it('image embeddings match the formula on CLIP-preprocessed pixels', async () => {
    const [a, b] = await clip.embedImages([warm, cool]);
    const ea = await expectedImage(warm);
    const eb = await expectedImage(cool);
    ea.forEach((v, j) => expect(a![j]).toBeCloseTo(v, 4));
    eb.forEach((v, j) => expect(b![j]).toBeCloseTo(v, 4));
    expect(cos(a!, b!)).toBeLessThan(0.99);
  });

  it('text embeddings match the formula on the tokenizer ids', async () => {
    const texts = ['a photo of a red house', 'make it snowy'];
    const embedded = await clip.embedTexts(texts);
    for (let i = 0; i < texts.length; i++) {
      const expected = await expectedText(dirs[layout], texts[i]!, layout === 'combined');
      expected.forEach((v, j) => expect(embedded[i]![j]).toBeCloseTo(v, 4));
    }
  });

  it('embed() (one run for the combined graph) gives what embedImages and embedTexts give', async () => {
    const both = await clip.embed([warm, cool], ['add snow', 'make it night']);
    const images = await clip.embedImages([warm, cool]);
    const texts = await clip.embedTexts(['add snow', 'make it night']);
    both.images.forEach((e, i) => e.forEach((v, j) => expect(v).toBeCloseTo(images[i]![j]!, 6)));
    both.texts.forEach((e, i) => e.forEach((v, j) => expect(v).toBeCloseTo(texts[i]![j]!, 6)));
  });

  it('measureEdit gives the metrics recomputed from the expected embeddings', async () => {
    const before = 'a warm orange picture';
    const after = 'a cool blue picture';
    const m = await measureEdit(clip, warm, cool, { before, after });
    const s = await expectedImage(warm);
    const r = await expectedImage(cool);
    const tb = await expectedText(dirs[layout], before, layout === 'combined');
    const ta = await expectedText(dirs[layout], after, layout === 'combined');
    expect(m.imageSimilarity).toBeCloseTo(cos(s, r), 4);
    expect(m.clipT).toBeCloseTo(cos(r, ta), 4);
    const di = r.map((v, j) => v - s[j]!);
    const dt = ta.map((v, j) => v - tb[j]!);
    expect(m.directionalSimilarity).toBeCloseTo(cos(di, dt), 4);
    const onlyAfter = await measureEdit(clip, warm, cool, { after });
    expect(onlyAfter.clipT).toBeCloseTo(cos(r, ta), 4);
    expect(onlyAfter.directionalSimilarity).toBeNull();
  });
});

describe('float16 CLIP export', () => {
  it('takes float16 pixel_values and gives the float32 model’s embeddings to float16 precision', async () => {
    const clip = await ClipModel.load(dirs.half, { provider: 'cpu' });
    try {
      const { images, texts } = await clip.embed([warm, cool], ['add snow']);
      const expected = [await expectedImage(warm), await expectedImage(cool)];
      images.forEach((e, i) => expected[i]!.forEach((v, j) => expect(e[j]).toBeCloseTo(v, 2)));
      const text = await expectedText(dirs.half, 'add snow', true);
      text.forEach((v, j) => expect(texts[0]![j]).toBeCloseTo(v, 2));
    } finally {
      await clip.dispose();
    }
  });
});

describe('random tiny CLIP', () => {
  it('gives unit, distinct, repeatable embeddings', async () => {
    const clip = await ClipModel.load(dirs.random, { provider: 'cpu' });
    try {
      const [a, b, a2] = await clip.embedImages([warm, cool, warm]);
      expect(dot(a!, a!)).toBeCloseTo(1, 5);
      expect(cos(a!, b!)).toBeLessThan(0.999);
      expect([...a2!]).toEqual([...a!]);
      const [t1, t2] = await clip.embedTexts(['add snow', 'make it night']);
      expect(cos(t1!, t2!)).toBeLessThan(0.999);
    } finally {
      await clip.dispose();
    }
  });
});

describe('folders that are not CLIP exports', () => {
  it('names what is missing', () => {
    const empty = join(root, 'empty');
    mkdirSync(empty);
    expect(() => inspectClipFolder(empty)).toThrow(ClipModelError);
    expect(() => inspectClipFolder(empty)).toThrow(/text_model\.onnx \+ vision_model\.onnx, or model\.onnx/);
    const half = join(root, 'half');
    mkdirSync(join(half, 'onnx'), { recursive: true });
    writeFileSync(join(half, 'onnx', 'text_model.onnx'), 'x');
    expect(() => inspectClipFolder(half)).toThrow(/but not vision_model\.onnx/);
    expect(() => inspectClipFolder(join(root, 'nowhere'))).toThrow(/not found/);
  });
});
