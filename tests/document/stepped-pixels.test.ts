/**
 * The main side's whole-picture pixel loops in steps (blendIntoInSteps, placeResult's same-size path,
 * forRowSlices under them) give exactly the bytes of doing it in one go, on sizes that do not
 * divide into the slices.
 */
import { describe, expect, it } from 'vitest';
import { blendInto, blendIntoInSteps, type CompositeLayer } from '../../src/main/document/composite';
import type { GrayImage } from '../../src/main/document/pixel-store';
import { placeResult } from '../../src/main/document/placement';
import { forRowSlices } from '../../src/main/document/row-slices';
import { BLEND_MODES } from '../../src/shared/document';
import type { RgbImage } from '../../src/shared/engine-types';

function noiseBytes(length: number, seed: number): Uint8Array {
  const data = new Uint8Array(length);
  let s = seed;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    data[i] = s >>> 24;
  }
  return data;
}

function noiseRgb(width: number, height: number, seed: number): RgbImage {
  return { width, height, data: noiseBytes(width * height * 3, seed) };
}

/** Odd sizes: several slices with a short last one, and rows longer than a slice. */
const SIZES: [number, number][] = [
  [1031, 263],
  [70_001, 3],
  [1, 1],
];

describe('pixel loops in steps equal the loops in one go', () => {
  it('forRowSlices covers every pixel once, in whole rows and in order', async () => {
    for (const [width, height] of SIZES) {
      const seen: [number, number][] = [];
      await forRowSlices(width, height, (start, end) => seen.push([start, end]));
      expect(seen[0]![0]).toBe(0);
      expect(seen.at(-1)![1]).toBe(width * height);
      for (const [index, [start, end]] of seen.entries()) {
        expect(start % width).toBe(0);
        expect(end % width).toBe(0);
        expect(end).toBeGreaterThan(start);
        if (index > 0) expect(start).toBe(seen[index - 1]![1]);
      }
    }
  });

  it('blendIntoInSteps gives blendInto’s bytes for every mode, opacity and mask', async () => {
    for (const [width, height] of SIZES) {
      const below = noiseRgb(width, height, 1);
      const pixels = noiseRgb(width, height, 2);
      const randomMask: GrayImage = { width, height, data: noiseBytes(width * height, 3) };
      const edgeMask: GrayImage = {
        width,
        height,
        data: Uint8Array.from({ length: width * height }, (_, i) => [0, 255, 1, 254][i % 4]!),
      };
      for (const blendMode of BLEND_MODES) {
        for (const opacity of [255, 128, 1, 0, 127.6]) {
          for (const mask of [null, randomMask, edgeMask]) {
            const layer: CompositeLayer = { pixels, opacity, blendMode, mask };
            const oneGo: RgbImage = { width, height, data: new Uint8Array(below.data) };
            blendInto(oneGo, layer);
            const stepped: RgbImage = { width, height, data: new Uint8Array(below.data) };
            await blendIntoInSteps(stepped, layer);
            const label = `${width}×${height} ${blendMode} ${opacity} ${mask === null ? 'no mask' : mask === randomMask ? 'noise mask' : 'edge mask'}`;
            expect(Buffer.from(stepped.data).equals(oneGo.data), label).toBe(true);
          }
        }
      }
    }
  });

  it('blendIntoInSteps refuses other sizes as blendInto does', async () => {
    const below = noiseRgb(5, 3, 1);
    const layer: CompositeLayer = {
      pixels: noiseRgb(3, 5, 2),
      opacity: 255,
      blendMode: 'normal',
      mask: null,
    };
    expect(() => blendInto(below, layer)).toThrow('layer is 3×5, the document 5×3');
    await expect(blendIntoInSteps(below, layer)).rejects.toThrow('layer is 3×5, the document 5×3');
  });

  it('placeResult at the same size is source + (result − processed source), clamped, byte for byte', async () => {
    for (const [width, height] of SIZES) {
      const source = noiseRgb(width, height, 4);
      const image = noiseRgb(width, height, 5);
      const processedSource = noiseRgb(width, height, 6);
      const expected = new Uint8Array(source.data.length);
      for (let i = 0; i < expected.length; i++) {
        const sum = source.data[i]! + image.data[i]! - processedSource.data[i]!;
        expected[i] = Math.max(0, Math.min(255, sum));
      }
      const placed = await placeResult(source, { image, processedSource });
      expect([placed.width, placed.height]).toEqual([width, height]);
      expect(Buffer.from(placed.data).equals(expected), `${width}×${height}`).toBe(true);
    }
  });
});
