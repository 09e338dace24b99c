/**
 * CLIP's image preprocessing, as `transformers`' CLIPImageProcessor does it for
 * openai/clip-vit-large-patch14: resize so the shorter side is `shortest_edge` (Pillow's BICUBIC on
 * 8-bit pixels), centre crop to `crop_size`, rescale to [0, 1], normalise with CLIP's mean and std.
 *
 * "Exactly as CLIP's" here means bit-exact with Pillow's `Image.resize(size, Image.BICUBIC)` (which
 * both the Hugging Face processor and OpenAI's `clip.load` preprocess call): Pillow resamples in two
 * separable passes, horizontal first, with 22-bit fixed-point weights and rounding to 8 bits after
 * each pass, and widens the cubic (a = −0.5) support by the reduction factor (antialiasing). sharp's
 * 'cubic' kernel is a different filter (libvips' Catmull-Rom with its own shrink/reduce steps), so its
 * pixels differ from Pillow's by a few levels; it is not used here.
 */
import { readFile } from 'node:fs/promises';
import type { RgbImage } from '../../../shared/engine-types';

export class ClipConfigError extends Error {
  override name = 'ClipConfigError';
}

export interface ClipPreprocessConfig {
  /** 0: no resize. Otherwise the shorter side after resizing. */
  shortestEdge: number;
  /** 0: no crop. */
  cropWidth: number;
  cropHeight: number;
  rescaleFactor: number;
  mean: [number, number, number];
  std: [number, number, number];
}

/** openai/clip-vit-large-patch14's preprocessor_config.json. */
export const CLIP_DEFAULT_PREPROCESS: Readonly<ClipPreprocessConfig> = {
  shortestEdge: 224,
  cropWidth: 224,
  cropHeight: 224,
  rescaleFactor: 1 / 255,
  mean: [0.48145466, 0.4578275, 0.40821073],
  std: [0.26862954, 0.26130258, 0.27577711],
};

const PIL_BICUBIC = 3;

type Json = Record<string, unknown>;

function triple(value: unknown, key: string, fallback: [number, number, number], label: string) {
  if (value === undefined) return fallback;
  if (
    !Array.isArray(value) ||
    value.length !== 3 ||
    !value.every((v) => typeof v === 'number' && Number.isFinite(v))
  ) {
    throw new ClipConfigError(`${label}: ${key} must be three numbers, got ${JSON.stringify(value)}`);
  }
  return value as [number, number, number];
}

function side(value: unknown, key: string, label: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 4096) {
    throw new ClipConfigError(
      `${label}: ${key} must be a whole number from 1 to 4096, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/**
 * Reads a preprocessor_config.json object (both the old `size: 224` and the newer
 * `size: {shortest_edge: 224}` / `crop_size: {height, width}` forms).
 */
export function parsePreprocessorConfig(
  json: unknown,
  label = 'preprocessor_config.json',
): ClipPreprocessConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new ClipConfigError(`${label} must contain a JSON object`);
  }
  const c = json as Json;
  const resample = c.resample ?? PIL_BICUBIC;
  if (c.do_resize !== false && resample !== PIL_BICUBIC) {
    throw new ClipConfigError(
      `${label}: resample ${JSON.stringify(resample)} is not supported (only 3, bicubic, as CLIP uses)`,
    );
  }
  let shortestEdge = 0;
  if (c.do_resize !== false) {
    const size = c.size ?? CLIP_DEFAULT_PREPROCESS.shortestEdge;
    if (typeof size === 'number') shortestEdge = side(size, 'size', label);
    else if (size && typeof size === 'object' && 'shortest_edge' in size)
      shortestEdge = side((size as Json).shortest_edge, 'size.shortest_edge', label);
    else
      throw new ClipConfigError(
        `${label}: size must be a number or {"shortest_edge": N} (CLIP resizes the shorter side), got ${JSON.stringify(size)}`,
      );
  }
  let cropWidth = 0;
  let cropHeight = 0;
  if (c.do_center_crop !== false) {
    const crop = c.crop_size ?? CLIP_DEFAULT_PREPROCESS.cropWidth;
    if (typeof crop === 'number') cropWidth = cropHeight = side(crop, 'crop_size', label);
    else if (crop && typeof crop === 'object') {
      cropHeight = side((crop as Json).height, 'crop_size.height', label);
      cropWidth = side((crop as Json).width, 'crop_size.width', label);
    } else throw new ClipConfigError(`${label}: crop_size must be a number or {height, width}`);
  }
  const rescale = c.rescale_factor ?? CLIP_DEFAULT_PREPROCESS.rescaleFactor;
  if (typeof rescale !== 'number' || !(rescale > 0)) {
    throw new ClipConfigError(
      `${label}: rescale_factor must be a positive number, got ${JSON.stringify(rescale)}`,
    );
  }
  const normalize = c.do_normalize !== false;
  const mean = normalize
    ? triple(c.image_mean, 'image_mean', [...CLIP_DEFAULT_PREPROCESS.mean], label)
    : [0, 0, 0];
  const std = normalize
    ? triple(c.image_std, 'image_std', [...CLIP_DEFAULT_PREPROCESS.std], label)
    : [1, 1, 1];
  if (std.some((s) => s === 0)) throw new ClipConfigError(`${label}: image_std must not contain 0`);
  return {
    shortestEdge,
    cropWidth,
    cropHeight,
    rescaleFactor: c.do_rescale === false ? 1 : rescale,
    mean: mean as [number, number, number],
    std: std as [number, number, number],
  };
}

export async function readPreprocessorConfig(path: string): Promise<ClipPreprocessConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { ...CLIP_DEFAULT_PREPROCESS };
    throw new ClipConfigError(`Cannot read ${path}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ClipConfigError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  return parsePreprocessorConfig(json, path);
}

/**
 * The size after resizing the shorter side to `shortestEdge`: the longer side is
 * trunc(shortestEdge × long / short), as transformers' get_resize_output_image_size and torchvision do.
 */
export function clipResizeSize(
  width: number,
  height: number,
  shortestEdge: number,
): { width: number; height: number } {
  if (shortestEdge === 0) return { width, height };
  const short = Math.min(width, height);
  const long = Math.max(width, height);
  if (short === shortestEdge) return { width, height };
  const newLong = Math.trunc((shortestEdge * long) / short);
  return width <= height
    ? { width: shortestEdge, height: newLong }
    : { width: newLong, height: shortestEdge };
}

// ---- Pillow's BICUBIC resampling (8 bits per channel) ----------------------------------------

const PRECISION_BITS = 32 - 8 - 2;
const PRECISION_ONE = 2 ** PRECISION_BITS;
const HALF = 2 ** (PRECISION_BITS - 1);

function cubic(x: number): number {
  const a = -0.5;
  const t = Math.abs(x);
  if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
  return 0;
}

interface AxisTaps {
  first: Int32Array;
  count: Int32Array;
  /** Fixed-point weights, `stride` per output sample. */
  weights: Int32Array;
  stride: number;
}

function axisTaps(inSize: number, outSize: number): AxisTaps {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 2 * filterScale;
  const stride = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * stride);
  const raw = new Float64Array(stride);
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(0, Math.trunc(center - support + 0.5));
    const hi = Math.min(inSize, Math.trunc(center + support + 0.5));
    const n = hi - lo;
    let sum = 0;
    for (let k = 0; k < n; k++) {
      raw[k] = cubic((k + lo - center + 0.5) / filterScale);
      sum += raw[k]!;
    }
    for (let k = 0; k < n; k++) {
      const w = sum !== 0 ? raw[k]! / sum : raw[k]!;
      weights[o * stride + k] = Math.trunc(w < 0 ? w * PRECISION_ONE - 0.5 : w * PRECISION_ONE + 0.5);
    }
    first[o] = lo;
    count[o] = n;
  }
  return { first, count, weights, stride };
}

function clip8(acc: number): number {
  const v = Math.floor(acc / PRECISION_ONE);
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Lets other work on the event loop run during a long resize (metrics may run in the main process). */
const YIELD_EVERY_MS = 40;

/**
 * Pillow's `Image.resize((width, height), Image.BICUBIC)` of an RGB image, bit for bit. Row by row,
 * giving the event loop a turn every few tens of milliseconds.
 */
export async function pilBicubicResize(image: RgbImage, width: number, height: number): Promise<RgbImage> {
  let lastYield = performance.now();
  const maybeYield = async (): Promise<void> => {
    if (performance.now() - lastYield < YIELD_EVERY_MS) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    lastYield = performance.now();
  };
  let current = image;
  if (width !== current.width) {
    const taps = axisTaps(current.width, width);
    const out = new Uint8Array(width * current.height * 3);
    const src = current.data;
    const inRow = current.width * 3;
    for (let y = 0; y < current.height; y++) {
      for (let x = 0; x < width; x++) {
        const n = taps.count[x]!;
        const wo = x * taps.stride;
        let s = y * inRow + taps.first[x]! * 3;
        let r = HALF;
        let g = HALF;
        let b = HALF;
        for (let k = 0; k < n; k++, s += 3) {
          const w = taps.weights[wo + k]!;
          r += src[s]! * w;
          g += src[s + 1]! * w;
          b += src[s + 2]! * w;
        }
        const d = (y * width + x) * 3;
        out[d] = clip8(r);
        out[d + 1] = clip8(g);
        out[d + 2] = clip8(b);
      }
      await maybeYield();
    }
    current = { width, height: current.height, data: out };
  }
  if (height !== current.height) {
    const taps = axisTaps(current.height, height);
    const out = new Uint8Array(width * height * 3);
    const src = current.data;
    const row = width * 3;
    for (let y = 0; y < height; y++) {
      const n = taps.count[y]!;
      const wo = y * taps.stride;
      const first = taps.first[y]!;
      for (let i = 0; i < row; i++) {
        let acc = HALF;
        for (let k = 0; k < n; k++) acc += src[(first + k) * row + i]! * taps.weights[wo + k]!;
        out[y * row + i] = clip8(acc);
      }
      await maybeYield();
    }
    current = { width, height, data: out };
  }
  return current === image ? { width, height, data: new Uint8Array(image.data) } : current;
}

/** The centre `width`×`height` of an image; the offsets are trunc((size − crop) / 2), as transformers' center_crop. */
export function centerCrop(image: RgbImage, width: number, height: number): RgbImage {
  if (width > image.width || height > image.height) {
    throw new ClipConfigError(
      `cannot centre-crop ${width}×${height} from a ${image.width}×${image.height} image (crop_size larger than the resized image)`,
    );
  }
  const top = Math.trunc((image.height - height) / 2);
  const left = Math.trunc((image.width - width) / 2);
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const from = ((top + y) * image.width + left) * 3;
    out.set(image.data.subarray(from, from + width * 3), y * width * 3);
  }
  return { width, height, data: out };
}

/**
 * One image as CLIP's `pixel_values` (CHW float32), and the 8-bit picture the model sees (after
 * resize and crop), for display and tests.
 */
export async function clipPixelValues(
  image: RgbImage,
  config: ClipPreprocessConfig = CLIP_DEFAULT_PREPROCESS,
): Promise<{ pixelValues: Float32Array; width: number; height: number; seen: RgbImage }> {
  const size = clipResizeSize(image.width, image.height, config.shortestEdge);
  let seen = await pilBicubicResize(image, size.width, size.height);
  if (config.cropWidth > 0) seen = centerCrop(seen, config.cropWidth, config.cropHeight);
  const plane = seen.width * seen.height;
  const pixelValues = new Float32Array(plane * 3);
  for (let c = 0; c < 3; c++) {
    const mean = config.mean[c]!;
    const std = config.std[c]!;
    for (let p = 0; p < plane; p++) {
      pixelValues[c * plane + p] = (seen.data[p * 3 + c]! * config.rescaleFactor - mean) / std;
    }
  }
  return { pixelValues, width: seen.width, height: seen.height, seen };
}
