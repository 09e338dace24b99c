/**
 * Placing a result made at the model's processing size into the full-size document.
 *
 * 'delta' (default): full = source + upsample(result − processedSource). Where the instruction
 * changed nothing, result ≈ processedSource, the delta is ≈ 0 and the full-resolution source keeps
 * all of its detail; where it changed something, the change arrives at the upsampled resolution.
 * 'upscale': the result resized to the document size (the source's fine detail is lost).
 *
 * The signed delta is resampled in floating point (lanczos3, centre-aligned, edges clamped: see
 * image-io's resampleRgb), row by row straight into the sum with the source, which is rounded and
 * clamped to 0..255, so the full-size delta is never held in memory. Centre alignment means the change lands exactly where
 * the model made it: no sub-pixel shift between the layers.
 */
import type { PlacementMode } from '../../shared/document/records';
import type { RgbImage } from '../../shared/engine-types';
import { resampleRgb, resizeRgb } from '../engine/image-io';
import { forRowSlices } from './row-slices';

export interface ProcessedPair {
  /** The result at processing size. */
  image: RgbImage;
  /** The source exactly as the model saw it (same size as `image`). */
  processedSource: RgbImage;
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
  const r = image.data;
  const s = processedSource.data;
  const src = source.data;
  // Both loops go in slices of rows with turns of the event loop between (a native-size result is
  // the document's size: tens of millions of values).
  if (w === width && h === height) {
    // Uint8ClampedArray stores round(clamp(v, 0, 255)).
    const out = new Uint8ClampedArray(width * height * 3);
    await forRowSlices(width, height, (start, end) => {
      for (let i = start * 3; i < end * 3; i++) out[i] = src[i]! + (r[i]! - s[i]!);
    });
    return { width, height, data: new Uint8Array(out.buffer) };
  }
  const delta = new Int16Array(w * h * 3);
  await forRowSlices(w, h, (start, end) => {
    for (let i = start * 3; i < end * 3; i++) delta[i] = r[i]! - s[i]!;
  });
  return { width, height, data: await resampleRgb(delta, w, h, width, height, src) };
}
