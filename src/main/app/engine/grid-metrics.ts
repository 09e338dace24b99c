/**
 * The guidance grid's CLIP metrics, computed in the engine worker (never on the backend's event
 * loop): the source picture and the captions are embedded once per grid, each finished cell's result
 * once. The CLIP model stays loaded between grids while its folder stays the same.
 */
import type { GridMetrics } from '../../../shared/contract/schemas';
import type { RgbImage } from '../../../shared/engine-types';
import type { ClipModel } from '../../engine/clip/clip-model';
import type { GridMetricsRequest } from './protocol';

let cached: { dir: string; model: Promise<ClipModel> } | null = null;

/** Loads (or reuses) the CLIP model in `dir`; a failed load is forgotten so the next grid retries. */
export async function loadClip(dir: string): Promise<ClipModel> {
  if (cached?.dir !== dir) {
    const previous = cached;
    // Loaded lazily: onnxruntime-node is a native module and only the worker process touches it.
    const model = import('../../engine/clip/clip-model').then(({ ClipModel }) => ClipModel.load(dir));
    cached = { dir, model };
    model.catch(() => {
      if (cached?.model === model) cached = null;
    });
    void previous?.model.then((old) => old.dispose()).catch(() => undefined);
  }
  return cached.model;
}

export async function disposeClip(): Promise<void> {
  const previous = cached;
  cached = null;
  await previous?.model.then((model) => model.dispose()).catch(() => undefined);
}

/** Measures cells of one grid against its processed source (embedded on first use). */
export class GridMeter {
  private sourceEmbedding: Promise<Float32Array> | null = null;
  private captions: Promise<{ before: Float32Array | null; after: Float32Array | null }> | null = null;

  constructor(
    private readonly clip: ClipModel,
    private readonly request: GridMetricsRequest,
  ) {}

  async measure(processedSource: RgbImage, result: RgbImage): Promise<GridMetrics> {
    const { editMetrics } = await import('../../engine/clip/metrics');
    this.sourceEmbedding ??= this.clip.embedImages([processedSource]).then(([e]) => e!);
    this.captions ??= this.embedCaptions();
    const [sourceImage, captions, [resultImage]] = await Promise.all([
      this.sourceEmbedding,
      this.captions,
      this.clip.embedImages([result]),
    ]);
    const metrics = editMetrics({
      sourceImage,
      resultImage: resultImage!,
      ...(captions.before ? { captionBefore: captions.before } : {}),
      ...(captions.after ? { captionAfter: captions.after } : {}),
    });
    return {
      imageSimilarity: metrics.imageSimilarity,
      directionalSimilarity: metrics.directionalSimilarity,
      clipT: metrics.clipT,
    };
  }

  private async embedCaptions(): Promise<{ before: Float32Array | null; after: Float32Array | null }> {
    const before = nonEmpty(this.request.captionBefore);
    const after = nonEmpty(this.request.captionAfter);
    const texts = [before, after].filter((t): t is string => t !== null);
    const embedded = await this.clip.embedTexts(texts);
    return {
      before: before !== null ? embedded[0]! : null,
      after: after !== null ? embedded[before !== null ? 1 : 0]! : null,
    };
  }
}

function nonEmpty(text: string | null): string | null {
  const trimmed = text?.trim() ?? '';
  return trimmed === '' ? null : trimmed;
}
