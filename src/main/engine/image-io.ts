/**
 * Image decoding, resizing, tensor conversion and PNG encoding over sharp.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { Metadata, OutputInfo } from 'sharp';
import sharp from '../native/sharp';
import type { ResolutionMode, RgbImage } from '../../shared/engine-types';
import { turnTaker } from '../util/turns';

export class ImageDecodeError extends Error {
  override name = 'ImageDecodeError';
}

export interface DecodeOptions {
  /** Refuse images with more pixels than this (checked from the header, before decoding). Default 100 000 000. */
  maxPixels?: number;
  /** Refuse images wider or taller than this (checked from the header, before decoding). Default: no limit. */
  maxSide?: number;
  /** How to name a Buffer input in messages (a path input is named by its path). */
  name?: string;
}

export interface DecodedImage {
  image: RgbImage;
  /** Human-readable notes about conversions applied (bit depth, colour space, transparency, frames). */
  notices: string[];
  /** The container format sharp detected: 'jpeg', 'png', 'webp', 'tiff', 'gif', ... */
  format: string;
}

export const DEFAULT_MAX_PIXELS = 100_000_000;

const WHITE = { r: 255, g: 255, b: 255 };

function formatMegapixels(pixels: number): string {
  return `${Number((pixels / 1e6).toPrecision(4))} MP`;
}

function looksLikeText(buf: Buffer): boolean {
  const sample = buf.subarray(0, 512);
  if (sample.length === 0) return false;
  for (const b of sample) {
    if (b === 0) return false;
    if (b < 32 && b !== 9 && b !== 10 && b !== 13) return false;
  }
  return true;
}

function isPng(buf: Buffer): boolean {
  return buf.length >= 8 && buf.readUInt32BE(0) === 0x89504e47 && buf.readUInt32BE(4) === 0x0d0a1a0a;
}

function isJpeg(buf: Buffer): boolean {
  return buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff;
}

/** Whether the bytes visibly end early: a PNG without IEND, a JPEG without the EOI marker. */
function looksTruncated(buf: Buffer): boolean {
  if (isPng(buf)) return buf.lastIndexOf('IEND', undefined, 'latin1') < 0;
  if (isJpeg(buf)) {
    // EOI (FF D9), possibly followed by padding.
    const tail = buf.subarray(Math.max(0, buf.length - 64));
    for (let i = tail.length - 2; i >= 0; i--) if (tail[i] === 0xff && tail[i + 1] === 0xd9) return false;
    return true;
  }
  return false;
}

/** The decoder's own words from libvips warnings, without the "read gave N warnings" summary. */
export function decoderDamage(warnings: string[]): string | null {
  const details = warnings
    .filter((warning) => warning && !/^read gave \d+ warnings?$/i.test(warning))
    .map((warning) => warning.replace(/^Vips\w+:\s*/, '').trim());
  return details.length > 0 ? [...new Set(details)].join('; ') : null;
}

function sharpMessage(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]?.trim() ?? '';
}

async function readInput(input: string | Buffer, label: string): Promise<Buffer> {
  if (typeof input !== 'string') return input;
  try {
    return await readFile(input);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ImageDecodeError(`${label} does not exist`);
    if (code === 'EISDIR') throw new ImageDecodeError(`${label} is a directory, not an image file`);
    throw new ImageDecodeError(`${label} cannot be read: ${sharpMessage(err)}`);
  }
}

/**
 * Decode an image file or buffer to 8-bit sRGB: EXIF orientation applied, alpha flattened onto white,
 * 16-bit / CMYK / greyscale converted (with a notice). The size is checked against `maxPixels` from the
 * header before any pixels are decoded. Truncated or corrupt data is an error, never a grey image.
 */
export async function decodeImage(
  input: string | Buffer,
  options: DecodeOptions = {},
): Promise<DecodedImage> {
  const label = typeof input === 'string' ? input : (options.name ?? 'the image data');
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const buf = await readInput(input, label);
  if (buf.length === 0) throw new ImageDecodeError(`${label} is empty (0 bytes), not an image`);

  const limit = Number.isFinite(maxPixels) && maxPixels > 0 ? Math.floor(maxPixels) : false;
  // 'error' aborts on truncated and corrupt pixel data but tolerates harmless decoder warnings.
  const sharpOptions = { failOn: 'error' as const, limitInputPixels: false as const };

  let meta: Metadata;
  try {
    meta = await sharp(buf, sharpOptions).metadata();
  } catch (err) {
    const msg = sharpMessage(err);
    if (/unsupported image format/i.test(msg)) {
      const what = looksLikeText(buf) ? 'it looks like a text file' : 'unrecognised file format';
      throw new ImageDecodeError(`${label} is not a supported image (${what})`);
    }
    if (looksTruncated(buf))
      throw new ImageDecodeError(`${label} is truncated: its header is incomplete (${msg})`);
    throw new ImageDecodeError(`${label} has a corrupt image header (${msg})`);
  }

  const format = String(meta.format ?? 'unknown');
  const width = meta.autoOrient?.width ?? meta.width;
  const height = meta.autoOrient?.height ?? meta.height;
  if (!width || !height) throw new ImageDecodeError(`${label} (${format}) has no usable dimensions`);
  const pixels = width * height;
  if (limit !== false && pixels > limit) {
    throw new ImageDecodeError(
      `${label} is ${width}×${height} = ${formatMegapixels(pixels)}, over the ${formatMegapixels(limit)} limit`,
    );
  }
  const maxSide = options.maxSide ?? Infinity;
  if (width > maxSide || height > maxSide) {
    throw new ImageDecodeError(
      `${label} is ${width}×${height}, over the ${maxSide.toLocaleString('en-US')}-pixel side limit`,
    );
  }

  const notices: string[] = [];
  const bits = meta.bitsPerSample ?? (meta.depth === 'ushort' || meta.depth === 'short' ? 16 : undefined);
  if (meta.depth !== 'uchar' && meta.depth !== 'char') {
    const depthName = bits !== undefined && bits > 8 ? `${bits}-bit` : meta.depth;
    notices.push(`${label} has ${depthName} channels; converted to 8-bit`);
  }
  const space = String(meta.space);
  if (space === 'cmyk') {
    notices.push(
      `${label} is CMYK; converted to sRGB${meta.hasProfile ? ' using its embedded profile' : ''}`,
    );
  } else if (space === 'b-w' || space === 'grey16') {
    notices.push(`${label} is greyscale; converted to RGB`);
  } else if (space !== 'srgb' && space !== 'rgb' && space !== 'rgb16') {
    notices.push(`${label} uses the ${space} colour space; converted to sRGB`);
  }
  if (meta.hasAlpha) notices.push(`${label} has transparency; flattened onto white`);
  if (meta.pages !== undefined && meta.pages > 1) {
    notices.push(`${label} has ${meta.pages} frames/pages; only the first is used`);
  }

  let data: Buffer;
  let info: OutputInfo;
  // libvips reports recoverable damage (a corrupt JPEG scan, a bad PNG chunk) as warnings and goes
  // on decoding; the result can be partly grey. The user must hear about it.
  const warnings: string[] = [];
  try {
    const pipeline = sharp(buf, sharpOptions);
    pipeline.on('warning', (message: string) => warnings.push(String(message).trim()));
    ({ data, info } = await pipeline
      .rotate()
      .flatten({ background: WHITE })
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true }));
  } catch (err) {
    const msg = sharpMessage(err);
    if (looksTruncated(buf) || /premature end|truncat|unexpected end/i.test(msg)) {
      throw new ImageDecodeError(
        `${label} is truncated: the ${format} data ends before the image is complete (${msg})`,
      );
    }
    throw new ImageDecodeError(`${label} is corrupt: its ${format} pixel data cannot be decoded (${msg})`);
  }
  const damage = decoderDamage(warnings);
  if (damage) {
    notices.unshift(
      `${label} is damaged: the decoder reported “${damage}”; parts of the picture may be grey or wrong`,
    );
  }
  if (info.channels !== 3 || data.length !== info.width * info.height * 3) {
    throw new ImageDecodeError(
      `${label}: decoding gave ${info.channels} channels at ${info.width}×${info.height}, expected 8-bit RGB`,
    );
  }
  return {
    image: {
      width: info.width,
      height: info.height,
      data: new Uint8Array(data.buffer, data.byteOffset, data.length),
    },
    notices,
    format,
  };
}

function checkSide(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 1)
    throw new RangeError(`${what} must be a positive integer, got ${value}`);
}

/**
 * The size the model runs at. '512': the longer side scaled to 512, each side rounded to the nearest
 * multiple of 64 (at least 64). 'native': each side rounded down to a multiple of 64 (at least 64).
 */
export function processingSize(
  width: number,
  height: number,
  mode: ResolutionMode,
): { width: number; height: number } {
  checkSide(width, 'width');
  checkSide(height, 'height');
  if (mode === 'native') {
    return {
      width: Math.max(64, Math.floor(width / 64) * 64),
      height: Math.max(64, Math.floor(height / 64) * 64),
    };
  }
  if (mode !== '512') throw new RangeError(`Unknown resolution mode ${JSON.stringify(mode)}`);
  const scale = 512 / Math.max(width, height);
  const side = (v: number): number => Math.max(64, Math.round((v * scale) / 64) * 64);
  return { width: side(width), height: side(height) };
}

function checkImage(image: RgbImage, what = 'image'): void {
  checkSide(image.width, `${what} width`);
  checkSide(image.height, `${what} height`);
  if (image.data.length !== image.width * image.height * 3) {
    throw new RangeError(
      `${what} data has ${image.data.length} bytes, expected ${image.width}×${image.height}×3 = ${image.width * image.height * 3}`,
    );
  }
}

// ---- Resampling --------------------------------------------------------------------------------
//
// Every resize is centre-aligned (the pixel-centre convention of PIL and torch's align_corners=False):
// output pixel x covers [x, x + 1) in output units, so its centre x + 0.5 maps to the input position
// (x + 0.5) × in / out, i.e. input index (x + 0.5) × in / out − 0.5. A layer resized to the document
// size therefore lands exactly where its content was: no shift, zoom or size change.
//
// libvips (sharp's resize) reduces centre-aligned, but it *enlarges* half an output pixel right and down
// at every scale (measured with sharp 0.35.5 / libvips 8.18: +0.50 px at ×2, ×3, ×4, +0.49…0.52 px at
// ×1.95 and ×20.8). So a pure reduction goes through sharp (fast, threaded, already aligned), and
// anything that enlarges an axis goes through the separable lanczos3 resampler below, with edges
// extended (clamped), so a constant image stays exactly constant and borders never darken.

const LANCZOS_LOBES = 3;

function lanczos3(x: number): number {
  if (x === 0) return 1;
  if (x <= -LANCZOS_LOBES || x >= LANCZOS_LOBES) return 0;
  const px = Math.PI * x;
  return (LANCZOS_LOBES * Math.sin(px) * Math.sin(px / LANCZOS_LOBES)) / (px * px);
}

/** For each output index: the first input index, the number of taps and their weights (stride `stride`). */
interface AxisWeights {
  start: Int32Array;
  count: Int32Array;
  weights: Float32Array;
  stride: number;
}

/**
 * Lanczos3 weights for one axis, centre-aligned. When reducing, the kernel is widened by the reduction
 * factor (an antialiasing filter). Taps past an edge are folded onto the edge sample (clamp-to-edge),
 * and each output's weights are normalised to sum to 1.
 */
function axisWeights(inSize: number, outSize: number): AxisWeights {
  const scale = inSize / outSize;
  const filterScale = Math.max(1, scale);
  const support = LANCZOS_LOBES * filterScale;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const lists: Float64Array[] = [];
  let stride = 1;
  for (let o = 0; o < outSize; o++) {
    if (inSize === outSize) {
      start[o] = o;
      count[o] = 1;
      lists.push(Float64Array.of(1));
      continue;
    }
    const centre = (o + 0.5) * scale - 0.5;
    const lo = Math.floor(centre - support) + 1;
    const hi = Math.ceil(centre + support) - 1;
    const first = Math.min(inSize - 1, Math.max(0, lo));
    const last = Math.min(inSize - 1, Math.max(0, hi));
    const w = new Float64Array(last - first + 1);
    let sum = 0;
    for (let i = lo; i <= hi; i++) {
      const v = lanczos3((i - centre) / filterScale);
      const j = Math.min(inSize - 1, Math.max(0, i)) - first;
      w[j] = (w[j] as number) + v;
      sum += v;
    }
    for (let j = 0; j < w.length; j++) w[j] = (w[j] as number) / sum;
    start[o] = first;
    count[o] = w.length;
    lists.push(w);
    if (w.length > stride) stride = w.length;
  }
  const weights = new Float32Array(outSize * stride);
  lists.forEach((w, o) => weights.set(w, o * stride));
  return { start, count, weights, stride };
}

/** row (=|+=) a·tmp[p..] + b·tmp[p + len..] + c·tmp[p + 2·len..], over `len` values. */
function taps3(
  row: Float32Array,
  tmp: Float32Array,
  p: number,
  len: number,
  a: number,
  b: number,
  c: number,
  add: boolean,
): void {
  const q = p + len;
  const r = q + len;
  if (add)
    for (let i = 0; i < len; i++) row[i] = row[i]! + a * tmp[p + i]! + b * tmp[q + i]! + c * tmp[r + i]!;
  else for (let i = 0; i < len; i++) row[i] = a * tmp[p + i]! + b * tmp[q + i]! + c * tmp[r + i]!;
}

function taps2(
  row: Float32Array,
  tmp: Float32Array,
  p: number,
  len: number,
  a: number,
  b: number,
  add: boolean,
): void {
  const q = p + len;
  if (add) for (let i = 0; i < len; i++) row[i] = row[i]! + a * tmp[p + i]! + b * tmp[q + i]!;
  else for (let i = 0; i < len; i++) row[i] = a * tmp[p + i]! + b * tmp[q + i]!;
}

function taps1(row: Float32Array, tmp: Float32Array, p: number, len: number, a: number, add: boolean): void {
  if (add) for (let i = 0; i < len; i++) row[i] = row[i]! + a * tmp[p + i]!;
  else for (let i = 0; i < len; i++) row[i] = a * tmp[p + i]!;
}

/** out[off..] = Σ wₖ·tmp[p + k·len..] over six consecutive rows (an enlarging lanczos3 window), fused. */
function store6(
  out: Uint8ClampedArray,
  off: number,
  tmp: Float32Array,
  p: number,
  len: number,
  w: Float32Array,
  wo: number,
): void {
  const a = w[wo]!;
  const b = w[wo + 1]!;
  const c = w[wo + 2]!;
  const d = w[wo + 3]!;
  const e = w[wo + 4]!;
  const f = w[wo + 5]!;
  const p1 = p + len;
  const p2 = p1 + len;
  const p3 = p2 + len;
  const p4 = p3 + len;
  const p5 = p4 + len;
  for (let i = 0; i < len; i++) {
    out[off + i] =
      a * tmp[p + i]! +
      b * tmp[p1 + i]! +
      c * tmp[p2 + i]! +
      d * tmp[p3 + i]! +
      e * tmp[p4 + i]! +
      f * tmp[p5 + i]!;
  }
}

/** As {@link store6}, added to `base[off..]`. */
function add6(
  out: Uint8ClampedArray,
  base: Uint8Array,
  off: number,
  tmp: Float32Array,
  p: number,
  len: number,
  w: Float32Array,
  wo: number,
): void {
  const a = w[wo]!;
  const b = w[wo + 1]!;
  const c = w[wo + 2]!;
  const d = w[wo + 3]!;
  const e = w[wo + 4]!;
  const f = w[wo + 5]!;
  const p1 = p + len;
  const p2 = p1 + len;
  const p3 = p2 + len;
  const p4 = p3 + len;
  const p5 = p4 + len;
  for (let i = 0; i < len; i++) {
    out[off + i] =
      base[off + i]! +
      (a * tmp[p + i]! +
        b * tmp[p1 + i]! +
        c * tmp[p2 + i]! +
        d * tmp[p3 + i]! +
        e * tmp[p4 + i]! +
        f * tmp[p5 + i]!);
  }
}

const WINDOW = 6;

/** The same weights re-expressed over windows of exactly WINDOW taps inside 0..inSize (zero-padded). */
function fixedWindow(axis: AxisWeights, inSize: number): AxisWeights {
  const outSize = axis.start.length;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize).fill(WINDOW);
  const weights = new Float32Array(outSize * WINDOW);
  for (let o = 0; o < outSize; o++) {
    const first = axis.start[o]!;
    const s = Math.min(first, inSize - WINDOW);
    start[o] = s;
    for (let k = 0; k < axis.count[o]!; k++)
      weights[o * WINDOW + first - s + k] = axis.weights[o * axis.stride + k]!;
  }
  return { start, count, weights, stride: WINDOW };
}

/**
 * Resample 3-channel HWC samples (any numeric range: pixels, or a signed delta) from width×height to
 * outWidth×outHeight, separable lanczos3, centre-aligned, edges clamped; then, if `base` is given (an
 * outWidth×outHeight×3 image), add it. Returns round(clamp(·, 0, 255)) as 8-bit samples. Works in
 * floating point throughout, so nothing is rounded before the end; the output rows are produced one at
 * a time straight into the result, and the event loop gets a turn every few tens of milliseconds.
 */
export async function resampleRgb(
  data: Uint8Array | Int16Array | Float32Array,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
  base?: Uint8Array,
): Promise<Uint8Array> {
  checkSide(width, 'width');
  checkSide(height, 'height');
  checkSide(outWidth, 'target width');
  checkSide(outHeight, 'target height');
  if (data.length !== width * height * 3)
    throw new RangeError(`data has ${data.length} values, expected ${width}×${height}×3`);
  const rowLen = outWidth * 3;
  if (base && base.length !== outHeight * rowLen)
    throw new RangeError(`base has ${base.length} values, expected ${outWidth}×${outHeight}×3`);
  // Other work on the event loop runs during a long resample (the document session runs in the main process).
  const maybeYield = turnTaker();

  // Horizontal pass: `height` rows of outWidth pixels, unrounded.
  const tmp = new Float32Array(height * rowLen);
  const hx = axisWeights(width, outWidth);
  for (let y = 0; y < height; y++) {
    const srcRow = y * width * 3;
    let t = y * rowLen;
    for (let x = 0; x < outWidth; x++) {
      const n = hx.count[x]!;
      const wo = x * hx.stride;
      let s = srcRow + hx.start[x]! * 3;
      let r = 0;
      let g = 0;
      let b = 0;
      for (let k = 0; k < n; k++, s += 3) {
        const wk = hx.weights[wo + k]!;
        r += wk * data[s]!;
        g += wk * data[s + 1]!;
        b += wk * data[s + 2]!;
      }
      tmp[t++] = r;
      tmp[t++] = g;
      tmp[t++] = b;
    }
    await maybeYield();
  }

  // Vertical pass, one output row at a time. Uint8ClampedArray stores round(clamp(v, 0, 255)).
  const out = new Uint8ClampedArray(outHeight * rowLen);
  let vy = axisWeights(height, outHeight);
  if (vy.stride > 1 && vy.stride <= WINDOW && height >= WINDOW) {
    // Enlarging (at most six taps a row): one fused pass per row.
    vy = fixedWindow(vy, height);
    for (let y = 0; y < outHeight; y++) {
      const off = y * rowLen;
      const p = vy.start[y]! * rowLen;
      if (base) add6(out, base, off, tmp, p, rowLen, vy.weights, y * WINDOW);
      else store6(out, off, tmp, p, rowLen, vy.weights, y * WINDOW);
      await maybeYield();
    }
    return new Uint8Array(out.buffer);
  }
  const row = new Float32Array(rowLen);
  for (let y = 0; y < outHeight; y++) {
    const n = vy.count[y]!;
    const wo = y * vy.stride;
    let p = vy.start[y]! * rowLen;
    for (let k = 0; k < n;) {
      const add = k > 0;
      const m = Math.min(3, n - k);
      const a = vy.weights[wo + k]!;
      if (m === 3) taps3(row, tmp, p, rowLen, a, vy.weights[wo + k + 1]!, vy.weights[wo + k + 2]!, add);
      else if (m === 2) taps2(row, tmp, p, rowLen, a, vy.weights[wo + k + 1]!, add);
      else taps1(row, tmp, p, rowLen, a, add);
      k += m;
      p += m * rowLen;
    }
    const off = y * rowLen;
    if (base) for (let i = 0; i < rowLen; i++) out[off + i] = base[off + i]! + row[i]!;
    else out.set(row, off);
    await maybeYield();
  }
  return new Uint8Array(out.buffer);
}

/**
 * Resize to exactly width×height (lanczos3, no crop: the aspect ratio may change), centre-aligned: the
 * content stays in place, no sub-pixel shift. Pure reductions go through sharp; anything that enlarges
 * an axis through {@link resampleRgb}.
 */
export async function resizeRgb(image: RgbImage, width: number, height: number): Promise<RgbImage> {
  checkImage(image);
  checkSide(width, 'target width');
  checkSide(height, 'target height');
  if (width === image.width && height === image.height) {
    return { width, height, data: new Uint8Array(image.data) };
  }
  if (width > image.width || height > image.height) {
    return { width, height, data: await resampleRgb(image.data, image.width, image.height, width, height) };
  }
  const { data, info } = await sharp(image.data, {
    raw: { width: image.width, height: image.height, channels: 3 },
  })
    .resize(width, height, { kernel: 'lanczos3', fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.width !== width || info.height !== height || info.channels !== 3) {
    throw new Error(
      `resize produced ${info.width}×${info.height}×${info.channels}, expected ${width}×${height}×3`,
    );
  }
  return { width, height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

/** HWC 8-bit RGB → CHW float32 in [-1, 1] (x / 127.5 - 1). */
export function rgbToTensor(image: RgbImage): Float32Array {
  checkImage(image);
  const plane = image.width * image.height;
  const out = new Float32Array(plane * 3);
  const src = image.data;
  for (let p = 0; p < plane; p++) {
    const s = p * 3;
    out[p] = (src[s] ?? 0) / 127.5 - 1;
    out[plane + p] = (src[s + 1] ?? 0) / 127.5 - 1;
    out[2 * plane + p] = (src[s + 2] ?? 0) / 127.5 - 1;
  }
  return out;
}

/** CHW float (nominally [-1, 1]) → HWC 8-bit RGB: round(clamp(x / 2 + 0.5, 0, 1) × 255). NaN → 0. */
export function tensorToRgb(data: Float32Array, width: number, height: number): RgbImage {
  checkSide(width, 'width');
  checkSide(height, 'height');
  const plane = width * height;
  if (data.length < plane * 3) {
    throw new RangeError(`tensor has ${data.length} values, expected 3×${width}×${height} = ${plane * 3}`);
  }
  const out = new Uint8Array(plane * 3);
  const conv = (x: number): number => {
    const v = x / 2 + 0.5;
    if (!(v > 0)) return 0; // also NaN
    if (v >= 1) return 255;
    return Math.round(v * 255);
  };
  for (let p = 0; p < plane; p++) {
    const d = p * 3;
    out[d] = conv(data[p] ?? 0);
    out[d + 1] = conv(data[plane + p] ?? 0);
    out[d + 2] = conv(data[2 * plane + p] ?? 0);
  }
  return { width, height, data: out };
}

// ---- PNG text chunks -------------------------------------------------------------------------

let crcTable: Uint32Array | undefined;

function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = (crcTable[(crc ^ (bytes[i] ?? 0)) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, body: Buffer): Buffer {
  const chunk = Buffer.alloc(12 + body.length);
  chunk.writeUInt32BE(body.length, 0);
  chunk.write(type, 4, 'latin1');
  body.copy(chunk, 8);
  chunk.writeUInt32BE(crc32(chunk, 4, 8 + body.length), 8 + body.length);
  return chunk;
}

function checkKeyword(keyword: string): void {
  // PNG: 1-79 Latin-1 printable characters, no leading, trailing or consecutive spaces.
  if (
    keyword.length < 1 ||
    keyword.length > 79 ||
    !/^[\x20-\x7e\xa1-\xff]+$/.test(keyword) ||
    keyword.startsWith(' ') ||
    keyword.endsWith(' ') ||
    keyword.includes('  ')
  ) {
    throw new RangeError(
      `PNG text keyword ${JSON.stringify(keyword)} is invalid: it needs 1-79 printable Latin-1 characters without leading, trailing or double spaces`,
    );
  }
}

/**
 * A tEXt chunk for plain ASCII text, an uncompressed iTXt chunk (UTF-8) otherwise. (tEXt is Latin-1 by
 * the spec, but libvips and ImageMagick show non-ASCII tEXt bytes as mojibake, so only ASCII goes there.)
 */
function textChunk(keyword: string, text: string): Buffer {
  checkKeyword(keyword);
  if (text.includes('\0'))
    throw new RangeError(`PNG text for ${JSON.stringify(keyword)} contains a NUL character`);
  if (/^[\t\n\r\x20-\x7e]*$/.test(text)) {
    return pngChunk(
      'tEXt',
      Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0]), Buffer.from(text, 'latin1')]),
    );
  }
  return pngChunk(
    'iTXt',
    Buffer.concat([
      Buffer.from(keyword, 'latin1'),
      // NUL, compression flag 0, method 0, empty language tag + NUL, empty translated keyword + NUL
      Buffer.from([0, 0, 0, 0, 0]),
      Buffer.from(text, 'utf8'),
    ]),
  );
}

/** Insert text chunks right after IHDR. */
function insertTextChunks(png: Buffer, textChunks: Record<string, string>): Buffer {
  const entries = Object.entries(textChunks);
  if (entries.length === 0) return png;
  if (!isPng(png) || png.toString('latin1', 12, 16) !== 'IHDR')
    throw new Error('encoder output is not a PNG with IHDR first');
  const ihdrEnd = 8 + 12 + png.readUInt32BE(8);
  const chunks = entries.map(([k, v]) => textChunk(k, v));
  return Buffer.concat([png.subarray(0, ihdrEnd), ...chunks, png.subarray(ihdrEnd)]);
}

/** A PNG with every chunk of the given type removed (chunks are length, type, data, CRC). */
export function withoutPngChunk(png: Buffer, type: string): Buffer {
  const parts: Buffer[] = [png.subarray(0, 8)];
  let offset = 8;
  while (offset + 12 <= png.length) {
    const length = png.readUInt32BE(offset);
    const end = offset + 12 + length;
    if (png.toString('latin1', offset + 4, offset + 8) !== type) parts.push(png.subarray(offset, end));
    offset = end;
  }
  return Buffer.concat(parts);
}

/** Lossless 8-bit RGB PNG, with optional text metadata (tEXt for ASCII text, iTXt for any other). */
export async function encodePng(image: RgbImage, textChunks?: Record<string, string>): Promise<Buffer> {
  checkImage(image);
  // Validate keywords before encoding so a bad keyword fails fast.
  const chunks = textChunks ?? {};
  for (const k of Object.keys(chunks)) checkKeyword(k);
  const png = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .png({ compressionLevel: 6, adaptiveFiltering: true, palette: false })
    .toBuffer();
  // libvips writes a pHYs of 1 pixel/mm (25.4 DPI) for raw input: a resolution no one chose.
  return insertTextChunks(withoutPngChunk(png, 'pHYs'), chunks);
}

export async function writePng(
  path: string,
  image: RgbImage,
  textChunks?: Record<string, string>,
): Promise<void> {
  await writeFile(path, await encodePng(image, textChunks));
}
