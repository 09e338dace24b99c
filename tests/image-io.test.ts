import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ImageDecodeError,
  decodeImage,
  encodePng,
  processingSize,
  resampleRgb,
  resizeRgb,
  rgbToTensor,
  tensorToRgb,
  writePng,
} from '../src/main/engine/image-io';
import type { RgbImage } from '../src/shared/engine-types';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'image-io-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function pixel(img: RgbImage, x: number, y: number): [number, number, number] {
  const i = (y * img.width + x) * 3;
  return [img.data[i] ?? -1, img.data[i + 1] ?? -1, img.data[i + 2] ?? -1];
}

function expectNear(actual: number[], expected: number[], tol: number): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((v, i) =>
    expect(Math.abs(v - (expected[i] ?? 0)), `channel ${i}: ${actual} vs ${expected}`).toBeLessThanOrEqual(
      tol,
    ),
  );
}

function solidRaw(width: number, height: number, rgb: [number, number, number]): Buffer {
  const buf = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i++) buf.set(rgb, i * 3);
  return buf;
}

function noiseRaw(width: number, height: number, seed = 1): Buffer {
  const buf = Buffer.alloc(width * height * 3);
  let s = seed;
  for (let i = 0; i < buf.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    buf[i] = s >>> 24;
  }
  return buf;
}

async function expectDecodeError(
  input: string | Buffer,
  pattern: RegExp,
  options?: { maxPixels?: number },
): Promise<void> {
  let caught: unknown;
  try {
    await decodeImage(input, options);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ImageDecodeError);
  expect((caught as Error).message).toMatch(pattern);
}

/** An independent PNG chunk reader: [type, body] pairs, with every CRC checked. */
function readPngChunks(png: Buffer): { type: string; body: Buffer }[] {
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  const chunks: { type: string; body: Buffer }[] = [];
  let pos = 8;
  const crc = (zlib as unknown as { crc32?: (d: Uint8Array) => number }).crc32;
  while (pos < png.length) {
    const len = png.readUInt32BE(pos);
    const type = png.toString('latin1', pos + 4, pos + 8);
    const body = png.subarray(pos + 8, pos + 8 + len);
    const stored = png.readUInt32BE(pos + 8 + len);
    if (crc) expect(crc(png.subarray(pos + 4, pos + 8 + len)) >>> 0, `CRC of ${type}`).toBe(stored);
    chunks.push({ type, body });
    pos += 12 + len;
  }
  expect(pos).toBe(png.length);
  return chunks;
}

function pngTextEntries(png: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { type, body } of readPngChunks(png)) {
    if (type === 'tEXt') {
      const nul = body.indexOf(0);
      out[body.toString('latin1', 0, nul)] = body.toString('latin1', nul + 1);
    } else if (type === 'iTXt') {
      const nul = body.indexOf(0);
      const keyword = body.toString('latin1', 0, nul);
      expect(body[nul + 1]).toBe(0); // not compressed
      const langEnd = body.indexOf(0, nul + 3);
      const transEnd = body.indexOf(0, langEnd + 1);
      out[keyword] = body.toString('utf8', transEnd + 1);
    }
  }
  return out;
}

describe('decodeImage', () => {
  it('applies EXIF orientation 6 (rotate 90° clockwise)', async () => {
    // Stored 80×40: green, with a red 16×16 block at the top-left corner.
    const w = 80;
    const h = 40;
    const raw = solidRaw(w, h, [0, 200, 0]);
    for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) raw.set([255, 0, 0], (y * w + x) * 3);
    const file = join(dir, 'rotated.jpg');
    await sharp(raw, { raw: { width: w, height: h, channels: 3 } })
      .jpeg({ quality: 95 })
      .withMetadata({ orientation: 6 })
      .toFile(file);
    expect((await sharp(file).metadata()).orientation).toBe(6);

    const { image, notices, format } = await decodeImage(file);
    expect(format).toBe('jpeg');
    expect(notices).toEqual([]);
    expect([image.width, image.height]).toEqual([40, 80]);
    expect(image.data.length).toBe(40 * 80 * 3);
    // Stored top-left ends up at the displayed top-right.
    expectNear(pixel(image, 36, 3), [255, 0, 0], 40);
    expectNear(pixel(image, 3, 3), [0, 200, 0], 40);
    expectNear(pixel(image, 36, 76), [0, 200, 0], 40);
  });

  it('flattens RGBA onto white', async () => {
    const raw = Buffer.from([
      0,
      0,
      0,
      0, // transparent black → white
      255,
      0,
      0,
      128, // half-transparent red → pink
      0,
      0,
      255,
      255, // opaque blue stays blue
      10,
      20,
      30,
      255,
    ]);
    const file = join(dir, 'rgba.png');
    await sharp(raw, { raw: { width: 2, height: 2, channels: 4 } })
      .png()
      .toFile(file);
    const { image, notices, format } = await decodeImage(file);
    expect(format).toBe('png');
    expect(notices.some((n) => /transparen.*white/i.test(n))).toBe(true);
    expect([image.width, image.height]).toEqual([2, 2]);
    expect(pixel(image, 0, 0)).toEqual([255, 255, 255]);
    expectNear(pixel(image, 1, 0), [255, 127, 127], 2);
    expect(pixel(image, 0, 1)).toEqual([0, 0, 255]);
    expect(pixel(image, 1, 1)).toEqual([10, 20, 30]);
  });

  it('converts a 16-bit PNG to 8-bit with a notice', async () => {
    const raw16 = new Uint16Array([0, 32768, 65535, 65535, 0, 1000]);
    const file = join(dir, 'deep.png');
    // A Uint16Array input (not a Buffer) is what makes sharp read 16-bit samples.
    await sharp(raw16, { raw: { width: 2, height: 1, channels: 3 } })
      .toColourspace('rgb16')
      .png()
      .toFile(file);
    const meta = await sharp(file).metadata();
    expect(meta.depth).toBe('ushort');
    const { image, notices } = await decodeImage(file);
    expect(notices.some((n) => /16-bit.*8-bit/.test(n))).toBe(true);
    expect(image.data.length).toBe(6);
    expectNear(Array.from(image.data), [0, 128, 255, 255, 0, 4], 1);
  });

  it('converts a CMYK JPEG to sRGB with a notice', async () => {
    const file = join(dir, 'cmyk.jpg');
    await sharp(solidRaw(32, 24, [200, 40, 40]), { raw: { width: 32, height: 24, channels: 3 } })
      .toColourspace('cmyk')
      .jpeg({ quality: 95 })
      .toFile(file);
    expect((await sharp(file).metadata()).space).toBe('cmyk');
    const { image, notices } = await decodeImage(file);
    expect(notices.some((n) => /CMYK.*sRGB/.test(n))).toBe(true);
    expect([image.width, image.height]).toEqual([32, 24]);
    expect(image.data.length).toBe(32 * 24 * 3);
    const [r, g, b] = pixel(image, 16, 12);
    // Still clearly red after the round trip through CMYK.
    expect(r).toBeGreaterThan(150);
    expect(g).toBeLessThan(110);
    expect(b).toBeLessThan(110);
  });

  it('converts greyscale to RGB', async () => {
    const grey = Buffer.from([0, 60, 128, 255]);
    const file = join(dir, 'grey.png');
    await sharp(grey, { raw: { width: 2, height: 2, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toFile(file);
    expect((await sharp(file).metadata()).channels).toBe(1);
    const { image, notices } = await decodeImage(file);
    expect(notices.some((n) => /greyscale/.test(n))).toBe(true);
    expect(Array.from(image.data)).toEqual([0, 0, 0, 60, 60, 60, 128, 128, 128, 255, 255, 255]);
  });

  it('decodes a plain 8-bit PNG exactly, from a path and from a Buffer', async () => {
    const raw = noiseRaw(17, 9);
    const buf = await sharp(raw, { raw: { width: 17, height: 9, channels: 3 } })
      .png()
      .toBuffer();
    const file = join(dir, 'plain.png');
    writeFileSync(file, buf);
    for (const input of [file, buf]) {
      const { image, notices, format } = await decodeImage(input);
      expect(format).toBe('png');
      expect(notices).toEqual([]);
      expect(image.data).toBeInstanceOf(Uint8Array);
      expect(Buffer.from(image.data).equals(raw)).toBe(true);
    }
  });

  describe('refuses broken input with a specific message naming the file', () => {
    let png: Buffer;
    let jpg: Buffer;
    beforeAll(async () => {
      const raw = noiseRaw(128, 96);
      png = await sharp(raw, { raw: { width: 128, height: 96, channels: 3 } })
        .png()
        .toBuffer();
      jpg = await sharp(raw, { raw: { width: 128, height: 96, channels: 3 } })
        .jpeg()
        .toBuffer();
    });

    it('truncated PNG', async () => {
      const file = join(dir, 'cut.png');
      writeFileSync(file, png.subarray(0, Math.floor(png.length / 2)));
      await expectDecodeError(file, /cut\.png is truncated/);
    });

    it('truncated JPEG', async () => {
      const file = join(dir, 'cut.jpg');
      writeFileSync(file, jpg.subarray(0, Math.floor(jpg.length * 0.7)));
      await expectDecodeError(file, /cut\.jpg is truncated.*premature end/i);
    });

    it('PNG cut inside its header', async () => {
      const file = join(dir, 'stub.png');
      writeFileSync(file, png.subarray(0, 20));
      await expectDecodeError(file, /stub\.png is truncated|stub\.png has a corrupt image header/);
    });

    it('corrupt PNG pixel data', async () => {
      const bad = Buffer.from(png);
      // Scramble bytes in the middle of the IDAT stream (CRC left wrong as well).
      const idat = bad.indexOf('IDAT', 0, 'latin1');
      for (let i = idat + 100; i < idat + 400; i++) bad[i] = (bad[i] ?? 0) ^ 0x5a;
      const file = join(dir, 'scrambled.png');
      writeFileSync(file, bad);
      await expectDecodeError(file, /scrambled\.png is corrupt/);
    });

    it('a JPEG with corrupt scan data opens, with a notice saying it is damaged', async () => {
      // A smooth pattern: scrambled bytes in its scan break the Huffman stream (noise may not).
      const pattern = Buffer.alloc(256 * 256 * 3);
      for (let i = 0; i < pattern.length; i++) pattern[i] = (i * 7) % 251;
      const good = await sharp(pattern, { raw: { width: 256, height: 256, channels: 3 } })
        .jpeg({ quality: 90 })
        .toBuffer();
      const bad = Buffer.from(good);
      const middle = Math.floor(bad.length / 2);
      for (let i = middle; i < middle + 40; i++) bad[i] = bad[i] === 0xff ? 0 : (bad[i] ?? 0) ^ 0x5a;
      const file = join(dir, 'damaged.jpg');
      writeFileSync(file, bad);
      const { image, notices } = await decodeImage(file);
      expect([image.width, image.height]).toEqual([256, 256]);
      expect(notices[0]).toMatch(/damaged\.jpg is damaged: the decoder reported “Corrupt JPEG data/);
      // The intact file has no such notice.
      expect((await decodeImage(good)).notices).toEqual([]);
    });

    it('a text file', async () => {
      const file = join(dir, 'notes.png');
      writeFileSync(file, 'This is not an image.\nJust some text.\n');
      await expectDecodeError(file, /notes\.png is not a supported image \(it looks like a text file\)/);
    });

    it('an empty file', async () => {
      const file = join(dir, 'empty.jpg');
      writeFileSync(file, Buffer.alloc(0));
      await expectDecodeError(file, /empty\.jpg is empty \(0 bytes\)/);
    });

    it('a missing file', async () => {
      await expectDecodeError(join(dir, 'nope.png'), /nope\.png does not exist/);
    });

    it('random binary data', async () => {
      await expectDecodeError(
        Buffer.from([0, 1, 2, 3, 250, 251, 252, 253, 0, 0]),
        /the image data is not a supported image \(unrecognised file format\)/,
      );
    });
  });

  it('refuses an over-limit image from its header, before decoding pixels', async () => {
    const file = join(dir, 'big.png');
    await sharp(solidRaw(100, 80, [1, 2, 3]), { raw: { width: 100, height: 80, channels: 3 } })
      .png()
      .toFile(file);
    await expectDecodeError(file, /big\.png is 100×80 = 0\.008 MP, over the 0\.005 MP limit/, {
      maxPixels: 5000,
    });
    expect((await decodeImage(file, { maxPixels: 8000 })).image.width).toBe(100);

    // A PNG whose header claims 12000×10000 but holds a few bytes of pixel data: refused by size,
    // not reported as truncated, so the pixels were never decoded.
    const small = await sharp(solidRaw(4, 4, [9, 9, 9]), { raw: { width: 4, height: 4, channels: 3 } })
      .png()
      .toBuffer();
    const fake = Buffer.from(small);
    fake.writeUInt32BE(12000, 16);
    fake.writeUInt32BE(10000, 20);
    const crc = (zlib as unknown as { crc32?: (d: Uint8Array) => number }).crc32;
    if (!crc) return; // zlib.crc32 needs Node ≥ 20.15
    fake.writeUInt32BE(crc(fake.subarray(12, 29)) >>> 0, 29);
    await expectDecodeError(fake, /the image data is 12000×10000 = 120 MP, over the 100 MP limit/);
  });
});

describe('processingSize', () => {
  it.each([
    [512, 512, '512', 512, 512],
    [1024, 768, '512', 512, 384],
    [1000, 600, '512', 512, 320],
    [600, 1000, '512', 320, 512],
    [3000, 100, '512', 512, 64],
    [200, 100, '512', 512, 256],
    [100, 50, 'native', 64, 64],
    [130, 200, 'native', 128, 192],
    [1920, 1080, 'native', 1920, 1024],
    [63, 1, 'native', 64, 64],
  ] as const)('%i×%i %s → %i×%i', (w, h, mode, ew, eh) => {
    expect(processingSize(w, h, mode)).toEqual({ width: ew, height: eh });
  });

  it('rejects non-positive sizes', () => {
    expect(() => processingSize(0, 10, '512')).toThrow(RangeError);
    expect(() => processingSize(10, 1.5, 'native')).toThrow(RangeError);
  });
});

describe('resizeRgb', () => {
  it('resizes to exactly the requested size without cropping', async () => {
    const img: RgbImage = { width: 100, height: 50, data: new Uint8Array(solidRaw(100, 50, [30, 140, 250])) };
    const out = await resizeRgb(img, 64, 64);
    expect([out.width, out.height, out.data.length]).toEqual([64, 64, 64 * 64 * 3]);
    expect(pixel(out, 0, 0)).toEqual([30, 140, 250]);
    expect(pixel(out, 63, 63)).toEqual([30, 140, 250]);
  });

  it('keeps the left/right halves in place (no crop)', async () => {
    const data = new Uint8Array(200 * 50 * 3);
    for (let y = 0; y < 50; y++)
      for (let x = 0; x < 200; x++) data.set(x < 100 ? [255, 0, 0] : [0, 0, 255], (y * 200 + x) * 3);
    const out = await resizeRgb({ width: 200, height: 50, data }, 64, 64);
    expect(pixel(out, 2, 32)).toEqual([255, 0, 0]);
    expect(pixel(out, 61, 32)).toEqual([0, 0, 255]);
  });

  it('same size returns an equal copy', async () => {
    const img: RgbImage = { width: 3, height: 2, data: new Uint8Array(noiseRaw(3, 2)) };
    const out = await resizeRgb(img, 3, 2);
    expect(out.data).not.toBe(img.data);
    expect(Array.from(out.data)).toEqual(Array.from(img.data));
  });

  // Alignment: pixel-centre convention (PIL, torch align_corners=False). Output pixel x spans [x, x + 1),
  // so a feature centred at input position c (continuous, in pixels) must come out centred at c × scale.
  const BACKGROUND = 60;

  /** A grey image with a bright `size`×`size` block whose top-left pixel is (x0, y0). */
  function block(width: number, height: number, x0: number, y0: number, size: number): RgbImage {
    const data = new Uint8Array(width * height * 3).fill(BACKGROUND);
    for (let y = y0; y < y0 + size; y++) data.fill(200, (y * width + x0) * 3, (y * width + x0 + size) * 3);
    return { width, height, data };
  }

  /** The centroid of (green − background), signed (lanczos ringing included), in continuous coordinates. */
  function centroid(img: RgbImage): { x: number; y: number } {
    let sx = 0;
    let sy = 0;
    let sum = 0;
    for (let y = 0; y < img.height; y++) {
      for (let x = 0; x < img.width; x++) {
        const v = (img.data[(y * img.width + x) * 3 + 1] as number) - BACKGROUND;
        sx += v * (x + 0.5);
        sy += v * (y + 0.5);
        sum += v;
      }
    }
    return { x: sx / sum, y: sy / sum };
  }

  async function expectCentred(
    [w, h]: [number, number],
    [W, H]: [number, number],
    [x0, y0, size]: [number, number, number],
    tolerance: number,
  ): Promise<RgbImage> {
    const out = await resizeRgb(block(w, h, x0, y0, size), W, H);
    expect([out.width, out.height, out.data.length]).toEqual([W, H, W * H * 3]);
    const c = centroid(out);
    const want = { x: ((x0 + size / 2) * W) / w, y: ((y0 + size / 2) * H) / h };
    expect(Math.abs(c.x - want.x), `x: ${c.x} vs ${want.x}`).toBeLessThanOrEqual(tolerance);
    expect(Math.abs(c.y - want.y), `y: ${c.y} vs ${want.y}`).toBeLessThanOrEqual(tolerance);
    return out;
  }

  it.each([
    ['×2', [32, 24], [64, 48]],
    ['×3', [32, 24], [96, 72]],
    ['×1.953 (512→1000)', [512, 384], [1000, 750]],
    ['×4 across, ×2.5 down', [40, 30], [160, 75]],
    ['×20.8', [25, 20], [520, 416]],
  ] as const)('enlarging %s keeps a feature exactly in place, both axes', async (_, from, to) => {
    // sharp (libvips 8.18) put it +0.5 output px right and down at every one of these scales.
    await expectCentred([...from], [...to], [11, 7, 3], 0.05);
  });

  it.each([
    ['÷2', [128, 96], [64, 48], 6],
    ['÷3', [96, 72], [32, 24], 6],
    ['÷1.953 (1000→512)', [1000, 750], [512, 384], 10],
    ['÷7.8 (2000→256)', [2000, 1500], [256, 192], 16],
  ] as const)('reducing %s keeps a feature exactly in place, both axes', async (_, from, to, size) => {
    await expectCentred(
      [...from],
      [...to],
      [Math.round(from[0] / 3) + 1, Math.round(from[1] / 5), size],
      0.05,
    );
  });

  it('one axis enlarged, the other reduced (600×40 → 300×80): in place', async () => {
    await expectCentred([600, 40], [300, 80], [201, 13, 6], 0.05);
  });

  it.each([
    [512, 384, 1000, 750],
    [100, 50, 512, 256],
    [5, 3, 17, 11],
    [1, 1, 7, 5],
    [1000, 750, 512, 384],
    [2000, 1500, 256, 192],
    [600, 10, 512, 64],
    [10, 600, 64, 512],
  ] as const)(
    'a constant image stays exactly constant (%i×%i → %i×%i): no darkened borders',
    async (w, h, W, H) => {
      const rgb = [201, 7, 255] as const;
      const out = await resizeRgb(
        { width: w, height: h, data: new Uint8Array(solidRaw(w, h, [...rgb])) },
        W,
        H,
      );
      expect([out.width, out.height, out.data.length]).toEqual([W, H, W * H * 3]);
      const wrong = out.data.findIndex((v, i) => v !== rgb[i % 3]);
      expect(wrong, wrong < 0 ? '' : `pixel ${Math.floor(wrong / 3) % W},${Math.floor(wrong / 3 / W)}`).toBe(
        -1,
      );
    },
  );

  it('a round trip down and up keeps the exact size and the content in place', async () => {
    const img = block(1000, 750, 300, 200, 40);
    const down = await resizeRgb(img, 512, 384);
    const back = await resizeRgb(down, 1000, 750);
    expect([back.width, back.height, back.data.length]).toEqual([1000, 750, 1000 * 750 * 3]);
    const c = centroid(back);
    expect(Math.abs(c.x - 320)).toBeLessThanOrEqual(0.1);
    expect(Math.abs(c.y - 220)).toBeLessThanOrEqual(0.1);
    // The block's inside and the far background are unchanged.
    expect(pixel(back, 320, 220)).toEqual([200, 200, 200]);
    expect(pixel(back, 900, 600)).toEqual([BACKGROUND, BACKGROUND, BACKGROUND]);
    expect(pixel(back, 0, 0)).toEqual([BACKGROUND, BACKGROUND, BACKGROUND]);
    expect(pixel(back, 999, 749)).toEqual([BACKGROUND, BACKGROUND, BACKGROUND]);
  });
});

describe('resampleRgb', () => {
  it('adds a resampled signed delta to a base, rounding and clamping the sum', async () => {
    // An 8×8 delta of +3 in the left half, −200 in the right half, onto a 24×24 base of 100 (top) / 250.
    const delta = new Int16Array(8 * 8 * 3);
    for (let i = 0; i < 64; i++) delta.fill(i % 8 < 4 ? 3 : -200, i * 3, i * 3 + 3);
    const base = new Uint8Array(24 * 24 * 3);
    for (let i = 0; i < 24 * 24; i++) base.fill(Math.floor(i / 24) < 12 ? 100 : 250, i * 3, i * 3 + 3);
    const out = await resampleRgb(delta, 8, 8, 24, 24, base);
    expect(out.length).toBe(24 * 24 * 3);
    const at = (x: number, y: number): number => out[(y * 24 + x) * 3] as number;
    // Away from the step (further than the kernel reaches) the delta is added exactly.
    for (const y of [0, 5, 11]) expect([at(0, y), at(1, y), at(2, y), at(23, y)]).toEqual([103, 103, 103, 0]);
    for (const y of [12, 18, 23])
      expect([at(0, y), at(1, y), at(2, y), at(23, y)]).toEqual([253, 253, 253, 50]);
    // Across the step the sum falls from one side to the other.
    expect(at(10, 20)).toBeGreaterThan(200);
    expect(at(13, 20)).toBeLessThan(100);
  });

  it('without a base, equals resizeRgb for an enlargement', async () => {
    const img: RgbImage = { width: 9, height: 7, data: new Uint8Array(noiseRaw(9, 7, 5)) };
    const out = await resampleRgb(img.data, 9, 7, 20, 15);
    expect(Array.from(out)).toEqual(Array.from((await resizeRgb(img, 20, 15)).data));
  });

  it('rejects mismatched data and base sizes', async () => {
    await expect(resampleRgb(new Uint8Array(10), 2, 2, 4, 4)).rejects.toThrow(RangeError);
    await expect(resampleRgb(new Uint8Array(12), 2, 2, 4, 4, new Uint8Array(10))).rejects.toThrow(RangeError);
  });
});

describe('tensor conversion', () => {
  it('round-trips all 256 values exactly, in CHW order', () => {
    const data = new Uint8Array(256 * 3);
    for (let v = 0; v < 256; v++) data.set([v, 255 - v, (v * 7) % 256], v * 3);
    const img: RgbImage = { width: 256, height: 1, data };
    const t = rgbToTensor(img);
    expect(t.length).toBe(768);
    expect(t[0]).toBe(-1);
    expect(t[255]).toBe(1);
    expect(t[256]).toBe(1); // green plane starts with 255
    expect(t[512]).toBe(-1); // blue plane starts with 0
    expect(t[1]).toBeCloseTo(1 / 127.5 - 1, 6);
    const back = tensorToRgb(t, 256, 1);
    expect([back.width, back.height]).toEqual([256, 1]);
    expect(Array.from(back.data)).toEqual(Array.from(data));
  });

  it('clamps out-of-range values and maps NaN to 0', () => {
    const t = new Float32Array([-3, 0, 3, NaN, 1, -1]); // 2×1, CHW
    const img = tensorToRgb(t, 2, 1);
    // pixel 0: r=-3→0, g=3→255, b=1→255 ; pixel 1: r=0→128, g=NaN→0, b=-1→0
    expect(Array.from(img.data)).toEqual([0, 255, 255, 128, 0, 0]);
  });
});

describe('encodePng / writePng', () => {
  const text = {
    instruction: 'make it snowy',
    parameters: '{"seed":42,"steps":20}',
    Comment: 'café ☕ 猫', // not Latin-1: goes to iTXt
  };

  it('is lossless and carries text chunks readable by an independent parser', async () => {
    const img: RgbImage = { width: 33, height: 21, data: new Uint8Array(noiseRaw(33, 21, 7)) };
    const png = await encodePng(img, text);
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([33, 21, 3]);
    expect(Buffer.from(img.data).equals(data)).toBe(true);

    const chunks = readPngChunks(png);
    expect(chunks[0]?.type).toBe('IHDR');
    expect(chunks.at(-1)?.type).toBe('IEND');
    expect(chunks.filter((c) => c.type === 'tEXt').length).toBe(2);
    expect(chunks.filter((c) => c.type === 'iTXt').length).toBe(1);
    expect(pngTextEntries(png)).toEqual(text);

    // sharp's own reader sees them too.
    const comments = (await sharp(png).metadata()).comments ?? [];
    expect(comments.find((c) => c.keyword === 'instruction')?.text).toBe('make it snowy');
  });

  it('without text chunks is a plain PNG', async () => {
    const png = await encodePng({ width: 1, height: 1, data: new Uint8Array([1, 2, 3]) });
    expect(readPngChunks(png).some((c) => c.type === 'tEXt' || c.type === 'iTXt')).toBe(false);
  });

  it('rejects invalid keywords', async () => {
    const img: RgbImage = { width: 1, height: 1, data: new Uint8Array([1, 2, 3]) };
    await expect(encodePng(img, { '': 'x' })).rejects.toThrow(/keyword/);
    await expect(encodePng(img, { ' lead': 'x' })).rejects.toThrow(/keyword/);
    await expect(encodePng(img, { ['k'.repeat(80)]: 'x' })).rejects.toThrow(/keyword/);
  });

  it('writePng writes a file decodeImage reads back identically', async () => {
    const img: RgbImage = { width: 9, height: 5, data: new Uint8Array(noiseRaw(9, 5, 3)) };
    const file = join(dir, 'out.png');
    await writePng(file, img, { instruction: 'add a hat' });
    const { image } = await decodeImage(file);
    expect(Array.from(image.data)).toEqual(Array.from(img.data));
    expect(pngTextEntries(readFileSync(file))).toEqual({ instruction: 'add a hat' });
  });

  it.skipIf(!existsSync('/usr/bin/identify'))(
    'ImageMagick identify reads the text chunks (skipped: /usr/bin/identify absent)',
    async () => {
      const file = join(dir, 'identify.png');
      await writePng(file, { width: 4, height: 4, data: new Uint8Array(48).fill(100) }, text);
      const out = execFileSync('/usr/bin/identify', ['-verbose', file], { encoding: 'utf8' });
      expect(out).toMatch(/^\s*instruction: make it snowy$/m);
      // identify escapes double quotes when printing properties.
      expect(out).toMatch(/^\s*parameters: \{\\?"seed\\?":42,\\?"steps\\?":20\}$/m);
      // ImageMagick 6 skips iTXt chunks (it counts only the two tEXt ones); IM 7 reads them.
      if (!/png:text: 2 tEXt/.test(out)) expect(out).toMatch(/Comment: café ☕ 猫/);
    },
  );

  it('non-ASCII text goes to iTXt, which sharp (libvips) reads back as UTF-8', async () => {
    const png = await encodePng(
      { width: 1, height: 1, data: new Uint8Array([1, 2, 3]) },
      { Title: 'naïve', a: 'x' },
    );
    const chunks = readPngChunks(png);
    expect(chunks.filter((c) => c.type === 'iTXt').length).toBe(1);
    expect(chunks.filter((c) => c.type === 'tEXt').length).toBe(1);
    const comments = (await sharp(png).metadata()).comments ?? [];
    expect(comments).toEqual(
      expect.arrayContaining([
        { keyword: 'Title', text: 'naïve' },
        { keyword: 'a', text: 'x' },
      ]),
    );
  });
});
