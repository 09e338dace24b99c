/**
 * Placing a result made at the model's processing size into the full-size document.
 *
 * 'delta' (default): full = source + upsample(result − processedSource). Where the instruction
 * changed nothing, result ≈ processedSource, the delta is ≈ 0 and the full-resolution source keeps
 * all of its detail; where it changed something, the change arrives at the upsampled resolution.
 * 'upscale': the result resized to the document size (the source's fine detail is lost).
 *
 * The signed delta is upsampled by sharp (lanczos3) as 16-bit samples, (d + 256) × 64, so it keeps
 * sub-level precision and both signs; the sum is rounded and clamped to 0..255.
 */
import sharp from 'sharp';
import type { PlacementMode } from '../../shared/document/records';
import type { RgbImage } from '../../shared/engine-types';
import { resizeRgb } from '../engine/image-io';

const OFFSET = 256;
const SCALE = 64;
const ZERO = OFFSET * SCALE;

export interface ProcessedPair {
  /** The result at processing size. */
  image: RgbImage;
  /** The source exactly as the model saw it (same size as `image`). */
  processedSource: RgbImage;
}

async function upsampleDelta(
  delta: Uint16Array,
  w: number,
  h: number,
  width: number,
  height: number,
): Promise<Uint16Array> {
  if (w === width && h === height) return delta;
  const { data, info } = await sharp(delta, { raw: { width: w, height: h, channels: 3 } })
    .resize(width, height, { kernel: 'lanczos3', fit: 'fill' })
    .toColourspace('rgb16')
    .raw({ depth: 'ushort' })
    .toBuffer({ resolveWithObject: true });
  if (
    info.width !== width ||
    info.height !== height ||
    info.channels !== 3 ||
    data.length !== width * height * 6
  ) {
    throw new Error(
      `delta upsampling produced ${info.width}×${info.height}×${info.channels}, expected ${width}×${height}×3`,
    );
  }
  // Copy into an aligned array (the Buffer may start at an odd byte offset).
  const out = new Uint16Array(width * height * 3);
  new Uint8Array(out.buffer).set(data);
  return out;
}

/** Places `result` onto the full-resolution `source` (which it was computed from). */
export async function placeResult(
  source: RgbImage,
  result: ProcessedPair,
  mode: PlacementMode = 'delta',
): Promise<RgbImage> {
  const { width, height } = source;
  if (mode === 'upscale') return resizeRgb(result.image, width, height);
  const { image, processedSource } = result;
  if (image.width !== processedSource.width || image.height !== processedSource.height) {
    throw new RangeError(
      `the result (${image.width}×${image.height}) and the processed source (${processedSource.width}×${processedSource.height}) differ in size`,
    );
  }
  const w = image.width;
  const h = image.height;
  const delta = new Uint16Array(w * h * 3);
  const r = image.data;
  const s = processedSource.data;
  for (let i = 0; i < delta.length; i++) delta[i] = ((r[i] as number) - (s[i] as number) + OFFSET) * SCALE;
  const up = await upsampleDelta(delta, w, h, width, height);
  const out = new Uint8Array(width * height * 3);
  const src = source.data;
  for (let i = 0; i < out.length; i++) {
    // round((u − ZERO) / SCALE), then add and clamp.
    const v = (src[i] as number) + (((up[i] as number) - ZERO + SCALE / 2) >> 6);
    out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return { width, height, data: out };
}
