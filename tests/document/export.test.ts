/**
 * Export: the flattened composite, the PNG (pixels and the history text chunk) and the PSD, each read
 * back with real values: sharp and a hand-written PNG chunk parser; ag-psd; and, where installed,
 * ImageMagick and python3 psd-tools as readers independent of the writer.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import type { Layer as PsdLayer, Psd } from 'ag-psd';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  exportHistory,
  exportPng,
  exportPsd,
  flattenDocument,
  HISTORY_KEY,
  needsPsb,
  type ExportedHistory,
} from '../../src/main/document/export';
import { PixelStore } from '../../src/main/document/pixel-store';
import type { BlendMode, DocumentRecord, EditLayer, PixelRef } from '../../src/shared/document/records';
import type { RgbImage } from '../../src/shared/engine-types';
import { firstDiff, readPsdPixels, rgbaToRgb } from '../support/psd-reader';
import { request } from './record-fixtures';

const W = 64;
const H = 48;

// ---------------------------------------------------------------------------------------------------
// The document, built by hand
// ---------------------------------------------------------------------------------------------------

/** Base: red = 4x, green = 5y, blue = 128. */
function baseImage(): RgbImage {
  const data = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 3;
      data[i] = 4 * x;
      data[i + 1] = 5 * y;
      data[i + 2] = 128;
    }
  }
  return { width: W, height: H, data };
}

function solid(r: number, g: number, b: number): RgbImage {
  const data = new Uint8Array(W * H * 3);
  for (let i = 0; i < data.length; i += 3) {
    data[i] = r;
    data[i + 1] = g;
    data[i + 2] = b;
  }
  return { width: W, height: H, data };
}

/** The hidden layer's pixels: a pattern (so a flipped or shifted read shows). */
function pattern(): RgbImage {
  const data = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 3;
      data[i] = (x * 3 + y) & 0xff;
      data[i + 1] = 255 - 5 * y;
      data[i + 2] = (x * y) & 0xff;
    }
  }
  return { width: W, height: H, data };
}

/** 255 on the left half (x < 32), 0 on the right. */
function leftHalfMask(): { width: number; height: number; data: Uint8Array } {
  const data = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W / 2; x++) data[y * W + x] = 255;
  return { width: W, height: H, data };
}

interface LayerSpec {
  id: string;
  name: string;
  instruction: string;
  pixels: PixelRef | null;
  visible?: boolean;
  opacity?: number;
  blendMode?: BlendMode;
  mask?: PixelRef | null;
  seed: number;
}

function editLayer(spec: LayerSpec, base: PixelRef): EditLayer {
  const req = request(spec.instruction, spec.seed);
  const variants =
    spec.pixels === null
      ? []
      : [
          {
            id: `${spec.id}-v1`,
            request: req,
            pixels: spec.pixels,
            result: spec.pixels,
            source: base,
            sourceParts: [],
            processedWidth: 512,
            processedHeight: 384,
            createdAt: 0,
            durationMs: 1000,
          },
        ];
  return {
    id: spec.id,
    kind: 'edit',
    name: spec.name,
    visible: spec.visible ?? true,
    opacity: spec.opacity ?? 1,
    blendMode: spec.blendMode ?? 'normal',
    mask: spec.mask ?? null,
    request: req,
    variants,
    activeVariantId: variants[0]?.id ?? null,
    failure: null,
    status: { state: 'fresh', reason: null },
    createdAt: 0,
  };
}

const SKY = 'pending sky — ciel étoilé ☆';
const RED: [number, number, number] = [200, 40, 30];
const MULTIPLY: [number, number, number] = [128, 128, 255];

const store = new PixelStore();
const refs = {
  base: store.putRgb(baseImage()),
  red: store.putRgb(solid(...RED)),
  hidden: store.putRgb(pattern()),
  multiply: store.putRgb(solid(...MULTIPLY)),
  mask: store.putGray(leftHalfMask()),
};

const layers: EditLayer[] = [
  editLayer(
    {
      id: 'l1',
      name: 'make it red',
      instruction: 'make it red',
      pixels: refs.red,
      opacity: 0.5,
      mask: refs.mask,
      seed: 11,
    },
    refs.base,
  ),
  editLayer(
    { id: 'l2', name: 'add snow', instruction: 'add snow', pixels: refs.hidden, visible: false, seed: 22 },
    refs.base,
  ),
  editLayer(
    {
      id: 'l3',
      name: 'blue tint',
      // Not ASCII: the history goes into an iTXt chunk.
      instruction: 'tint it blue — café style',
      pixels: refs.multiply,
      blendMode: 'multiply',
      seed: 33,
    },
    refs.base,
  ),
  // Cancelled before its first result: no variant, adds nothing, and is left out of the exports.
  {
    ...editLayer({ id: 'l4', name: SKY, instruction: SKY, pixels: null, seed: 44 }, refs.base),
    failure: 'cancelled',
  },
];

function documentOf(order: string[]): DocumentRecord {
  return {
    id: 'doc',
    width: W,
    height: H,
    base: {
      id: 'base',
      name: 'Background',
      pixels: refs.base,
      origin: { fileName: 'gradient.png', format: 'png', notices: [] },
    },
    layers: Object.fromEntries(layers.map((l) => [l.id, l])),
    order,
    createdAt: 0,
  };
}

const doc = documentOf(['l1', 'l2', 'l3', 'l4']);

function rgbAt(
  img: { width: number; data: ArrayLike<number> },
  x: number,
  y: number,
  channels = 3,
): number[] {
  const i = (y * img.width + x) * channels;
  return [img.data[i] ?? -1, img.data[i + 1] ?? -1, img.data[i + 2] ?? -1];
}

let expectedFlat: RgbImage;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'export-test-'));
  expectedFlat = await flattenDocument(doc, store);
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------
// flattenDocument
// ---------------------------------------------------------------------------------------------------

describe('flattenDocument', () => {
  it('returns the base alone when no layer contributes', async () => {
    const flat = await flattenDocument(documentOf(['l2', 'l4']), store);
    expect(flat.width).toBe(W);
    expect(flat.height).toBe(H);
    expect(firstDiff(flat.data, baseImage().data)).toBe('equal');
  });

  it('masks and half-opacity-blends a normal layer; ignores a hidden one', async () => {
    const flat = await flattenDocument(documentOf(['l1', 'l2']), store);
    // Left half, mask 255, opacity 0.5 → byte 128, α = 128/255:
    // (10, 20): base (40, 100, 128) over (200, 40, 30):
    //   40 + (200 − 40)·128/255 = 120.3 → 120;  100 + (40 − 100)·128/255 = 69.9 → 70;
    //   128 + (30 − 128)·128/255 = 78.8 → 79.
    expect(rgbAt(flat, 10, 20)).toEqual([120, 70, 79]);
    // (0, 0): base (0, 0, 128): 200·128/255 = 100.4 → 100; 40·128/255 = 20.1 → 20; 128 − 98·128/255 = 78.8 → 79.
    expect(rgbAt(flat, 0, 0)).toEqual([100, 20, 79]);
    // (31, 47): base (124, 235, 128): 124 + 76·0.502 = 162.1 → 162; 235 − 195·0.502 = 137.1 → 137; 79.
    expect(rgbAt(flat, 31, 47)).toEqual([162, 137, 79]);
    // Right half (mask 0): exactly the base, and the hidden layer changes nothing anywhere.
    const base = baseImage();
    for (let y = 0; y < H; y++) {
      for (let x = W / 2; x < W; x++) expect(rgbAt(flat, x, y)).toEqual(rgbAt(base, x, y));
    }
    expect(rgbAt(flat, 50, 20)).toEqual([200, 100, 128]);
  });

  it('multiplies a multiply layer over the result below', async () => {
    // (10, 20): (120, 70, 79) × (128, 128, 255)/255 = (60.2, 35.1, 79) → (60, 35, 79).
    expect(rgbAt(expectedFlat, 10, 20)).toEqual([60, 35, 79]);
    // (50, 20): base (200, 100, 128) × (128, 128, 255)/255 = (100.4, 50.2, 128) → (100, 50, 128).
    expect(rgbAt(expectedFlat, 50, 20)).toEqual([100, 50, 128]);
    // (63, 0): base (252, 0, 128) → (126.5 → 126, 0, 128).
    expect(rgbAt(expectedFlat, 63, 0)).toEqual([126, 0, 128]);
  });

  it('leaves the stored pixels untouched and is deterministic', async () => {
    const again = await flattenDocument(doc, store);
    expect(firstDiff(again.data, expectedFlat.data)).toBe('equal');
    expect(firstDiff((await store.getRgb(refs.base)).data, baseImage().data)).toBe('equal');
  });

  it('rejects a base whose size differs from the document', async () => {
    await expect(flattenDocument({ ...doc, width: W + 1 }, store)).rejects.toThrow(/base is 64×48/);
  });
});

// ---------------------------------------------------------------------------------------------------
// PNG
// ---------------------------------------------------------------------------------------------------

interface PngChunk {
  type: string;
  data: Buffer;
}

/** CRC-32 (ISO-HDLC), bit by bit: node:zlib's crc32 needs Node 20.15, package.json allows 20.10. */
function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** Walks a PNG's chunks, checking each CRC (independent of the writer's code). */
function pngChunks(png: Uint8Array): PngChunk[] {
  const buf = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  expect([...buf.subarray(0, 8)]).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
  const chunks: PngChunk[] = [];
  let at = 8;
  while (at < buf.length) {
    const length = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    const data = buf.subarray(at + 8, at + 8 + length);
    const crc = buf.readUInt32BE(at + 8 + length);
    expect(crc32(buf.subarray(at + 4, at + 8 + length)), `CRC of ${type}`).toBe(crc);
    chunks.push({ type, data });
    at += 12 + length;
    if (type === 'IEND') break;
  }
  expect(at).toBe(buf.length);
  return chunks;
}

/** The text chunks by keyword: tEXt (Latin-1), zTXt and iTXt (compressed or not). */
function pngText(png: Uint8Array): Map<string, { type: string; text: string }> {
  const out = new Map<string, { type: string; text: string }>();
  for (const { type, data } of pngChunks(png)) {
    const nul = data.indexOf(0);
    if (type !== 'tEXt' && type !== 'zTXt' && type !== 'iTXt') continue;
    const keyword = data.toString('latin1', 0, nul);
    if (type === 'tEXt') out.set(keyword, { type, text: data.toString('latin1', nul + 1) });
    else if (type === 'zTXt')
      out.set(keyword, { type, text: zlib.inflateSync(data.subarray(nul + 2)).toString('latin1') });
    else {
      const compressed = data[nul + 1] === 1;
      const langEnd = data.indexOf(0, nul + 3);
      const translatedEnd = data.indexOf(0, langEnd + 1);
      const body = data.subarray(translatedEnd + 1);
      out.set(keyword, { type, text: (compressed ? zlib.inflateSync(body) : body).toString('utf8') });
    }
  }
  return out;
}

describe('exportPng', () => {
  let png: Uint8Array;
  beforeAll(async () => {
    png = await exportPng(doc, store);
  });

  it('decodes (with sharp) to the document size and exactly the flattened pixels', async () => {
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect(info.format).toBe('raw');
    expect([info.width, info.height, info.channels]).toEqual([W, H, 3]);
    const meta = await sharp(png).metadata();
    expect(meta.format).toBe('png');
    expect(meta.depth).toBe('uchar');
    expect(firstDiff(new Uint8Array(data), expectedFlat.data)).toBe('equal');
  });

  it('carries the edit history as JSON in a text chunk', () => {
    const text = pngText(png);
    const entry = text.get(HISTORY_KEY);
    expect(entry).toBeDefined();
    // The JSON holds a non-ASCII instruction, so it is UTF-8 in an iTXt chunk.
    expect(entry?.type).toBe('iTXt');
    const history = JSON.parse(entry?.text ?? 'null') as ExportedHistory;
    expect(history).toEqual(exportHistory(doc));
    expect(history.width).toBe(W);
    expect(history.height).toBe(H);
    expect(history.base).toEqual({ name: 'Background', fileName: 'gradient.png' });
    expect(history.layers.map((l) => l.instruction)).toEqual([
      'make it red',
      'add snow',
      'tint it blue — café style',
    ]);
    expect(history.layers.map((l) => l.name)).toEqual(['make it red', 'add snow', 'blue tint']);
    expect(history.layers.map((l) => l.visible)).toEqual([true, false, true]);
    expect(history.layers.map((l) => l.opacity)).toEqual([0.5, 1, 1]);
    expect(history.layers.map((l) => l.blendMode)).toEqual(['normal', 'normal', 'multiply']);
    expect(history.layers.map((l) => l.hasMask)).toEqual([true, false, false]);
    expect(history.layers.map((l) => l.activeVariantId)).toEqual(['l1-v1', 'l2-v1', 'l3-v1']);
    expect(entry?.text).not.toContain(SKY);
    expect(history.layers[2]?.request).toEqual(request('tint it blue — café style', 33));
    expect(history.layers[0]?.request).toMatchObject({
      steps: 20,
      textGuidance: 7.5,
      imageGuidance: 1.5,
      seed: 11,
      scheduler: 'euler-ancestral',
      resolution: '512',
      model: { id: 'timbrooks/instruct-pix2pix', version: 'test' },
      placement: 'delta',
    });
  });

  it('uses a tEXt chunk for ASCII-only history and can leave the history out', async () => {
    const ascii = await exportPng(documentOf(['l1', 'l2']), store);
    const entry = pngText(ascii).get(HISTORY_KEY);
    expect(entry?.type).toBe('tEXt');
    expect((JSON.parse(entry?.text ?? 'null') as ExportedHistory).layers).toHaveLength(2);

    const bare = await exportPng(doc, store, { includeHistory: false });
    expect(pngText(bare).has(HISTORY_KEY)).toBe(false);
    const { data } = await sharp(bare).raw().toBuffer({ resolveWithObject: true });
    expect(firstDiff(new Uint8Array(data), expectedFlat.data)).toBe('equal');
  });

  it('names a local model by its folder only, never by its path', async () => {
    const local = (id: string): DocumentRecord => {
      const red = layers[0]!;
      const model = { id, version: 'optimum/fp32' };
      const relabelled: EditLayer = {
        ...red,
        request: { ...red.request, model },
        variants: red.variants.map((v) => ({ ...v, request: { ...v.request, model } })),
      };
      return { ...documentOf(['l1']), layers: { l1: relabelled } };
    };
    for (const [id, expected] of [
      ['/home/ann/models/instruct-pix2pix-onnx', 'instruct-pix2pix-onnx'],
      ['C:\\Users\\ann\\models\\ip2p-fp16\\', 'ip2p-fp16'],
      ['timbrooks/instruct-pix2pix', 'timbrooks/instruct-pix2pix'],
    ] as const) {
      const text = pngText(await exportPng(local(id), store)).get(HISTORY_KEY)?.text ?? '';
      const history = JSON.parse(text) as ExportedHistory;
      expect(history.layers[0]?.request.model).toEqual({ id: expected, version: 'optimum/fp32' });
      expect(text).not.toContain('ann');
    }
  });

  it('writes no resolution (no pHYs chunk; ImageMagick sees none)', async () => {
    const types = pngChunks(png).map((chunk) => chunk.type);
    expect(types).not.toContain('pHYs');
    expect(types[0]).toBe('IHDR');
    expect(types.at(-1)).toBe('IEND');
    if (hasIdentify) {
      const path = join(dir, 'no-dpi.png');
      writeFileSync(path, png);
      // Units "Undefined": nothing stored (72 is only ImageMagick's default for display).
      expect(run('identify', ['-format', '%U', path]).toString('utf8')).toBe('Undefined');
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// PSD with ag-psd
// ---------------------------------------------------------------------------------------------------

describe('exportPsd read back with ag-psd', () => {
  let psd: Psd;
  let bytes: Uint8Array;
  beforeAll(async () => {
    bytes = await exportPsd(doc, store);
    writeFileSync(join(dir, 'doc.psd'), bytes);
    psd = readPsdPixels(bytes);
  });

  const child = (i: number): PsdLayer => {
    const layer = psd.children?.[i];
    if (!layer) throw new Error(`no layer ${i}`);
    return layer;
  };

  it('carries no resolution of its own making', () => {
    expect(psd.imageResources?.resolutionInfo).toBeUndefined();
  });

  it('is a PSD (not PSB) of the document size', () => {
    expect(Buffer.from(bytes.subarray(0, 4)).toString('latin1')).toBe('8BPS');
    expect((bytes[4] ?? 0) * 256 + (bytes[5] ?? 0)).toBe(1);
    expect([psd.width, psd.height]).toEqual([W, H]);
    expect(needsPsb(W, H)).toBe(false);
  });

  it('has the background and every edit layer, bottom first, with names, flags and blend modes', () => {
    const children = psd.children ?? [];
    // The cancelled layer (SKY) is not there: no empty layers.
    expect(children.map((l) => l.name)).toEqual(['Background', 'make it red', 'add snow', 'blue tint']);
    expect(children.map((l) => l.hidden ?? false)).toEqual([false, false, true, false]);
    expect(children.map((l) => Math.round((l.opacity ?? -1) * 255))).toEqual([255, 128, 255, 255]);
    expect(children.map((l) => l.blendMode)).toEqual(['normal', 'normal', 'normal', 'multiply']);
  });

  it('stores each layer’s full-size pixels', () => {
    const expected = [baseImage(), solid(...RED), pattern(), solid(...MULTIPLY)];
    expected.forEach((image, i) => {
      const layer = child(i);
      expect([layer.left ?? 0, layer.top ?? 0, layer.right, layer.bottom], `bounds of ${i}`).toEqual([
        0,
        0,
        W,
        H,
      ]);
      const data = layer.imageData;
      expect(data, `pixels of ${i}`).toBeDefined();
      if (!data) return;
      expect(firstDiff(rgbaToRgb(data.data, W * H), image.data), `pixels of ${i}`).toBe('equal');
      for (let p = 0; p < W * H; p++)
        if (data.data[p * 4 + 3] !== 255) throw new Error(`alpha at ${p} in ${i}`);
    });
    expect(psd.children).toHaveLength(4);
  });

  it('stores the mask as a document-size user mask with default colour 0', () => {
    const mask = child(1).mask;
    expect(mask).toBeDefined();
    expect([mask?.left ?? 0, mask?.top ?? 0, mask?.right, mask?.bottom]).toEqual([0, 0, W, H]);
    expect(mask?.defaultColor ?? 0).toBe(0);
    const data = mask?.imageData?.data;
    expect(data).toBeDefined();
    if (!data) return;
    const expected = leftHalfMask().data;
    const channels = data.length / (W * H);
    for (let p = 0; p < W * H; p++) {
      if (data[p * channels] !== expected[p])
        throw new Error(`mask pixel ${p}: ${data[p * channels]} vs ${expected[p]}`);
    }
    for (const i of [0, 2, 3]) expect(child(i).mask, `mask of ${i}`).toBeUndefined();
  });

  it('stores the flattened composite as the file’s image data', () => {
    const data = psd.imageData;
    expect(data).toBeDefined();
    if (!data) return;
    expect([data.width, data.height]).toEqual([W, H]);
    expect(firstDiff(rgbaToRgb(data.data, W * H), expectedFlat.data)).toBe('equal');
  });
});

describe('exportPsd past the PSD size limit', () => {
  // 30 001 × 2: over PSD's 30 000-pixel side limit, yet tiny.
  const wide = { width: 30_001, height: 2 };
  let bytes: Uint8Array;
  let expected: RgbImage;
  let wideDoc: DocumentRecord;
  beforeAll(async () => {
    const n = wide.width * wide.height;
    const base = new Uint8Array(n * 3);
    for (let p = 0; p < n; p++) base.set([p % 251, (p >> 8) % 256, 77], p * 3);
    const layerPixels = new Uint8Array(n * 3).fill(250);
    const mask = new Uint8Array(n);
    for (let p = 0; p < n; p++) mask[p] = p % 2 ? 255 : 0;
    const baseRef = store.putRgb({ ...wide, data: base });
    const layer = editLayer(
      {
        id: 'w1',
        name: 'brighten',
        instruction: 'brighten',
        pixels: store.putRgb({ ...wide, data: layerPixels }),
        blendMode: 'screen',
        opacity: 0.25,
        mask: store.putGray({ ...wide, data: mask }),
        seed: 1,
      },
      baseRef,
    );
    wideDoc = {
      ...documentOf([]),
      ...wide,
      base: { ...doc.base, pixels: baseRef },
      layers: { w1: layer },
      order: ['w1'],
    };
    expected = await flattenDocument(wideDoc, store);
    bytes = await exportPsd(wideDoc, store);
    writeFileSync(join(dir, 'wide.psb'), bytes);
  });

  it('writes a PSB (version 2) that ag-psd reads back', () => {
    expect(needsPsb(30_000, 30_000)).toBe(false);
    expect(needsPsb(30_001, 1)).toBe(true);
    expect(needsPsb(1, 30_001)).toBe(true);
    expect(Buffer.from(bytes.subarray(0, 4)).toString('latin1')).toBe('8BPS');
    expect((bytes[4] ?? 0) * 256 + (bytes[5] ?? 0)).toBe(2);
    const psd = readPsdPixels(bytes);
    expect([psd.width, psd.height]).toEqual([wide.width, wide.height]);
    expect(psd.children?.map((l) => [l.name, l.blendMode, Math.round((l.opacity ?? 0) * 255)])).toEqual([
      ['Background', 'normal', 255],
      ['brighten', 'screen', 64],
    ]);
    const composite = psd.imageData;
    expect(composite).toBeDefined();
    if (composite) {
      expect(firstDiff(rgbaToRgb(composite.data, wide.width * wide.height), expected.data)).toBe('equal');
    }
    // Masked-out pixels (even p) are the base. Shown ones: screen(250, d) = 250 + d − round(250·d/255),
    // at α = 64/255. p = 1, base (1, 0, 77): 1 + 249·64/255 = 63.5 → 63 (integer rounding of
    // (1·(65025 − 16320) + 250·16320 + 32512) / 65025 = 63.99); 0 + 250·64/255 = 62.7 → 63;
    // 77 + (252 − 77)·64/255 = 120.9 → 121.
    expect(rgbAt(expected, 0, 0)).toEqual([0, 0, 77]);
    expect(rgbAt(expected, 1, 0)).toEqual([63, 63, 121]);
  });

  it('is read as PSB by psd-tools', async (ctx) => {
    if (!python) ctx.skip('python3 with psd_tools is not installed');
    const out = execFileSync(
      python ?? 'python3',
      [
        '-c',
        'import sys, json; from psd_tools import PSDImage; p = PSDImage.open(sys.argv[1]); ' +
          'print(json.dumps([p.version, p.width, p.height, [l.name for l in p], p.topil().convert("RGB").tobytes().hex()]))',
        join(dir, 'wide.psb'),
      ],
      { encoding: 'utf8', maxBuffer: 64 << 20 },
    );
    const [version, width, height, names, composite] = JSON.parse(out) as [
      number,
      number,
      number,
      string[],
      string,
    ];
    expect([version, width, height, names]).toEqual([2, wide.width, wide.height, ['Background', 'brighten']]);
    expect(firstDiff(Buffer.from(composite, 'hex'), expected.data)).toBe('equal');
  });
});

// ---------------------------------------------------------------------------------------------------
// PSD with independent readers (ImageMagick, psd-tools)
// ---------------------------------------------------------------------------------------------------

function works(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

const hasIdentify = works('identify', ['-version']);
const convertCmd = ['magick', 'convert'].find((c) => works(c, ['-version'])) ?? null;
/** The first python3 that can import psd_tools (a pyenv shim may shadow Debian's /usr/bin/python3). */
const python = ['python3', '/usr/bin/python3'].find((p) => works(p, ['-c', 'import psd_tools'])) ?? null;

/** Runs a reader; its stderr (ImageMagick warns about properties a frame lacks) is kept out of the log. */
function run(cmd: string, args: string[]): Buffer {
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
}

describe('exportPsd read back with ImageMagick', () => {
  let path: string;
  beforeAll(async () => {
    path = join(dir, 'imagemagick.psd');
    writeFileSync(path, await exportPsd(doc, store));
  });

  it('lists the composite, then the layers with labels, compose modes, opacity and visibility', (ctx) => {
    if (!hasIdentify) ctx.skip('ImageMagick identify is not installed');
    const out = run('identify', [
      '-format',
      '%[scene]|%w|%h|%X%Y|%[label]|%[compose]|%[psd:layer.opacity]|%[psd:layer.invisible]\n',
      path,
    ]).toString('utf8');
    // Frame 0 is the composite; the layers follow bottom first.
    expect(out.trim().split('\n')).toEqual([
      `0|${W}|${H}|+0+0||Over||`,
      `1|${W}|${H}|+0+0|Background|Over|65535|`,
      `2|${W}|${H}|+0+0|make it red|Over|${128 * 257}|`,
      `3|${W}|${H}|+0+0|add snow|None|65535|true`,
      `4|${W}|${H}|+0+0|blue tint|Multiply|65535|`,
    ]);
  });

  it('decodes the composite (frame 0) to the flattened pixels and a layer to its pixels', (ctx) => {
    if (!convertCmd) ctx.skip('ImageMagick convert is not installed');
    const cmd = convertCmd ?? 'convert';
    const composite = run(cmd, [`${path}[0]`, '-depth', '8', 'rgb:-']);
    expect(firstDiff(new Uint8Array(composite), expectedFlat.data)).toBe('equal');
    const hidden = run(cmd, [`${path}[3]`, '-depth', '8', 'rgb:-']);
    expect(firstDiff(new Uint8Array(hidden), pattern().data)).toBe('equal');
  });
});

const PSD_TOOLS_SCRIPT = `
import json, sys
from psd_tools import PSDImage
psd = PSDImage.open(sys.argv[1])
layers = []
for layer in psd:
    mask = layer.mask if layer.has_mask() else None
    layers.append({
        'name': layer.name,
        'visible': layer.visible,
        'opacity': layer.opacity,
        'blend': layer.blend_mode.name,
        'box': list(layer.bbox),
        'hasPixels': layer.has_pixels(),
        'pixels': layer.topil().convert('RGB').tobytes().hex() if layer.has_pixels() else None,
        'hasMask': layer.has_mask(),
        'maskBox': list(mask.bbox) if mask is not None else None,
        'maskDefault': mask.background_color if mask is not None else None,
        'mask': mask.topil().convert('L').tobytes().hex() if mask is not None else None,
    })
print(json.dumps({
    'version': psd.version,
    'size': [psd.width, psd.height],
    'layers': layers,
    'composite': psd.topil().convert('RGB').tobytes().hex(),
    'recomposite': psd.composite(force=True).convert('RGB').tobytes().hex(),
}))
`;

interface PsdToolsLayer {
  name: string;
  visible: boolean;
  opacity: number;
  blend: string;
  box: number[];
  hasPixels: boolean;
  pixels: string | null;
  hasMask: boolean;
  maskBox: number[] | null;
  maskDefault: number | null;
  mask: string | null;
}

interface PsdToolsResult {
  version: number;
  size: number[];
  layers: PsdToolsLayer[];
  composite: string;
  recomposite: string;
}

describe('exportPsd read back with psd-tools', () => {
  let result: PsdToolsResult;
  beforeAll(async () => {
    if (!python) return;
    const path = join(dir, 'psd-tools.psd');
    writeFileSync(path, await exportPsd(doc, store));
    result = JSON.parse(run(python, ['-c', PSD_TOOLS_SCRIPT, path]).toString('utf8')) as PsdToolsResult;
  });

  it('sees the layers with names, visibility, opacity, blend modes and bounds', (ctx) => {
    if (!python) ctx.skip('python3 with psd_tools is not installed');
    expect(result.version).toBe(1);
    expect(result.size).toEqual([W, H]);
    expect(result.layers.map((l) => l.name)).toEqual(['Background', 'make it red', 'add snow', 'blue tint']);
    expect(result.layers.map((l) => l.visible)).toEqual([true, true, false, true]);
    expect(result.layers.map((l) => l.opacity)).toEqual([255, 128, 255, 255]);
    expect(result.layers.map((l) => l.blend)).toEqual(['NORMAL', 'NORMAL', 'NORMAL', 'MULTIPLY']);
    expect(result.layers.map((l) => l.hasPixels)).toEqual([true, true, true, true]);
    expect(result.layers.map((l) => l.box)).toEqual([...Array<number[]>(4).fill([0, 0, W, H])]);
  });

  it('reads the layer pixels and the mask', (ctx) => {
    if (!python) ctx.skip('python3 with psd_tools is not installed');
    const expected = [baseImage(), solid(...RED), pattern(), solid(...MULTIPLY)];
    expected.forEach((image, i) => {
      expect(firstDiff(Buffer.from(result.layers[i]?.pixels ?? '', 'hex'), image.data), `layer ${i}`).toBe(
        'equal',
      );
    });
    expect(result.layers.map((l) => l.hasMask)).toEqual([false, true, false, false]);
    const masked = result.layers[1];
    expect(masked?.maskBox).toEqual([0, 0, W, H]);
    expect(masked?.maskDefault).toBe(0);
    expect(firstDiff(Buffer.from(masked?.mask ?? '', 'hex'), leftHalfMask().data)).toBe('equal');
  });

  it('reads the stored composite as the flattened pixels', (ctx) => {
    if (!python) ctx.skip('python3 with psd_tools is not installed');
    expect(firstDiff(Buffer.from(result.composite, 'hex'), expectedFlat.data)).toBe('equal');
  });

  it('recomposites the layers (mask, opacity, hidden, multiply) to within rounding of ours', (ctx) => {
    if (!python) ctx.skip('python3 with psd_tools is not installed');
    const re = Buffer.from(result.recomposite, 'hex');
    expect(re.length).toBe(expectedFlat.data.length);
    let worst = 0;
    for (let i = 0; i < re.length; i++) {
      worst = Math.max(worst, Math.abs((re[i] ?? 0) - (expectedFlat.data[i] ?? 0)));
    }
    // psd-tools composites in floating point; ours rounds once per layer.
    expect(worst).toBeLessThanOrEqual(1);
  });
});
