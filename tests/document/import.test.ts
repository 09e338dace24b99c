/**
 * importImage: what the document import adds over image-io's decodeImage (tests/image-io.test.ts covers
 * the decoding itself in depth): path and byte inputs (views into larger buffers included), the file
 * name and format kept for the base image, notices carried over, the document's pixel limit, the PSD
 * side-limit notice, and errors that name the file.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import sharp, { type Sharp } from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DOCUMENT_MAX_PIXELS,
  ImageDecodeError,
  importImage,
  PSD_MAX_SIDE,
  type ImportOptions,
} from '../../src/main/document/import';
import { ImageDecodeError as EngineImageDecodeError } from '../../src/main/engine/image-io';
import type { RgbImage } from '../../src/shared/engine-types';
import { LIMITS } from '../../src/shared/contract/limits';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'document-import-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const W = 24;
const H = 16;

/** Four flat quadrants: red, green / blue, white (JPEG-friendly, so lossy formats stay close). */
function quadrants(): Buffer {
  const raw = Buffer.alloc(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const colour =
        y < H / 2 ? (x < W / 2 ? [230, 20, 20] : [20, 200, 40]) : x < W / 2 ? [30, 40, 220] : [250, 250, 250];
      raw.set(colour, (y * W + x) * 3);
    }
  }
  return raw;
}

function pixel(image: RgbImage, x: number, y: number): number[] {
  const i = (y * image.width + x) * 3;
  return Array.from(image.data.subarray(i, i + 3));
}

function expectNear(actual: number[], expected: number[], tolerance: number, what = ''): void {
  actual.forEach((v, c) =>
    expect(
      Math.abs(v - (expected[c] as number)),
      `${what} channel ${c}: ${actual} vs ${expected}`,
    ).toBeLessThanOrEqual(tolerance),
  );
}

async function expectImportError(
  input: string | Uint8Array,
  message: RegExp,
  options?: ImportOptions,
): Promise<ImageDecodeError> {
  let caught: unknown;
  try {
    await importImage(input, options);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ImageDecodeError);
  expect((caught as Error).message).toMatch(message);
  return caught as ImageDecodeError;
}

describe('importImage', () => {
  it('re-exports the engine’s ImageDecodeError and the default limit of 100 MP', () => {
    expect(ImageDecodeError).toBe(EngineImageDecodeError);
    expect(DOCUMENT_MAX_PIXELS).toBe(100_000_000);
    expect(PSD_MAX_SIDE).toBe(30_000);
  });

  const formats: [string, string, (s: Sharp) => Sharp, number][] = [
    ['jpeg', 'photo.jpg', (s) => s.jpeg({ quality: 95 }), 12],
    ['png', 'photo.png', (s) => s.png(), 0],
    ['webp', 'photo.webp', (s) => s.webp({ lossless: true }), 0],
    ['tiff', 'photo.tiff', (s) => s.tiff({ compression: 'lzw' }), 0],
  ];
  for (const [format, fileName, encode, tolerance] of formats) {
    it(`${format}: from a path and from bytes, with name and format kept`, async () => {
      const bytes = await encode(
        sharp(quadrants(), { raw: { width: W, height: H, channels: 3 } }),
      ).toBuffer();
      const path = join(dir, fileName);
      writeFileSync(path, bytes);

      const fromPath = await importImage(path);
      expect(fromPath.fileName).toBe(fileName);
      expect(fromPath.format).toBe(format);
      expect(fromPath.notices).toEqual([]);
      expect([fromPath.image.width, fromPath.image.height, fromPath.image.data.length]).toEqual([
        W,
        H,
        W * H * 3,
      ]);
      if (tolerance === 0) expect(Buffer.from(fromPath.image.data).equals(quadrants())).toBe(true);
      expectNear(pixel(fromPath.image, 2, 2), [230, 20, 20], tolerance, 'top-left');
      expectNear(pixel(fromPath.image, W - 3, 2), [20, 200, 40], tolerance, 'top-right');
      expectNear(pixel(fromPath.image, 2, H - 3), [30, 40, 220], tolerance, 'bottom-left');
      expectNear(pixel(fromPath.image, W - 3, H - 3), [250, 250, 250], tolerance, 'bottom-right');

      const named = await importImage(new Uint8Array(bytes), { name: fileName });
      expect(named.fileName).toBe(fileName);
      expect(named.format).toBe(format);
      expect(Buffer.from(named.image.data).equals(Buffer.from(fromPath.image.data))).toBe(true);
      expect((await importImage(new Uint8Array(bytes))).fileName).toBeNull();
    });
  }

  it('reads AVIF (HEIF) where sharp supports it, with exact pixels for a lossless file', async (ctx) => {
    if (!sharp.format.heif?.input.buffer) ctx.skip('this sharp build cannot read HEIF/AVIF');
    const width = 32;
    const height = 24;
    const raw = Buffer.alloc(width * height * 3);
    for (let i = 0; i < width * height; i++) raw.set([(i * 7) % 256, 90, 200 - (i % 100)], i * 3);
    const avif = await sharp(raw, { raw: { width, height, channels: 3 } })
      .avif({ lossless: true })
      .toBuffer();
    const imported = await importImage(new Uint8Array(avif), { name: 'photo.avif' });
    expect(imported.format).toBe('heif');
    expect(imported.fileName).toBe('photo.avif');
    expect([imported.image.width, imported.image.height]).toEqual([width, height]);
    let maxDifference = 0;
    for (let i = 0; i < raw.length; i++) {
      maxDifference = Math.max(maxDifference, Math.abs(imported.image.data[i]! - raw[i]!));
    }
    // Lossless AV1 goes through YUV 4:4:4; allow the colour conversion's rounding.
    expect(maxDifference).toBeLessThanOrEqual(2);
  });

  it('reads a byte view into a larger buffer from its own offset and length', async () => {
    const png = await sharp(quadrants(), { raw: { width: W, height: H, channels: 3 } })
      .png()
      .toBuffer();
    const backing = new Uint8Array(png.length + 100).fill(0xab);
    backing.set(png, 37);
    const view = backing.subarray(37, 37 + png.length);
    const { image, format } = await importImage(view, { name: 'view.png' });
    expect(format).toBe('png');
    expect(Buffer.from(image.data).equals(quadrants())).toBe(true);
  });

  it('applies EXIF orientation 6: width and height swap, the stored top-left ends at the top-right', async () => {
    const jpeg = await sharp(quadrants(), { raw: { width: W, height: H, channels: 3 } })
      .jpeg({ quality: 95 })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const { image, notices } = await importImage(new Uint8Array(jpeg), { name: 'rotated.jpg' });
    expect([image.width, image.height]).toEqual([H, W]);
    expect(notices).toEqual([]);
    // Rotated 90° clockwise: top-left (red) → top-right, top-right (green) → bottom-right,
    // bottom-left (blue) → top-left, bottom-right (white) → bottom-left.
    expectNear(pixel(image, H - 3, 2), [230, 20, 20], 12, 'top-right');
    expectNear(pixel(image, H - 3, W - 3), [20, 200, 40], 12, 'bottom-right');
    expectNear(pixel(image, 2, 2), [30, 40, 220], 12, 'top-left');
    expectNear(pixel(image, 2, W - 3), [250, 250, 250], 12, 'bottom-left');
  });

  it('converts 16-bit and CMYK input to 8-bit sRGB and flattens alpha, keeping the notices', async () => {
    const deep = await sharp(new Uint16Array([0, 32768, 65535, 65535, 0, 1000]), {
      raw: { width: 2, height: 1, channels: 3 },
    })
      .toColourspace('rgb16')
      .png()
      .toBuffer();
    const fromDeep = await importImage(new Uint8Array(deep), { name: 'deep.png' });
    expect(fromDeep.notices).toEqual(['deep.png has 16-bit channels; converted to 8-bit']);
    expectNear(Array.from(fromDeep.image.data), [0, 128, 255, 255, 0, 4], 1);

    const cmyk = await sharp(quadrants(), { raw: { width: W, height: H, channels: 3 } })
      .toColourspace('cmyk')
      .jpeg({ quality: 95 })
      .toBuffer();
    const fromCmyk = await importImage(new Uint8Array(cmyk), { name: 'print.jpg' });
    expect(fromCmyk.notices).toEqual([expect.stringMatching(/^print\.jpg is CMYK; converted to sRGB/)]);
    expect(fromCmyk.image.data.length).toBe(W * H * 3);
    const [r, g, b] = pixel(fromCmyk.image, 2, 2) as [number, number, number];
    expect(r).toBeGreaterThan(150);
    expect(Math.max(g, b)).toBeLessThan(110);

    const rgba = await sharp(Buffer.from([255, 0, 0, 0, 0, 0, 255, 128, 10, 20, 30, 255]), {
      raw: { width: 3, height: 1, channels: 4 },
    })
      .png()
      .toBuffer();
    const fromRgba = await importImage(new Uint8Array(rgba), { name: 'cutout.png' });
    expect(fromRgba.notices).toEqual(['cutout.png has transparency; flattened onto white']);
    expect(Array.from(fromRgba.image.data.subarray(0, 3))).toEqual([255, 255, 255]);
    expectNear(Array.from(fromRgba.image.data.subarray(3, 6)), [127, 127, 255], 2);
    expect(Array.from(fromRgba.image.data.subarray(6, 9))).toEqual([10, 20, 30]);
  });

  it('refuses a side over the contract’s limit (so a PSD side limit is never reached)', async () => {
    expect(LIMITS.imageSide).toBeLessThan(PSD_MAX_SIDE);
    const wide = LIMITS.imageSide + 1;
    const png = await sharp({
      create: { width: wide, height: 2, channels: 3, background: { r: 9, g: 8, b: 7 } },
    })
      .png()
      .toBuffer();
    await expect(importImage(new Uint8Array(png), { name: 'panorama.png' })).rejects.toThrow(
      `panorama.png is ${wide}×2, over the 16,384-pixel side limit`,
    );
    // At the limit: opens, no notice.
    const atLimit = await sharp({
      create: { width: LIMITS.imageSide, height: 1, channels: 3, background: { r: 1, g: 2, b: 3 } },
    })
      .png()
      .toBuffer();
    expect((await importImage(new Uint8Array(atLimit))).notices).toEqual([]);
  });

  describe('the pixel limit', () => {
    it('refuses more pixels than maxPixels, naming the file and both sizes', async () => {
      const path = join(dir, 'big.png');
      await sharp(quadrants(), { raw: { width: W, height: H, channels: 3 } }).toFile(path);
      await expectImportError(path, /big\.png is 24×16 = 0\.000384 MP, over the 0\.0003 MP limit/, {
        maxPixels: 300,
      });
      expect((await importImage(path, { maxPixels: W * H })).image.width).toBe(W);
    });

    it('refuses a huge image from its header alone (the default limit), without decoding', async () => {
      // A valid 4×4 PNG whose header is rewritten to claim 20000×20000 (400 MP, 1.2 GB of RGB):
      // it is refused by size, not reported as truncated, so the pixel data was never read.
      const crc32 = (zlib as unknown as { crc32?: (data: Uint8Array) => number }).crc32;
      if (!crc32) return; // zlib.crc32 needs Node ≥ 20.15
      const small = await sharp({
        create: { width: 4, height: 4, channels: 3, background: { r: 0, g: 0, b: 0 } },
      })
        .png()
        .toBuffer();
      const fake = Buffer.from(small);
      fake.writeUInt32BE(20_000, 16);
      fake.writeUInt32BE(20_000, 20);
      fake.writeUInt32BE(crc32(fake.subarray(12, 29)) >>> 0, 29);
      const started = performance.now();
      await expectImportError(
        new Uint8Array(fake),
        /^huge\.png is 20000×20000 = 400 MP, over the 100 MP limit$/,
        {
          name: 'huge.png',
        },
      );
      expect(performance.now() - started).toBeLessThan(2000);
    });
  });

  describe('broken input: a specific error naming the file', () => {
    let jpeg: Buffer;
    let png: Buffer;
    beforeAll(async () => {
      // Noise, so the compressed data is long enough to cut in the middle.
      const raw = Buffer.alloc(96 * 64 * 3);
      let s = 3;
      for (let i = 0; i < raw.length; i++) {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        raw[i] = s >>> 24;
      }
      jpeg = await sharp(raw, { raw: { width: 96, height: 64, channels: 3 } })
        .jpeg()
        .toBuffer();
      png = await sharp(raw, { raw: { width: 96, height: 64, channels: 3 } })
        .png()
        .toBuffer();
    });

    it('truncated JPEG', async () => {
      const path = join(dir, 'cut.jpg');
      writeFileSync(path, jpeg.subarray(0, Math.floor(jpeg.length * 0.6)));
      await expectImportError(path, /cut\.jpg is truncated: the jpeg data ends before the image is complete/);
    });

    it('truncated PNG', async () => {
      await expectImportError(
        new Uint8Array(png.subarray(0, Math.floor(png.length / 2))),
        /^cut\.png is truncated/,
        {
          name: 'cut.png',
        },
      );
    });

    it('a non-image file', async () => {
      const path = join(dir, 'readme.jpg');
      writeFileSync(path, '# Not a picture\n\nJust notes.\n');
      await expectImportError(path, /readme\.jpg is not a supported image \(it looks like a text file\)/);
      await expectImportError(
        new Uint8Array([0x50, 0x4b, 3, 4, 0, 0, 0, 0, 0xff, 0x00, 0x13]),
        /^archive\.zip is not a supported image \(unrecognised file format\)$/,
        { name: 'archive.zip' },
      );
    });

    it('a missing file and a directory', async () => {
      await expectImportError(join(dir, 'nope.png'), /nope\.png does not exist/);
      await expectImportError(dir, /is a directory, not an image file/);
    });
  });
});
