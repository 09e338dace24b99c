/**
 * An ONNX export of CLIP (openai/clip-vit-large-patch14 for the paper's metrics) giving unit-length
 * image and text embeddings. Two layouts are accepted, in the folder or its `onnx/` subfolder:
 *  - `text_model.onnx` + `vision_model.onnx` (CLIPTextModelWithProjection / CLIPVisionModelWithProjection:
 *    outputs `text_embeds` / `image_embeds`), as transformers.js and Optimum write them;
 *  - one `model.onnx` (CLIPModel: inputs `input_ids`, `pixel_values`, `attention_mask`; outputs
 *    `text_embeds`, `image_embeds`).
 * The tokenizer files (tokenizer.json or vocab.json + merges.txt, tokenizer_config.json) and
 * preprocessor_config.json sit in the folder itself.
 */
import { join } from 'node:path';
import type { ProviderName, RgbImage } from '../../../shared/engine-types';
import { createSessionFactory, type OnnxSession, type TensorData } from '../backend';
import { fromFloat16, toFloat16Bits } from '../float16';
import { ClipTokenizer } from '../tokenizer';
import { clipPixelValues, readPreprocessorConfig, type ClipPreprocessConfig } from './preprocess';
import {
  ClipModelError,
  clipCandidates,
  findClipBeside,
  inspectClipFolder,
  type ClipLayout,
} from './clip-folder';

export { ClipModelError, clipCandidates, findClipBeside, inspectClipFolder, type ClipLayout };

function l2Normalize(values: Float32Array): Float32Array {
  let sum = 0;
  for (const v of values) sum += v * v;
  const norm = Math.sqrt(sum);
  if (!(norm > 0)) throw new ClipModelError('CLIP returned an all-zero embedding');
  return values.map((v) => v / norm);
}

function floatValues(tensor: TensorData): Float32Array {
  if (tensor.data instanceof Float32Array) return tensor.data;
  if (tensor.type === 'float16') return fromFloat16(tensor.data as Uint16Array);
  throw new ClipModelError(`CLIP returned ${tensor.type} embeddings, expected float`);
}

/** Splits [batch, dim] output rows into unit vectors. */
function rows(tensor: TensorData, batch: number, what: string): Float32Array[] {
  const data = floatValues(tensor);
  const dim = tensor.dims[tensor.dims.length - 1] ?? 0;
  if (tensor.dims.length !== 2 || tensor.dims[0] !== batch || dim * batch !== data.length) {
    throw new ClipModelError(
      `CLIP's ${what} have shape [${tensor.dims.join(', ')}], expected [${batch}, dim]`,
    );
  }
  const out: Float32Array[] = [];
  for (let b = 0; b < batch; b++) out.push(l2Normalize(data.slice(b * dim, (b + 1) * dim)));
  return out;
}

function needOutput(session: OnnxSession, name: string): void {
  if (!session.outputs.some((o) => o.name === name)) {
    throw new ClipModelError(
      `${session.label} has no '${name}' output (found ${session.outputs.map((o) => o.name).join(', ')}); export CLIP with its projection (…WithProjection or CLIPModel)`,
    );
  }
}

export interface ClipLoadOptions {
  provider?: ProviderName;
  intraOpNumThreads?: number;
}

export class ClipModel {
  private constructor(
    readonly dir: string,
    readonly layout: ClipLayout,
    readonly preprocess: ClipPreprocessConfig,
    private readonly tokenizer: ClipTokenizer,
    private readonly text: OnnxSession,
    private readonly vision: OnnxSession,
  ) {}

  static async load(dir: string, options: ClipLoadOptions = {}): Promise<ClipModel> {
    const layout = inspectClipFolder(dir);
    const preprocess = await readPreprocessorConfig(join(dir, 'preprocessor_config.json'));
    let tokenizer: ClipTokenizer;
    try {
      tokenizer = await ClipTokenizer.fromFolder(dir);
    } catch (error) {
      throw new ClipModelError(`CLIP model folder ${dir}: ${(error as Error).message}`, { cause: error });
    }
    const first = layout.kind === 'split' ? layout.visionModel : layout.model;
    const label = (path: string) => path.slice(dir.length).replace(/^[\\/]+/, '');
    const { factory, probe } = await createSessionFactory(first, label(first), {
      provider: options.provider ?? 'auto',
      intraOpNumThreads: options.intraOpNumThreads,
    });
    let text = probe;
    try {
      if (layout.kind === 'split') text = await factory.create(layout.textModel, label(layout.textModel));
      needOutput(probe, 'image_embeds');
      needOutput(text, 'text_embeds');
    } catch (error) {
      await probe.dispose().catch(() => undefined);
      if (text !== probe) await text.dispose().catch(() => undefined);
      throw error;
    }
    return new ClipModel(dir, layout, preprocess, tokenizer, text, probe);
  }

  /** The CLIP text inputs for `texts`: ids padded to the tokenizer's length, and the attention mask. */
  private textFeeds(session: OnnxSession, texts: readonly string[]): Record<string, TensorData> {
    const length = this.tokenizer.maxLength;
    const ids = new Int32Array(texts.length * length);
    const mask = new Int32Array(texts.length * length);
    texts.forEach((text, b) => {
      const encoded = this.tokenizer.encode(text);
      ids.set(encoded, b * length);
      const body = Math.min(this.tokenizer.tokenIds(text).length, length - 2) + 2;
      mask.fill(1, b * length, b * length + body);
    });
    const feeds: Record<string, TensorData> = {};
    const dims = [texts.length, length];
    const asType = (name: string, data: Int32Array): TensorData => {
      const type = session.inputs.find((i) => i.name === name)?.type;
      return type === 'int32'
        ? { type: 'int32', dims, data }
        : { type: 'int64', dims, data: BigInt64Array.from(data, (v) => BigInt(v)) };
    };
    feeds.input_ids = asType('input_ids', ids);
    if (session.inputs.some((i) => i.name === 'attention_mask'))
      feeds.attention_mask = asType('attention_mask', mask);
    return feeds;
  }

  private async imageFeed(session: OnnxSession, images: readonly RgbImage[]): Promise<TensorData> {
    const parts = [];
    for (const image of images) parts.push(await clipPixelValues(image, this.preprocess));
    const first = parts[0]!;
    const size = first.pixelValues.length;
    const data = new Float32Array(size * parts.length);
    parts.forEach((part, i) => data.set(part.pixelValues, i * size));
    const dims = [parts.length, 3, first.height, first.width];
    const type = session.inputs.find((i) => i.name === 'pixel_values')?.type;
    return type === 'float16'
      ? { type: 'float16', dims, data: toFloat16Bits(data) }
      : { type: 'float32', dims, data };
  }

  /** Unit-length image embeddings, one per image. */
  async embedImages(images: readonly RgbImage[]): Promise<Float32Array[]> {
    if (images.length === 0) return [];
    const feeds: Record<string, TensorData> = { pixel_values: await this.imageFeed(this.vision, images) };
    // The combined graph needs text inputs too: one empty caption, whose embedding is dropped.
    if (this.layout.kind === 'combined') Object.assign(feeds, this.textFeeds(this.vision, ['']));
    const out = await this.vision.run(feeds, ['image_embeds']);
    return rows(out.image_embeds!, images.length, 'image embeddings');
  }

  /** Unit-length text embeddings, one per text. */
  async embedTexts(texts: readonly string[]): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const feeds = this.textFeeds(this.text, texts);
    if (this.layout.kind === 'combined') {
      // A 1-image batch of zeros (the normalised mean colour) stands in for the unused image side.
      const zero = await this.imageFeed(this.text, [{ width: 1, height: 1, data: new Uint8Array(3) }]);
      const zeros =
        zero.data instanceof Uint16Array
          ? new Uint16Array(zero.data.length)
          : new Float32Array(zero.data.length);
      feeds.pixel_values = { ...zero, data: zeros };
    }
    const out = await this.text.run(feeds, ['text_embeds']);
    return rows(out.text_embeds!, texts.length, 'text embeddings');
  }

  /**
   * Images and texts together: with the combined graph one run gives both (no stand-in input), with
   * two graphs one run each.
   */
  async embed(
    images: readonly RgbImage[],
    texts: readonly string[],
  ): Promise<{ images: Float32Array[]; texts: Float32Array[] }> {
    if (this.layout.kind === 'split' || images.length === 0 || texts.length === 0) {
      return { images: await this.embedImages(images), texts: await this.embedTexts(texts) };
    }
    const feeds: Record<string, TensorData> = {
      pixel_values: await this.imageFeed(this.vision, images),
      ...this.textFeeds(this.vision, texts),
    };
    const out = await this.vision.run(feeds, ['image_embeds', 'text_embeds']);
    return {
      images: rows(out.image_embeds!, images.length, 'image embeddings'),
      texts: rows(out.text_embeds!, texts.length, 'text embeddings'),
    };
  }

  async dispose(): Promise<void> {
    await this.vision.dispose();
    if (this.text !== this.vision) await this.text.dispose();
  }
}
