/**
 * CLIP preprocessing against Pillow: pil-golden.json was written by make-pil-golden.py (Debian's
 * Python 3 with Pillow 9.4 and numpy) from the same formula pictures as below, resized with
 * Image.BICUBIC, centre-cropped and normalised the way transformers' CLIPImageProcessor does.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RgbImage } from '../../../src/shared/engine-types';
import {
  CLIP_DEFAULT_PREPROCESS,
  ClipConfigError,
  centerCrop,
  clipPixelValues,
  clipResizeSize,
  parsePreprocessorConfig,
  pilBicubicResize,
} from '../../../src/main/engine/clip/preprocess';

interface GoldenCase {
  width: number;
  height: number;
  shortestEdge: number;
  crop: number;
  resizedWidth: number;
  resizedHeight: number;
  resizedSha256: string;
  croppedSha256: string;
  resizedFirstRow: number[];
  pixelValuesSum: number;
  pixelValuesHead: number[];
  resized?: number[];
}

const golden = JSON.parse(readFileSync(join(__dirname, 'pil-golden.json'), 'utf8')) as {
  pillow: string;
  cases: GoldenCase[];
};

/** The picture make-pil-golden.py builds (same formula). */
function pattern(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      for (let c = 0; c < 3; c++)
        data[(y * width + x) * 3 + c] =
          (x * 37 + y * 91 + c * 53 + ((x * y) % 7) * 29 + (Math.floor(x / 5) % 2) * 101) % 256;
  return { width, height, data };
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

describe('Pillow BICUBIC resize, bit for bit', () => {
  it.each(golden.cases.map((c) => [`${c.width}×${c.height} → ${c.resizedWidth}×${c.resizedHeight}`, c]))(
    '%s',
    async (_name, c) => {
      const size = clipResizeSize(c.width, c.height, c.shortestEdge);
      expect(size).toEqual({ width: c.resizedWidth, height: c.resizedHeight });
      const resized = await pilBicubicResize(pattern(c.width, c.height), size.width, size.height);
      expect([...resized.data.subarray(0, 24)]).toEqual(c.resizedFirstRow);
      if (c.resized) expect([...resized.data]).toEqual(c.resized);
      expect(sha256(resized.data)).toBe(c.resizedSha256);
      expect(sha256(centerCrop(resized, c.crop, c.crop).data)).toBe(c.croppedSha256);
    },
  );

  it('differs from sharp-style smooth resizing: the golden data would catch a swapped kernel', async () => {
    // A plain (non-antialiased) cubic gives other pixels when reducing 640 → 298.
    const c = golden.cases.find((entry) => entry.width === 640)!;
    const resized = await pilBicubicResize(pattern(640, 480), c.resizedWidth, c.resizedHeight);
    const pointSampled = new Uint8Array(24);
    for (let i = 0; i < 8; i++)
      for (let ch = 0; ch < 3; ch++)
        pointSampled[i * 3 + ch] = pattern(640, 480).data[Math.floor(((i + 0.5) * 640) / 298) * 3 + ch]!;
    expect([...resized.data.subarray(0, 24)]).not.toEqual([...pointSampled]);
  });
});

describe('pixel_values', () => {
  it.each(golden.cases.map((c) => [`${c.width}×${c.height}`, c]))('%s matches numpy', async (_name, c) => {
    const config = {
      ...CLIP_DEFAULT_PREPROCESS,
      shortestEdge: c.shortestEdge,
      cropWidth: c.crop,
      cropHeight: c.crop,
    };
    const { pixelValues, width, height } = await clipPixelValues(pattern(c.width, c.height), config);
    expect([width, height]).toEqual([c.crop, c.crop]);
    expect(pixelValues.length).toBe(3 * c.crop * c.crop);
    c.pixelValuesHead.forEach((value, i) => expect(pixelValues[i]).toBeCloseTo(value, 5));
    const sum = pixelValues.reduce((a, b) => a + b, 0);
    expect(Math.abs(sum - c.pixelValuesSum)).toBeLessThan(1e-5 * pixelValues.length);
  });

  it('normalises one known pixel by hand: (v/255 − mean) / std per channel, channels first', async () => {
    const image: RgbImage = { width: 1, height: 1, data: Uint8Array.from([255, 0, 128]) };
    const config = { ...CLIP_DEFAULT_PREPROCESS, shortestEdge: 0, cropWidth: 0, cropHeight: 0 };
    const { pixelValues } = await clipPixelValues(image, config);
    expect(pixelValues[0]).toBeCloseTo((1 - 0.48145466) / 0.26862954, 6);
    expect(pixelValues[1]).toBeCloseTo((0 - 0.4578275) / 0.26130258, 6);
    expect(pixelValues[2]).toBeCloseTo((128 / 255 - 0.40821073) / 0.27577711, 6);
  });
});

describe('preprocessor_config.json', () => {
  it('reads the openai/clip-vit-large-patch14 file (new and old forms)', () => {
    const file = {
      crop_size: { height: 224, width: 224 },
      do_center_crop: true,
      do_convert_rgb: true,
      do_normalize: true,
      do_rescale: true,
      do_resize: true,
      image_mean: [0.48145466, 0.4578275, 0.40821073],
      image_processor_type: 'CLIPImageProcessor',
      image_std: [0.26862954, 0.26130258, 0.27577711],
      resample: 3,
      rescale_factor: 0.00392156862745098,
      size: { shortest_edge: 224 },
    };
    expect(parsePreprocessorConfig(file)).toEqual({
      ...CLIP_DEFAULT_PREPROCESS,
      rescaleFactor: 0.00392156862745098,
    });
    const old = parsePreprocessorConfig({ size: 336, crop_size: 336, resample: 3 });
    expect([old.shortestEdge, old.cropWidth, old.cropHeight]).toEqual([336, 336, 336]);
  });

  it('refuses what CLIP preprocessing cannot be, with the key named', () => {
    expect(() => parsePreprocessorConfig({ resample: 2 })).toThrow(/resample 2 is not supported/);
    expect(() => parsePreprocessorConfig({ size: { height: 224, width: 224 } })).toThrow(/shortest_edge/);
    expect(() => parsePreprocessorConfig({ image_mean: [0.5, 0.5] })).toThrow(ClipConfigError);
    expect(() => parsePreprocessorConfig([])).toThrow(/JSON object/);
  });
});
