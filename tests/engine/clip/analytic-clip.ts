/**
 * Independent recomputation of the analytic tiny CLIP's embeddings (the formulas documented in
 * src/main/engine/tiny-model/tiny-clip.ts), from CLIP-preprocessed pixels and tokenizer ids.
 */
import type { RgbImage } from '../../../src/shared/engine-types';
import { clipPixelValues } from '../../../src/main/engine/clip/preprocess';
import { ClipTokenizer } from '../../../src/main/engine/tokenizer';
import {
  TINY_CLIP_DIM,
  TINY_CLIP_IMAGE_BIAS,
  TINY_CLIP_IMAGE_MIX,
  tinyClipTokenValue,
} from '../../../src/main/engine/tiny-model/tiny-clip';

export function unit(v: number[]): number[] {
  const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return v.map((x) => x / n);
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** The analytic image embedding: channel means of pixel_values, mixed, plus the bias, unit length. */
export async function expectedImage(image: RgbImage): Promise<number[]> {
  const { pixelValues } = await clipPixelValues(image);
  const plane = pixelValues.length / 3;
  const means = [0, 1, 2].map((c) => {
    let s = 0;
    for (let p = 0; p < plane; p++) s += pixelValues[c * plane + p]!;
    return s / plane;
  });
  const out: number[] = [];
  for (let j = 0; j < TINY_CLIP_DIM; j++)
    out.push(TINY_CLIP_IMAGE_BIAS[j]! + means.reduce((s, m, c) => s + m * TINY_CLIP_IMAGE_MIX[c]![j]!, 0));
  return unit(out);
}

/** The analytic text embedding: the token vectors summed (all 77 positions, or the unpadded ones). */
export async function expectedText(dir: string, text: string, maskPadding: boolean): Promise<number[]> {
  const tokenizer = await ClipTokenizer.fromFolder(dir);
  const ids = [...tokenizer.encode(text)];
  const used = maskPadding ? tokenizer.tokenIds(text).length + 2 : ids.length;
  const out = new Array<number>(TINY_CLIP_DIM).fill(0);
  for (let s = 0; s < used; s++)
    for (let j = 0; j < TINY_CLIP_DIM; j++) out[j]! += tinyClipTokenValue(ids[s]!, j);
  return unit(out);
}

/** Cosine similarity; 0 when a vector is zero (an unchanged picture), as torch's cosine_similarity gives. */
export function cos(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const norms = Math.sqrt(dot(a, a) * dot(b, b));
  return norms === 0 ? 0 : dot(a, b) / norms;
}
