/**
 * The InstructPix2Pix paper's CLIP metrics (its metrics/clip_similarity.py), on unit-length
 * embeddings:
 *  - image similarity: cos(E_img(source), E_img(result)): how much of the input the result keeps;
 *  - CLIP-T: cos(E_img(result), E_txt(caption after)): how well the result matches its description;
 *  - directional similarity: cos(E_img(result) − E_img(source), E_txt(after) − E_txt(before)): whether
 *    the picture changed the way the captions did.
 * Plus the pixel distances MagicBrush and Emu Edit report against a target picture.
 */
import type { RgbImage } from '../../../shared/engine-types';
import type { ClipModel } from './clip-model';

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`vectors of ${a.length} and ${b.length} values`);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  const denominator = Math.sqrt(na) * Math.sqrt(nb);
  // As torch's cosine_similarity: a zero vector (no change) gives 0, not NaN.
  return dot / Math.max(denominator, 1e-8);
}

function difference(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! - b[i]!;
  return out;
}

export interface EditEmbeddings {
  sourceImage: Float32Array;
  resultImage: Float32Array;
  captionBefore?: Float32Array;
  captionAfter?: Float32Array;
}

export interface ClipEditMetrics {
  imageSimilarity: number;
  /** null without an output caption. */
  clipT: number | null;
  /** null unless both captions are given. */
  directionalSimilarity: number | null;
}

export function editMetrics(e: EditEmbeddings): ClipEditMetrics {
  return {
    imageSimilarity: cosine(e.sourceImage, e.resultImage),
    clipT: e.captionAfter ? cosine(e.resultImage, e.captionAfter) : null,
    directionalSimilarity:
      e.captionBefore && e.captionAfter
        ? cosine(difference(e.resultImage, e.sourceImage), difference(e.captionAfter, e.captionBefore))
        : null,
  };
}

export interface Captions {
  before?: string;
  after?: string;
}

/** Embeds the pictures and the captions given (one call per model) and computes the metrics. */
export async function measureEdit(
  clip: ClipModel,
  source: RgbImage,
  result: RgbImage,
  captions: Captions = {},
): Promise<ClipEditMetrics> {
  const texts = [captions.before, captions.after].filter((t): t is string => t !== undefined && t !== '');
  const { images, texts: embedded } = await clip.embed([source, result], texts);
  const [sourceImage, resultImage] = images as [Float32Array, Float32Array];
  const hasBefore = captions.before !== undefined && captions.before !== '';
  const hasAfter = captions.after !== undefined && captions.after !== '';
  return editMetrics({
    sourceImage,
    resultImage,
    ...(hasBefore ? { captionBefore: embedded[0]! } : {}),
    ...(hasAfter ? { captionAfter: embedded[hasBefore ? 1 : 0]! } : {}),
  });
}

/** Mean absolute and mean squared difference of two same-size pictures, on the 0..1 scale. */
export function pixelDistances(a: RgbImage, b: RgbImage): { l1: number; l2: number } {
  if (a.width !== b.width || a.height !== b.height) {
    throw new RangeError(`pictures of ${a.width}×${a.height} and ${b.width}×${b.height} differ in size`);
  }
  let l1 = 0;
  let l2 = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = (a.data[i]! - b.data[i]!) / 255;
    l1 += Math.abs(d);
    l2 += d * d;
  }
  return { l1: l1 / a.data.length, l2: l2 / a.data.length };
}
