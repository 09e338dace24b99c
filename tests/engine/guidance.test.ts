import { describe, expect, it } from 'vitest';
import { combineGuidance, guidanceRows } from '../../src/main/engine/guidance';
import { latentPreview } from '../../src/main/engine/preview';
import { LruCache } from '../../src/main/engine/lru-cache';
import { timestepTensor } from '../../src/main/engine/models/unet';

describe('combineGuidance', () => {
  const size = 3;
  // rows: [instruction + image, "" + image, "" + no image]
  const prediction = new Float32Array([1, 2, 3, 0.5, 1, 1.5, 0.25, 0.5, -1]);

  it('applies e = e_u + s_T(e_ti − e_i) + s_I(e_i − e_u)', () => {
    const guided = combineGuidance(prediction, 3, size, 7.5, 1.5);
    const expected = [0, 1, 2].map((i) => {
      const [ti, im, un] = [prediction[i]!, prediction[3 + i]!, prediction[6 + i]!];
      return un + 7.5 * (ti - im) + 1.5 * (im - un);
    });
    expect(Array.from(guided)).toEqual(expected.map((v) => Math.fround(v)));
    expect(guided[0]).toBeCloseTo(0.25 + 7.5 * 0.5 + 1.5 * 0.25, 6);
  });

  it('the two-row form equals the three-row form at image guidance 1', () => {
    expect(guidanceRows(1)).toBe(2);
    expect(guidanceRows(1.5)).toBe(3);
    const three = combineGuidance(prediction, 3, size, 7.5, 1);
    const two = combineGuidance(prediction.subarray(0, 6), 2, size, 7.5, 1);
    three.forEach((value, i) => expect(two[i]).toBeCloseTo(value, 5));
  });

  it('guidance 1/1 returns the fully conditioned prediction', () => {
    const guided = combineGuidance(prediction, 3, size, 1, 1);
    guided.forEach((value, i) => expect(value).toBeCloseTo(prediction[i]!, 6));
  });

  it('rejects a short prediction', () => {
    expect(() => combineGuidance(new Float32Array(5), 3, size, 1, 1)).toThrow(/expected 9/);
  });
});

describe('timestepTensor', () => {
  it('builds each export flavor’s timestep', () => {
    expect(timestepTensor({ type: 'float32', layout: 'per-row' }, 946.421, 3)).toMatchObject({
      type: 'float32',
      dims: [3],
    });
    const int = timestepTensor({ type: 'int64', layout: 'single' }, 946.6, 3);
    expect(int.dims).toEqual([1]);
    expect(Array.from(int.data as BigInt64Array)).toEqual([947n]);
    const scalar = timestepTensor({ type: 'float32', layout: 'scalar' }, 999, 2);
    expect(scalar.dims).toEqual([]);
    expect(Array.from(scalar.data as Float32Array)).toEqual([999]);
    const half = timestepTensor({ type: 'float16', layout: 'per-row' }, 1, 2);
    expect(Array.from(half.data as Uint16Array)).toEqual([0x3c00, 0x3c00]);
  });
});

describe('latentPreview', () => {
  it('maps latents linearly to RGB at latent size', () => {
    const plane = 2;
    const latents = new Float32Array(4 * plane);
    latents[0] = 1; // channel 0, pixel 0
    const preview = latentPreview(latents, 2, 1);
    expect(preview.width).toBe(2);
    expect(preview.height).toBe(1);
    expect(Array.from(preview.data.subarray(0, 3))).toEqual([
      Math.round(1.298 * 127.5),
      Math.round(1.207 * 127.5),
      Math.round(1.208 * 127.5),
    ]);
    expect(Array.from(preview.data.subarray(3, 6))).toEqual([128, 128, 128]);
  });
});

describe('LruCache', () => {
  it('evicts the least recently used entry', () => {
    const cache = new LruCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1);
    cache.set('c', 3);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(1);
    expect(cache.size).toBe(2);
  });
});
