/**
 * The lean PSD/PSB writer (psd-writer.ts), read back by ag-psd and psd-tools (independent readers)
 * and by a small hand parse of the file's sections, on pixels made to hit PackBits' edge cases: noise (literals),
 * flat stretches of 1, 2, 3, 127, 128, 129, 130 samples (repeats around the 128 limit) and
 * alternating pairs, at widths around 128.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Layer as PsdLayer, Psd } from 'ag-psd';
import { describe, expect, it } from 'vitest';
import { packBitsRow, writePsd, type PsdWriterInput } from '../../src/main/document/psd-writer';
import { firstDiff, readPsdPixels, rgbaToRgb } from '../support/psd-reader';

/** A small deterministic generator (LCG), so failures repeat. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state >>> 24;
  };
}

const RUN_LENGTHS = [1, 2, 3, 127, 128, 129, 130, 5, 256, 257];

/**
 * `count` samples of one channel: stretches of noise, flat runs of RUN_LENGTHS and alternating
 * pairs, in turn, starting at a seed-dependent place.
 */
function channelSamples(count: number, seed: number): Uint8Array {
  const next = generator(seed);
  const out = new Uint8Array(count);
  let kind = seed % 3;
  let runIndex = seed % RUN_LENGTHS.length;
  for (let i = 0; i < count;) {
    if (kind === 0) {
      const length = 1 + (next() % 140);
      for (let k = 0; k < length && i < count; k++) out[i++] = next();
    } else if (kind === 1) {
      const length = RUN_LENGTHS[runIndex++ % RUN_LENGTHS.length] as number;
      const value = next();
      for (let k = 0; k < length && i < count; k++) out[i++] = value;
    } else {
      const a = next();
      const b = (a + 1) & 255;
      const length = 2 + (next() % 60);
      for (let k = 0; k < length && i < count; k++) out[i++] = k % 2 ? b : a;
    }
    kind = (kind + 1) % 3;
  }
  return out;
}

/** An RGB image whose channels are channelSamples, row by row. */
function rgbImage(width: number, height: number, seed: number): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let c = 0; c < 3; c++) {
      const row = channelSamples(width, seed * 1000 + y * 10 + c);
      for (let x = 0; x < width; x++) out[(y * width + x) * 3 + c] = row[x] as number;
    }
  }
  return out;
}

function grayImage(width: number, height: number, seed: number): Uint8Array {
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) out.set(channelSamples(width, seed * 1000 + y), y * width);
  return out;
}

function input(width: number, height: number, psb = false): PsdWriterInput {
  return {
    width,
    height,
    psb,
    background: { name: 'Background', pixels: rgbImage(width, height, 1) },
    layers: [
      {
        name: 'make it red',
        hidden: false,
        opacity: 200,
        blendMode: 'normal',
        pixels: rgbImage(width, height, 2),
        mask: grayImage(width, height, 3),
      },
      {
        name: 'Schnee über den Dächern — 雪 ✓',
        hidden: true,
        opacity: 128,
        blendMode: 'multiply',
        pixels: rgbImage(width, height, 4),
        mask: null,
      },
      {
        name: 'x',
        hidden: false,
        opacity: 0,
        blendMode: 'screen',
        pixels: rgbImage(width, height, 5),
        mask: null,
      },
    ],
    composite: rgbImage(width, height, 6),
  };
}

/** An independent PackBits decoder (Apple's Technical Note TN1023). */
function unpackBits(packed: Uint8Array, count: number): Uint8Array {
  const out = new Uint8Array(count);
  let o = 0;
  for (let i = 0; i < packed.length;) {
    const header = packed[i++] as number;
    if (header < 128) {
      for (let k = 0; k <= header; k++) out[o++] = packed[i++] as number;
    } else if (header > 128) {
      const value = packed[i++] as number;
      for (let k = 0; k < 257 - header; k++) out[o++] = value;
    }
  }
  if (o !== count) throw new Error(`unpacked ${o} samples, expected ${count}`);
  return out;
}

/** Big-endian reads over the file, with a position. */
class Reader {
  pos = 0;
  constructor(private readonly bytes: Uint8Array) {}
  u8(): number {
    return this.bytes[this.pos++] as number;
  }
  u16(): number {
    return this.u8() * 256 + this.u8();
  }
  u32(): number {
    return this.u16() * 65536 + this.u16();
  }
  length(psb: boolean): number {
    return psb ? this.u32() * 2 ** 32 + this.u32() : this.u32();
  }
  ascii(n: number): string {
    let text = '';
    for (let i = 0; i < n; i++) text += String.fromCharCode(this.u8());
    return text;
  }
}

/**
 * Walks the sections by their length fields and returns where each begins and the image data's
 * end (which must be the file's end).
 */
function parseSections(bytes: Uint8Array) {
  const r = new Reader(bytes);
  const signature = r.ascii(4);
  const version = r.u16();
  const psb = version === 2;
  r.pos += 6;
  const channels = r.u16();
  const height = r.u32();
  const width = r.u32();
  const depth = r.u16();
  const mode = r.u16();
  const colourModeLength = r.u32();
  r.pos += colourModeLength;
  const resourcesLength = r.u32();
  r.pos += resourcesLength;
  const layerAndMaskLength = r.length(psb);
  const layerAndMaskStart = r.pos;
  const layerInfoLength = r.length(psb);
  const layerInfoStart = r.pos;
  const layerCount = r.u16();
  r.pos = layerInfoStart + layerInfoLength;
  const globalMaskLength = r.u32();
  r.pos += globalMaskLength;
  const layerAndMaskEnd = r.pos;
  const compression = r.u16();
  let rowsTotal = 0;
  for (let i = 0; i < channels * height; i++) rowsTotal += psb ? r.u32() : r.u16();
  const imageDataEnd = r.pos + rowsTotal;
  return {
    signature,
    version,
    channels,
    width,
    height,
    depth,
    mode,
    colourModeLength,
    resourcesLength,
    layerAndMaskLength,
    layerAndMaskSpan: layerAndMaskEnd - layerAndMaskStart,
    layerInfoLength,
    layerCount,
    globalMaskLength,
    compression,
    imageDataEnd,
  };
}

function child(psd: Psd, i: number): PsdLayer {
  const layer = psd.children?.[i];
  if (!layer) throw new Error(`no layer ${i}`);
  return layer;
}

function expectReadBack(source: PsdWriterInput, psd: Psd): void {
  const { width, height } = source;
  const n = width * height;
  const composite = source.composite as Uint8Array;
  expect([psd.width, psd.height]).toEqual([width, height]);
  const layers = [{ ...source.background, mask: null }, ...source.layers];
  expect(psd.children?.map((l) => l.name)).toEqual(layers.map((l) => l.name));
  expect(psd.children?.map((l) => l.hidden ?? false)).toEqual([false, false, true, false]);
  expect(psd.children?.map((l) => Math.round((l.opacity ?? -1) * 255))).toEqual([255, 200, 128, 0]);
  expect(psd.children?.map((l) => l.blendMode)).toEqual(['normal', 'normal', 'multiply', 'screen']);
  layers.forEach((layer, i) => {
    const read = child(psd, i);
    expect([read.left ?? 0, read.top ?? 0, read.right, read.bottom], `bounds of ${i}`).toEqual([
      0,
      0,
      width,
      height,
    ]);
    const data = read.imageData?.data;
    expect(data, `pixels of ${i}`).toBeDefined();
    if (!data) return;
    expect(firstDiff(rgbaToRgb(data, n), layer.pixels as Uint8Array), `pixels of ${i}`).toBe('equal');
    for (let p = 0; p < n; p++) if (data[p * 4 + 3] !== 255) throw new Error(`alpha at ${p} in ${i}`);
  });
  const mask = child(psd, 1).mask;
  expect([mask?.left ?? 0, mask?.top ?? 0, mask?.right, mask?.bottom]).toEqual([0, 0, width, height]);
  expect(mask?.defaultColor ?? 0).toBe(0);
  const maskData = mask?.imageData?.data;
  expect(maskData).toBeDefined();
  if (maskData) {
    const stride = maskData.length / n;
    const read = new Uint8Array(n);
    for (let p = 0; p < n; p++) read[p] = maskData[p * stride] as number;
    expect(firstDiff(read, source.layers[0]?.mask as Uint8Array)).toBe('equal');
  }
  for (const i of [0, 2, 3]) expect(child(psd, i).mask, `mask of ${i}`).toBeUndefined();
  const image = psd.imageData;
  expect(image).toBeDefined();
  if (image) expect(firstDiff(rgbaToRgb(image.data, n), composite)).toBe('equal');
}

describe('packBitsRow', () => {
  const decodes = (samples: Uint8Array, stride = 1, offset = 0) => {
    const count = (samples.length - offset + stride - 1) / stride;
    const whole = Math.floor(count);
    const measured = packBitsRow(samples, offset, stride, whole, null, 0);
    const out = new Uint8Array(measured + 8).fill(0xee);
    const written = packBitsRow(samples, offset, stride, whole, out, 3);
    expect(written).toBe(measured);
    // Nothing written before `at` or after the measured length.
    expect([...out.subarray(0, 3)]).toEqual([0xee, 0xee, 0xee]);
    expect([...out.subarray(3 + written)]).toEqual([0xee, 0xee, 0xee, 0xee, 0xee]);
    const expected = new Uint8Array(whole);
    for (let k = 0; k < whole; k++) expected[k] = samples[offset + k * stride] as number;
    expect(firstDiff(unpackBits(out.subarray(3, 3 + written), whole), expected)).toBe('equal');
    // Never longer than PackBits' worst case (one header per 128 literals).
    expect(written).toBeLessThanOrEqual(whole + Math.ceil(whole / 128));
    return written;
  };

  it('round-trips rows of every edge width, strided and not', () => {
    for (const width of [1, 2, 3, 127, 128, 129, 130, 255, 256, 257, 300, 1000]) {
      for (let seed = 0; seed < 6; seed++) {
        decodes(channelSamples(width, seed * 7 + width));
        const rgb = rgbImage(width, 1, seed + width);
        for (let c = 0; c < 3; c++) decodes(rgb, 3, c);
      }
    }
  });

  it('packs flat runs into repeats and noise into literals of at most 128', () => {
    expect(decodes(new Uint8Array(300).fill(7))).toBe(6); // 128 + 128 + 44: three repeats
    expect(decodes(new Uint8Array(128).fill(7))).toBe(2);
    expect(decodes(new Uint8Array(129).fill(7))).toBe(4); // 128 + a one-sample literal
    expect(decodes(new Uint8Array([5]))).toBe(2);
    expect(decodes(new Uint8Array([5, 5]))).toBe(2);
    const ramp = Uint8Array.from({ length: 300 }, (_, i) => i & 255);
    expect(decodes(ramp)).toBe(300 + 3); // literals of 128, 128 and 44
  });
});

describe('writePsd read back with ag-psd', () => {
  for (const width of [1, 2, 127, 128, 129, 130, 300]) {
    it(`writes a ${width}-pixel-wide document that reads back exactly`, () => {
      const source = input(width, 5);
      const bytes = writePsd(source);
      expect(bytes.byteLength).toBe(bytes.buffer.byteLength);
      expectReadBack(source, readPsdPixels(bytes));
    });
  }

  it('lays out the sections by their length fields, ending exactly at the file’s end', () => {
    const bytes = writePsd(input(130, 7));
    const parsed = parseSections(bytes);
    expect(parsed).toMatchObject({
      signature: '8BPS',
      version: 1,
      channels: 3,
      width: 130,
      height: 7,
      depth: 8,
      mode: 3,
      colourModeLength: 0,
      resourcesLength: 0,
      layerCount: 4,
      globalMaskLength: 0,
      compression: 1,
    });
    expect(parsed.layerInfoLength % 4).toBe(0);
    expect(parsed.layerAndMaskSpan).toBe(parsed.layerAndMaskLength);
    expect(parsed.imageDataEnd).toBe(bytes.byteLength);
  });

  it('writes a PSB (version 2, wide length fields) that reads back the same', () => {
    const source = input(129, 4, true);
    const bytes = writePsd(source);
    expect(bytes.byteLength).toBe(bytes.buffer.byteLength);
    const parsed = parseSections(bytes);
    expect([parsed.signature, parsed.version, parsed.width, parsed.height]).toEqual(['8BPS', 2, 129, 4]);
    expect(parsed.layerAndMaskSpan).toBe(parsed.layerAndMaskLength);
    expect(parsed.imageDataEnd).toBe(bytes.byteLength);
    expectReadBack(source, readPsdPixels(bytes));
    // The same document as PSD is smaller by the wider fields only.
    const psd = writePsd({ ...source, psb: false });
    // 16 layer channels (background 3, masked layer 5, two others 4 each) and 3 composite channels
    // of 4 rows: 2 more bytes for each row's length, 4 more for each layer channel's length, 4 more
    // for each of the two section lengths.
    const rowFields = 2 * 4 * (16 + 3);
    const channelFields = 4 * 16;
    expect(bytes.byteLength - psd.byteLength).toBe(rowFields + channelFields + 4 + 4);
  });

  it('asks a composite given as rows for bands and writes what it gives', () => {
    const source = input(300, 9);
    const composite = source.composite as Uint8Array;
    const asked: [number, number][] = [];
    const fromRows = writePsd({
      ...source,
      composite: (firstRow, rowCount) => {
        asked.push([firstRow, rowCount]);
        return composite.slice(firstRow * 900, (firstRow + rowCount) * 900);
      },
    });
    expect(firstDiff(fromRows, writePsd(source))).toBe('equal');
    // Measured, then written: every row asked for exactly twice.
    const times = new Array<number>(9).fill(0);
    for (const [first, count] of asked)
      for (let y = first; y < first + count; y++) times[y] = (times[y] ?? 0) + 1;
    expect(times).toEqual(new Array<number>(9).fill(2));
  });

  it('writes a layer without pixels as an empty layer', () => {
    const source = input(4, 3);
    const bytes = writePsd({
      ...source,
      layers: [{ name: 'empty', hidden: false, opacity: 255, blendMode: 'normal', pixels: null, mask: null }],
    });
    const psd = readPsdPixels(bytes);
    expect(psd.children?.map((l) => l.name)).toEqual(['Background', 'empty']);
    const empty = child(psd, 1);
    expect([empty.left ?? 0, empty.top ?? 0, empty.right ?? 0, empty.bottom ?? 0]).toEqual([0, 0, 0, 0]);
    expect(parseSections(bytes).imageDataEnd).toBe(bytes.byteLength);
  });

  it('refuses images of the wrong size and sizes past the format, naming what is wrong', () => {
    const source = input(4, 3);
    const short = { ...source, layers: [{ ...source.layers[0]!, pixels: new Uint8Array(35) }] };
    expect(() => writePsd(short)).toThrow(/layer “make it red” has 35 bytes, a 4×3 image needs 36/);
    expect(() => writePsd({ ...source, width: 30_001 })).toThrow(/past the PSD limit of 30000/);
    expect(() => writePsd({ ...source, composite: () => new Uint8Array(5) })).toThrow(
      /the composite gave 5 bytes/,
    );
  });
});

// psd-tools (python3-psd-tools), where installed: a reader written apart from ag-psd.
function works(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}
/** The first python3 that can import psd_tools (a pyenv shim may shadow Debian's /usr/bin/python3). */
const python = ['python3', '/usr/bin/python3'].find((p) => works(p, ['-c', 'import psd_tools'])) ?? null;

const PSD_TOOLS_SCRIPT = `
import json, sys
from psd_tools import PSDImage
psd = PSDImage.open(sys.argv[1])
print(json.dumps({
    'version': psd.version,
    'layers': [{
        'name': layer.name,
        'visible': layer.visible,
        'opacity': layer.opacity,
        'blend': layer.blend_mode.name,
        'pixels': layer.topil().convert('RGB').tobytes().hex(),
        'mask': layer.mask.topil().convert('L').tobytes().hex() if layer.has_mask() else None,
    } for layer in psd],
    'composite': psd.topil().convert('RGB').tobytes().hex(),
}))
`;

describe('writePsd read back with psd-tools', () => {
  for (const psb of [false, true]) {
    it(`reads names, flags, pixels, the mask and the composite of a ${psb ? 'PSB' : 'PSD'}`, (ctx) => {
      if (!python) ctx.skip('python3 with psd_tools is not installed');
      const source = input(130, 3, psb);
      const dir = mkdtempSync(join(tmpdir(), 'psd-writer-'));
      try {
        const path = join(dir, psb ? 'doc.psb' : 'doc.psd');
        writeFileSync(path, writePsd(source));
        const out = execFileSync(python ?? 'python3', ['-c', PSD_TOOLS_SCRIPT, path], {
          encoding: 'utf8',
          maxBuffer: 16 << 20,
        });
        const read = JSON.parse(out) as {
          version: number;
          layers: {
            name: string;
            visible: boolean;
            opacity: number;
            blend: string;
            pixels: string;
            mask: string | null;
          }[];
          composite: string;
        };
        expect(read.version).toBe(psb ? 2 : 1);
        const layers = [{ ...source.background, mask: null }, ...source.layers];
        expect(read.layers.map((l) => [l.name, l.visible, l.opacity, l.blend])).toEqual([
          ['Background', true, 255, 'NORMAL'],
          ['make it red', true, 200, 'NORMAL'],
          ['Schnee über den Dächern — 雪 ✓', false, 128, 'MULTIPLY'],
          ['x', true, 0, 'SCREEN'],
        ]);
        layers.forEach((layer, i) => {
          const pixels = Buffer.from(read.layers[i]?.pixels ?? '', 'hex');
          expect(firstDiff(pixels, layer.pixels as Uint8Array), `layer ${i}`).toBe('equal');
        });
        expect(read.layers.map((l) => l.mask !== null)).toEqual([false, true, false, false]);
        const mask = Buffer.from(read.layers[1]?.mask ?? '', 'hex');
        expect(firstDiff(mask, source.layers[0]?.mask as Uint8Array)).toBe('equal');
        const composite = Buffer.from(read.composite, 'hex');
        expect(firstDiff(composite, source.composite as Uint8Array)).toBe('equal');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
