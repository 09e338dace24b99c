import { beforeAll, describe, expect, it } from 'vitest';
import { placeResult, type ProcessedPair } from '../../src/main/document/placement';
import { processingSize, resizeRgb } from '../../src/main/engine/image-io';
import type { RgbImage } from '../../src/shared/engine-types';

/** Seeded noise around mid grey (±`amplitude`): detail at the finest scale, in every channel. */
function noise(width: number, height: number, amplitude: number, seed = 7): RgbImage {
  const data = new Uint8Array(width * height * 3);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    data[i] = 128 - amplitude + Math.floor(((s >>> 16) / 65536) * (2 * amplitude + 1));
  }
  return { width, height, data };
}

interface Rect {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** A simulated model result: the processed source with ±1 jitter everywhere and a flat colour in `rect`. */
function simulatedResult(processed: RgbImage, rect: Rect, colour: [number, number, number]): RgbImage {
  const data = new Uint8Array(processed.data);
  let s = 99;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    data[i] = Math.max(0, Math.min(255, (data[i] as number) + ((s >>> 16) % 3) - 1));
  }
  for (let y = rect.y0; y < rect.y1; y++) {
    for (let x = rect.x0; x < rect.x1; x++) data.set(colour, (y * processed.width + x) * 3);
  }
  return { width: processed.width, height: processed.height, data };
}

function inside(r: Rect, x: number, y: number, margin = 0): boolean {
  return x >= r.x0 - margin && x < r.x1 + margin && y >= r.y0 - margin && y < r.y1 + margin;
}

interface RegionStats {
  maxAbsDiff: number;
  meanAbsDiff: number;
  /** Mean |p(x+1, y) − p(x, y)|: how much pixel-scale detail there is. */
  detail: number;
  mean: [number, number, number];
  count: number;
}

function stats(
  image: RgbImage,
  reference: RgbImage,
  include: (x: number, y: number) => boolean,
): RegionStats {
  let maxAbsDiff = 0;
  let sumAbs = 0;
  let detail = 0;
  const sum = [0, 0, 0];
  let count = 0;
  const { width, height, data } = image;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width - 1; x++) {
      if (!include(x, y)) continue;
      const i = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) {
        const v = data[i + c] as number;
        const d = Math.abs(v - (reference.data[i + c] as number));
        if (d > maxAbsDiff) maxAbsDiff = d;
        sumAbs += d;
        detail += Math.abs((data[i + 3 + c] as number) - v);
        sum[c] = (sum[c] as number) + v;
      }
      count++;
    }
  }
  return {
    maxAbsDiff,
    meanAbsDiff: sumAbs / (count * 3),
    detail: detail / (count * 3),
    mean: [(sum[0] as number) / count, (sum[1] as number) / count, (sum[2] as number) / count],
    count,
  };
}

/** Centroid of the pixels whose red channel moved by more than `threshold` from the source. */
function changedCentroid(
  out: RgbImage,
  source: RgbImage,
  threshold: number,
): { x: number; y: number; n: number } {
  let sx = 0;
  let sy = 0;
  let n = 0;
  for (let y = 0; y < out.height; y++) {
    for (let x = 0; x < out.width; x++) {
      const i = (y * out.width + x) * 3;
      if ((out.data[i] as number) - (source.data[i] as number) > threshold) {
        sx += x;
        sy += y;
        n++;
      }
    }
  }
  return { x: sx / n, y: sy / n, n };
}

/**
 * Centroid of the red change (out − reference, signed) over the whole image, in continuous coordinates
 * (pixel x spans [x, x + 1)). Resampling preserves it, scaled: a shifted layer moves it.
 */
function weightedCentroid(out: RgbImage, reference: RgbImage): { x: number; y: number } {
  let sx = 0;
  let sy = 0;
  let sum = 0;
  for (let y = 0; y < out.height; y++) {
    for (let x = 0; x < out.width; x++) {
      const i = (y * out.width + x) * 3;
      const d = (out.data[i] as number) - (reference.data[i] as number);
      sx += d * (x + 0.5);
      sy += d * (y + 0.5);
      sum += d;
    }
  }
  return { x: sx / sum, y: sy / sum };
}

const RED: [number, number, number] = [220, 40, 40];

describe('placeResult', () => {
  // A 1024×768 document of fine noise; the model ran at 512×384 and painted a red rectangle in the
  // top-left quarter: low-res x 64..192, y 48..144 → full-res x 128..384, y 96..288.
  const W = 1024;
  const H = 768;
  const low: Rect = { x0: 64, y0: 48, x1: 192, y1: 144 };
  const full: Rect = { x0: 128, y0: 96, x1: 384, y1: 288 };
  let source: RgbImage;
  let pair: ProcessedPair;
  let delta: RgbImage;
  let upscale: RgbImage;

  beforeAll(async () => {
    source = noise(W, H, 40);
    expect(processingSize(W, H, '512')).toEqual({ width: 512, height: 384 });
    const processedSource = await resizeRgb(source, 512, 384);
    pair = { image: simulatedResult(processedSource, low, RED), processedSource };
    delta = await placeResult(source, pair, 'delta');
    upscale = await placeResult(source, pair, 'upscale');
  });

  it('returns exactly the source size in both modes', () => {
    for (const out of [delta, upscale]) {
      expect([out.width, out.height]).toEqual([W, H]);
      expect(out.data.length).toBe(W * H * 3);
    }
  });

  it("'delta' keeps the untouched regions' full-resolution detail; 'upscale' loses it", () => {
    // Away from the rectangle (the resampling kernel reaches a few pixels past its edges).
    const untouched = (x: number, y: number): boolean => !inside(full, x, y, 12);
    const src = stats(source, source, untouched);
    const d = stats(delta, source, untouched);
    const u = stats(upscale, source, untouched);
    expect(src.count).toBeGreaterThan(700_000);
    // Delta: the source itself, up to the model's ±1 jitter (resampled).
    expect(d.maxAbsDiff).toBeLessThanOrEqual(2);
    expect(d.meanAbsDiff).toBeLessThan(0.8);
    expect(d.detail).toBeGreaterThan(src.detail * 0.97);
    expect(d.detail).toBeLessThan(src.detail * 1.03);
    // Upscale: the 512×384 result blown up; the noise is mostly averaged away.
    expect(src.detail).toBeGreaterThan(20);
    expect(u.detail).toBeLessThan(src.detail * 0.5);
    expect(u.meanAbsDiff).toBeGreaterThan(10);
    expect(u.maxAbsDiff).toBeGreaterThan(30);
  });

  it('the changed region gets the change', () => {
    const core = (x: number, y: number): boolean =>
      x >= full.x0 + 12 && x < full.x1 - 12 && y >= full.y0 + 12 && y < full.y1 - 12;
    for (const out of [delta, upscale]) {
      const s = stats(out, source, core);
      s.mean.forEach((v, c) => expect(Math.abs(v - (RED[c] as number)), `channel ${c}`).toBeLessThan(4));
    }
    // Every delta pixel there is clearly red (source detail ± the change).
    for (let y = full.y0 + 12; y < full.y1 - 12; y++) {
      for (let x = full.x0 + 12; x < full.x1 - 12; x++) {
        const i = (y * W + x) * 3;
        const [r, g, b] = [delta.data[i] as number, delta.data[i + 1] as number, delta.data[i + 2] as number];
        if (r < 150 || g > 110 || b > 110) expect.fail(`pixel ${x},${y} is ${r},${g},${b}, not red`);
      }
    }
  });

  it('is aligned: the changed region sits exactly where the model put it, in both modes', async () => {
    // Full-res pixels 128..383 × 96..287: centre (255.5, 191.5).
    const unchanged = await resizeRgb(pair.processedSource, W, H);
    for (const [out, reference] of [
      [delta, source],
      [upscale, unchanged],
    ] as const) {
      const c = changedCentroid(out, reference, 40);
      expect(Math.abs(c.n - 256 * 192)).toBeLessThan(256 * 192 * 0.03);
      // Centre-aligned resampling: no shift. (sharp's own resize put it +0.5 px right and down.)
      expect(Math.abs(c.x - 255.5), `x ${c.x}`).toBeLessThanOrEqual(0.1);
      expect(Math.abs(c.y - 191.5), `y ${c.y}`).toBeLessThanOrEqual(0.1);
    }
  });

  it.each([
    ['×1.953 (1000×750 from 512×384)', 1000, 750, 512, 384],
    ['×3 (576×384 from 192×128)', 576, 384, 192, 128],
    ['×2 across, ×3 down (400×390 from 200×130)', 400, 390, 200, 130],
  ] as const)('other scales %s: exact size and alignment', async (_, fw, fh, pw, ph) => {
    const src = noise(fw, fh, 30, 3);
    const processedSource = await resizeRgb(src, pw, ph);
    // An odd-sized, off-centre rectangle: its edges do not land on whole full-resolution pixels.
    const image = new Uint8Array(processedSource.data);
    for (let y = 21; y < 54; y++) for (let x = 37; x < 82; x++) image.set(RED, (y * pw + x) * 3);
    const want = weightedCentroid({ width: pw, height: ph, data: image }, processedSource);
    for (const mode of ['delta', 'upscale'] as const) {
      const out = await placeResult(
        src,
        { image: { width: pw, height: ph, data: image }, processedSource },
        mode,
      );
      expect([out.width, out.height, out.data.length]).toEqual([fw, fh, fw * fh * 3]);
      const reference = mode === 'delta' ? src : await resizeRgb(processedSource, fw, fh);
      const c = weightedCentroid(out, reference);
      const [wantX, wantY] = [(want.x * fw) / pw, (want.y * fh) / ph];
      expect(Math.abs(c.x - wantX), `${mode} x ${c.x} vs ${wantX}`).toBeLessThanOrEqual(0.1);
      expect(Math.abs(c.y - wantY), `${mode} y ${c.y} vs ${wantY}`).toBeLessThanOrEqual(0.1);
    }
  });

  it('adds a uniform change exactly, with both signs, clamping the sum', async () => {
    const src = noise(300, 200, 127, 5); // the full 0..255 range
    const flat = (v: number): RgbImage => ({
      width: 192,
      height: 128,
      data: new Uint8Array(192 * 128 * 3).fill(v),
    });
    for (const k of [37, -37, 127, -128, 1, -1]) {
      const out = await placeResult(src, { image: flat(128 + k), processedSource: flat(128) });
      const want = Array.from(src.data, (v) => Math.max(0, Math.min(255, v + k)));
      let mismatches = 0;
      for (let i = 0; i < want.length; i++) if (out.data[i] !== want[i]) mismatches++;
      expect(mismatches, `k=${k}`).toBe(0);
    }
  });

  it('at the processing size itself the delta is applied without resampling', async () => {
    const src = noise(64, 64, 100, 11);
    const processedSource = noise(64, 64, 60, 12); // e.g. what a VAE round trip made of it
    const image = noise(64, 64, 120, 13);
    const out = await placeResult(src, { image, processedSource });
    const want = Array.from(src.data, (v, i) =>
      Math.max(0, Math.min(255, v + (image.data[i] as number) - (processedSource.data[i] as number))),
    );
    expect(Array.from(out.data)).toEqual(want);
    // 'upscale' at the same size is the result itself.
    expect(Array.from((await placeResult(src, { image, processedSource }, 'upscale')).data)).toEqual(
      Array.from(image.data),
    );
  });

  it('refuses a result and processed source of different sizes', async () => {
    await expect(
      placeResult(noise(64, 64, 10), { image: noise(32, 32, 10), processedSource: noise(32, 16, 10) }),
    ).rejects.toThrow(/the result \(32×32\) and the processed source \(32×16\) differ in size/);
  });
});
