/**
 * Writes a small CLIP ONNX export for tests, in either layout the CLIP loader accepts:
 *  - 'split': text_model.onnx (input_ids → text_embeds) + vision_model.onnx (pixel_values → image_embeds),
 *    unnormalised, as CLIP…WithProjection exports are;
 *  - 'combined': model.onnx (input_ids, pixel_values, attention_mask → text_embeds, image_embeds,
 *    unit length), as a CLIPModel export is.
 * Kinds: 'analytic' embeddings follow formulas tests can recompute (below); 'random' has a patch
 * convolution and a token table with seeded random weights (pictures and captions map to varied
 * directions, nothing more). The tokenizer is the tiny CLIP tokenizer; preprocessing is CLIP's (224).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLIP_DEFAULT_PREPROCESS } from '../clip/preprocess';
import { GraphBuilder, attr, dataTypeOf } from './onnx-builder';
import { TINY_MODEL_IR_VERSION, TINY_MODEL_OPSET } from './tiny-model';
import { buildClipVocabulary, END_TOKEN, mergesText, START_TOKEN, vocabJson } from './tiny-tokenizer';

export type TinyClipLayout = 'split' | 'combined';
export type TinyClipKind = 'analytic' | 'random';

export interface TinyClipOptions {
  layout?: TinyClipLayout;
  kind?: TinyClipKind;
  /** float16: pixel_values and the embeddings are float16 (computed in float32 inside). */
  precision?: 'float32' | 'float16';
  seed?: number;
}

/** Embedding width of the tiny CLIP. */
export const TINY_CLIP_DIM = 8;
export const TINY_CLIP_MAX_LENGTH = 77;

/**
 * Analytic text: text_embeds[j] = Σ over positions s of tinyClipTokenValue(input_ids[s], j) (every
 * position in the split layout; positions with attention_mask 1 in the combined one).
 */
export function tinyClipTokenValue(tokenId: number, dim: number): number {
  return ((tokenId * 13 + dim * 7) % 23) / 11 - 1;
}

/**
 * Analytic image: image_embeds = m · TINY_CLIP_IMAGE_MIX + TINY_CLIP_IMAGE_BIAS, where m[c] is the
 * mean of pixel_values' channel c (after CLIP's preprocessing).
 */
export const TINY_CLIP_IMAGE_MIX: readonly (readonly number[])[] = [
  [1, 0, 0, 0.5, -0.25, 0, 0.3, 0],
  [0, 1, 0, 0.5, 0, -0.5, 0, 0.2],
  [0, 0, 1, 0, 0.25, 0.5, -0.3, 0.1],
];
export const TINY_CLIP_IMAGE_BIAS: readonly number[] = [0.1, -0.2, 0.3, 0.05, 0.4, -0.1, 0.2, 0.15];

function seededUniform(count: number, std: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let s = seed >>> 0;
  for (let i = 0; i < count; i++) {
    let t = (s = (s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * std * Math.sqrt(3);
  }
  return out;
}

const RANDOM_WIDTH = 16;
const PATCH = 14;

/** pixel_values [B, 3, S, S] → [B, D]. */
function visionTower(g: GraphBuilder, kind: TinyClipKind, seed: number, pixels: string): string {
  const D = TINY_CLIP_DIM;
  if (kind === 'analytic') {
    const means = g.op('ReduceMean', [pixels, g.constInt64([2, 3])], { keepdims: attr.i(0) });
    const mix = g.initializer('image_mix', 'float32', [3, D], Float32Array.from(TINY_CLIP_IMAGE_MIX.flat()));
    const bias = g.initializer('image_bias', 'float32', [D], Float32Array.from(TINY_CLIP_IMAGE_BIAS));
    return g.op('Add', [g.op('MatMul', [means, mix]), bias]);
  }
  const w = g.initializer(
    'patch.weight',
    'float32',
    [RANDOM_WIDTH, 3, PATCH, PATCH],
    seededUniform(RANDOM_WIDTH * 3 * PATCH * PATCH, 1 / Math.sqrt(3 * PATCH * PATCH), seed + 1),
  );
  const patches = g.op('Conv', [pixels, w], {
    kernel_shape: attr.ints([PATCH, PATCH]),
    strides: attr.ints([PATCH, PATCH]),
  });
  const pooled = g.op('Tanh', [
    g.op('ReduceMean', [g.op('Tanh', [patches]), g.constInt64([2, 3])], { keepdims: attr.i(0) }),
  ]);
  const proj = g.initializer(
    'visual_projection',
    'float32',
    [RANDOM_WIDTH, D],
    seededUniform(RANDOM_WIDTH * D, 1 / Math.sqrt(RANDOM_WIDTH), seed + 2),
  );
  return g.op('MatMul', [pooled, proj]);
}

/** input_ids [B, S] (and attention_mask) → [B, D]. */
function textTower(
  g: GraphBuilder,
  kind: TinyClipKind,
  vocabSize: number,
  seed: number,
  withMask: boolean,
): string {
  const D = TINY_CLIP_DIM;
  if (kind === 'analytic') {
    const table = new Float32Array(vocabSize * D);
    for (let id = 0; id < vocabSize; id++)
      for (let j = 0; j < D; j++) table[id * D + j] = tinyClipTokenValue(id, j);
    let tokens = g.op(
      'Gather',
      [g.initializer('token_table', 'float32', [vocabSize, D], table), 'input_ids'],
      {
        axis: attr.i(0),
      },
    );
    if (withMask) {
      const mask = g.op('Unsqueeze', [
        g.op('Cast', ['attention_mask'], { to: attr.i(dataTypeOf('float32')) }),
        g.constInt64([2]),
      ]);
      tokens = g.op('Mul', [tokens, mask]);
    }
    return g.op('ReduceSum', [tokens, g.constInt64([1])], { keepdims: attr.i(0) });
  }
  const tokens = g.op(
    'Gather',
    [
      g.initializer(
        'token_embedding',
        'float32',
        [vocabSize, RANDOM_WIDTH],
        seededUniform(vocabSize * RANDOM_WIDTH, 1, seed + 3),
      ),
      'input_ids',
    ],
    { axis: attr.i(0) },
  );
  const seqLen = g.op('Slice', [g.op('Shape', ['input_ids']), g.constInt64([1]), g.constInt64([2])]);
  const positions = g.op('Slice', [
    g.initializer(
      'position_embedding',
      'float32',
      [TINY_CLIP_MAX_LENGTH, RANDOM_WIDTH],
      seededUniform(TINY_CLIP_MAX_LENGTH * RANDOM_WIDTH, 0.5, seed + 4),
    ),
    g.constInt64([0]),
    seqLen,
    g.constInt64([0]),
  ]);
  // Running sum over positions, so the token at end-of-text sees everything before it.
  const hidden = g.op('Tanh', [g.op('CumSum', [g.op('Add', [tokens, positions]), g.constInt64([1])])]);
  // Pooled at the first end-of-text token (the largest id), as CLIP does.
  const eos = g.op('ArgMax', [g.op('Cast', ['input_ids'], { to: attr.i(dataTypeOf('float32')) })], {
    axis: attr.i(1),
    keepdims: attr.i(1),
  });
  const pooled = g.op('GatherND', [hidden, eos], { batch_dims: attr.i(1) });
  const proj = g.initializer(
    'text_projection',
    'float32',
    [RANDOM_WIDTH, D],
    seededUniform(RANDOM_WIDTH * D, 1 / Math.sqrt(RANDOM_WIDTH), seed + 5),
  );
  return g.op('MatMul', [pooled, proj]);
}

async function save(g: GraphBuilder, dir: string, file: string, docString: string): Promise<void> {
  await g.save(dir, file, { irVersion: TINY_MODEL_IR_VERSION, opset: TINY_MODEL_OPSET, docString });
}

/** Writes the tiny CLIP folder (creating `outDir`). */
export async function makeTinyClipModel(outDir: string, options: TinyClipOptions = {}): Promise<void> {
  const layout = options.layout ?? 'split';
  const kind = options.kind ?? 'analytic';
  const seed = options.seed ?? 77;
  const io = options.precision ?? 'float32';
  const pixelsIn = (g: GraphBuilder): string =>
    io === 'float32' ? 'pixel_values' : g.op('Cast', ['pixel_values'], { to: attr.i(dataTypeOf('float32')) });
  const embedOut = (g: GraphBuilder, x: string): string =>
    io === 'float32' ? x : g.op('Cast', [x], { to: attr.i(dataTypeOf('float16')) });
  await mkdir(outDir, { recursive: true });
  const vocabulary = buildClipVocabulary();
  const vocabSize = vocabulary.vocab.size;
  const S = CLIP_DEFAULT_PREPROCESS.cropHeight;
  const D = TINY_CLIP_DIM;
  const doc = `tiny CLIP (${layout}, ${kind}, ${io}, seed ${seed})`;

  if (layout === 'split') {
    const text = new GraphBuilder('text_model');
    text.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
    text.output('text_embeds', embedOut(text, textTower(text, kind, vocabSize, seed, false)), io, [
      'batch_size',
      D,
    ]);
    await save(text, outDir, 'text_model.onnx', doc);
    const vision = new GraphBuilder('vision_model');
    vision.input('pixel_values', io, ['batch_size', 3, S, S]);
    const embeds = embedOut(vision, visionTower(vision, kind, seed, pixelsIn(vision)));
    vision.output('image_embeds', embeds, io, ['batch_size', D]);
    await save(vision, outDir, 'vision_model.onnx', doc);
  } else {
    const g = new GraphBuilder('clip');
    g.input('input_ids', 'int64', ['text_batch_size', 'sequence_length']);
    g.input('pixel_values', io, ['image_batch_size', 3, S, S]);
    g.input('attention_mask', 'int64', ['text_batch_size', 'sequence_length']);
    const unit = (x: string) => g.op('LpNormalization', [x], { axis: attr.i(1), p: attr.i(2) });
    const textEmbeds = unit(textTower(g, kind, vocabSize, seed, true));
    const imageEmbeds = unit(visionTower(g, kind, seed, pixelsIn(g)));
    const logits = g.op('MatMul', [
      imageEmbeds,
      g.op('Transpose', [textEmbeds], { perm: attr.ints([1, 0]) }),
    ]);
    g.output('logits_per_image', logits, 'float32', ['image_batch_size', 'text_batch_size']);
    g.output('text_embeds', embedOut(g, textEmbeds), io, ['text_batch_size', D]);
    g.output('image_embeds', embedOut(g, imageEmbeds), io, ['image_batch_size', D]);
    await save(g, outDir, 'model.onnx', doc);
  }

  const json = (value: unknown) => JSON.stringify(value, null, 2) + '\n';
  await writeFile(join(outDir, 'vocab.json'), vocabJson(vocabulary));
  await writeFile(join(outDir, 'merges.txt'), mergesText(vocabulary));
  const specials = {
    bos_token: START_TOKEN,
    eos_token: END_TOKEN,
    pad_token: END_TOKEN,
    unk_token: END_TOKEN,
  };
  await writeFile(join(outDir, 'special_tokens_map.json'), json(specials));
  await writeFile(
    join(outDir, 'tokenizer_config.json'),
    json({ model_max_length: TINY_CLIP_MAX_LENGTH, do_lower_case: true, ...specials }),
  );
  await writeFile(
    join(outDir, 'preprocessor_config.json'),
    json({
      crop_size: { height: S, width: S },
      do_center_crop: true,
      do_normalize: true,
      do_rescale: true,
      do_resize: true,
      image_mean: CLIP_DEFAULT_PREPROCESS.mean,
      image_processor_type: 'CLIPImageProcessor',
      image_std: CLIP_DEFAULT_PREPROCESS.std,
      resample: 3,
      rescale_factor: 0.00392156862745098,
      size: { shortest_edge: CLIP_DEFAULT_PREPROCESS.shortestEdge },
    }),
  );
  await writeFile(
    join(outDir, 'config.json'),
    json({
      architectures: ['CLIPModel'],
      model_type: 'clip',
      projection_dim: D,
      tiny: { layout, kind, seed },
    }),
  );
}
