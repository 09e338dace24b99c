/**
 * 8-bit compositing: a layer over what is below, with blend mode, opacity and an optional mask.
 * The result of every operation is RGB (the base is opaque, so the composite is too). Loops run over
 * Uint8Arrays without per-pixel allocation, so an 8000×8000 document composites in about a second.
 *
 *   out = below + (blend(below, layer) − below) × α,   α = round(opacity × 255) × mask / 255²
 *
 * with integer rounding to nearest. PSD readers use the same normal/multiply/screen formulas.
 */
import type { BlendMode } from '../../shared/document/records';
import type { RgbImage } from '../../shared/engine-types';
import type { GrayImage } from './pixel-store';
import { forRowSlices } from './row-slices';

export interface CompositeLayer {
  pixels: RgbImage;
  /** 0..255 */
  opacity: number;
  blendMode: BlendMode;
  mask: GrayImage | null;
}

const FULL = 255 * 255;
const HALF = (FULL - 1) >> 1;

function checkSizes(below: RgbImage, layer: CompositeLayer): void {
  const { width, height } = below;
  if (layer.pixels.width !== width || layer.pixels.height !== height) {
    throw new RangeError(
      `layer is ${layer.pixels.width}×${layer.pixels.height}, the document ${width}×${height}`,
    );
  }
  if (layer.mask && (layer.mask.width !== width || layer.mask.height !== height)) {
    throw new RangeError(`mask is ${layer.mask.width}×${layer.mask.height}, the document ${width}×${height}`);
  }
  if (below.data.length !== width * height * 3 || layer.pixels.data.length !== width * height * 3) {
    throw new RangeError('image data length does not match its size');
  }
}

/** Blends `layer` onto `below` in place. */
export function blendInto(below: RgbImage, layer: CompositeLayer): void {
  checkSizes(below, layer);
  blendPixels(below.data, layer, 0, below.width * below.height);
}

/**
 * blendInto in slices of rows, with a turn of the event loop every few tens of milliseconds (the
 * main side blends whole pictures): the same pixels, byte for byte.
 */
export async function blendIntoInSteps(below: RgbImage, layer: CompositeLayer): Promise<void> {
  checkSizes(below, layer);
  await forRowSlices(below.width, below.height, (start, end) => blendPixels(below.data, layer, start, end));
}

/** Blends pixels [start, end) of `layer` onto `dst` (sizes already checked). */
function blendPixels(dst: Uint8Array, layer: CompositeLayer, start: number, end: number): void {
  const opacity = Math.max(0, Math.min(255, Math.round(layer.opacity)));
  if (opacity === 0) return;
  const src = layer.pixels.data;
  const mask = layer.mask?.data ?? null;
  const mode = layer.blendMode;

  if (mode === 'normal' && mask === null && opacity === 255) {
    dst.set(src.subarray(start * 3, end * 3), start * 3);
    return;
  }
  if (mode === 'normal') {
    for (let p = start, i = start * 3; p < end; p++, i += 3) {
      const a = mask === null ? opacity * 255 : opacity * (mask[p] as number);
      if (a === 0) continue;
      const inv = FULL - a;
      dst[i] = (((dst[i] as number) * inv + (src[i] as number) * a + HALF) / FULL) | 0;
      dst[i + 1] = (((dst[i + 1] as number) * inv + (src[i + 1] as number) * a + HALF) / FULL) | 0;
      dst[i + 2] = (((dst[i + 2] as number) * inv + (src[i + 2] as number) * a + HALF) / FULL) | 0;
    }
    return;
  }
  const multiply = mode === 'multiply';
  for (let p = start, i = start * 3; p < end; p++, i += 3) {
    const a = mask === null ? opacity * 255 : opacity * (mask[p] as number);
    if (a === 0) continue;
    const inv = FULL - a;
    for (let c = i; c < i + 3; c++) {
      const d = dst[c] as number;
      const s = src[c] as number;
      const sd = ((s * d + 127) / 255) | 0;
      const b = multiply ? sd : s + d - sd; // screen: 255 − (255 − s)(255 − d)/255
      dst[c] = ((d * inv + b * a + HALF) / FULL) | 0;
    }
  }
}

/** A copy of `base` with each layer blended on, in order. */
export function compositeLayers(base: RgbImage, layers: readonly CompositeLayer[]): RgbImage {
  const out: RgbImage = { width: base.width, height: base.height, data: new Uint8Array(base.data) };
  for (const layer of layers) blendInto(out, layer);
  return out;
}

/** RGB → RGBA with opaque alpha (for PSD image data). */
export function rgbToRgba(image: RgbImage): Uint8ClampedArray {
  const n = image.width * image.height;
  const out = new Uint8ClampedArray(n * 4);
  const src = image.data;
  for (let p = 0, i = 0, o = 0; p < n; p++, i += 3, o += 4) {
    out[o] = src[i] as number;
    out[o + 1] = src[i + 1] as number;
    out[o + 2] = src[i + 2] as number;
    out[o + 3] = 255;
  }
  return out;
}

/** The inverse of a mask (255 − m); a missing mask is all 255, so its inverse is all 0. */
export function invertMask(mask: GrayImage | null, width: number, height: number): GrayImage {
  const out = new Uint8Array(width * height);
  if (mask === null) return { width, height, data: out };
  const src = mask.data;
  for (let i = 0; i < out.length; i++) out[i] = 255 - (src[i] as number);
  return { width, height, data: out };
}

export interface MaskDab {
  /** Centre, in document pixels. */
  x: number;
  y: number;
  radius: number;
  /** 0..1: 1 = a hard edge, 0 = soft all the way from the centre. Default 1. */
  hardness?: number;
}

/**
 * Paints round dabs into a mask (a copy; `mask` null starts from all 255, i.e. "shows everywhere").
 * `value` 255 reveals the layer, 0 hides it; soft edges blend towards the value.
 */
export function paintDabs(
  mask: GrayImage | null,
  width: number,
  height: number,
  dabs: readonly MaskDab[],
  value: number,
): GrayImage {
  const out = mask ? new Uint8Array(mask.data) : new Uint8Array(width * height).fill(255);
  const v = Math.max(0, Math.min(255, Math.round(value)));
  for (const dab of dabs) {
    const r = Math.max(0, dab.radius);
    const hard = Math.max(0, Math.min(1, dab.hardness ?? 1));
    const inner = r * hard;
    const x0 = Math.max(0, Math.floor(dab.x - r));
    const x1 = Math.min(width - 1, Math.ceil(dab.x + r));
    const y0 = Math.max(0, Math.floor(dab.y - r));
    const y1 = Math.min(height - 1, Math.ceil(dab.y + r));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const dist = Math.hypot(x + 0.5 - dab.x, y + 0.5 - dab.y);
        if (dist > r) continue;
        const t = dist <= inner || r === inner ? 1 : 1 - (dist - inner) / (r - inner);
        const i = y * width + x;
        const cur = out[i] as number;
        out[i] = Math.round(cur + (v - cur) * t);
      }
    }
  }
  return { width, height, data: out };
}
