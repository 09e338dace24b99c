/**
 * Writes a small InstructPix2Pix-shaped ONNX model folder in the diffusers / Hugging Face Optimum
 * layout, for tests and benchmarks. Three kinds:
 *  - 'random': a real (if shallow) structure with seeded random weights scaled so outputs stay O(1);
 *  - 'analytic': graphs whose outputs follow simple formulas, so tests can predict them exactly;
 *  - 'demo': the analytic VAE with a UNet that tints the picture towards the instruction's colour
 *    words (see demo-model.ts), so screenshots show a meaningful edit.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseSchedulerConfig } from '../schedulers/config';
import { alphasCumprod, trainingSigmas } from '../schedulers/noise-schedule';
import { DEMO_COLOURS, DEMO_VOCABULARY_MERGES, demoTokenTable, demoUnet } from './demo-model';
import {
  GraphBuilder,
  attr,
  dataTypeOf,
  type Dim,
  type ElemType,
  type ExternalDataOptions,
} from './onnx-builder';
import { buildClipVocabulary, END_TOKEN, mergesText, START_TOKEN, vocabJson } from './tiny-tokenizer';

export type TinyModelFlavor = 'diffusers' | 'optimum-legacy' | 'optimum';
export type TinyModelPrecision = 'float32' | 'float16';
export type TinyModelKind = 'random' | 'analytic' | 'demo';

export interface TinyModelWidths {
  /** UNet block widths, one level each (one res block + one transformer block per level). */
  unet?: number[];
  textHidden?: number;
  /** VAE widths from the image side (encoder order); the decoder mirrors them. */
  vae?: number[];
  /** Text encoder heads (and the UNet's too unless unetAttentionHeads is given). */
  attentionHeads?: number;
  unetAttentionHeads?: number;
}

export interface TinyModelOptions {
  flavor?: TinyModelFlavor;
  precision?: TinyModelPrecision;
  kind?: TinyModelKind;
  unetInChannels?: number;
  widths?: TinyModelWidths;
  seed?: number;
  /**
   * The VAE encoder's and decoder's mid-block self-attention (one head), as Stable Diffusion's VAE
   * has. Only the random kind has it (the analytic VAE is a formula); default on there.
   */
  vaeAttention?: boolean;
}

export const TINY_WIDTHS = {
  unet: [16, 32],
  textHidden: 32,
  vae: [8, 16, 16],
  attentionHeads: 2,
  unetAttentionHeads: 2,
} as const satisfies Required<TinyModelWidths>;

/** Close to Stable Diffusion 1.5's widths (one res block per level), for benchmarks. */
export const REALISTIC_WIDTHS = {
  unet: [320, 640, 1280],
  textHidden: 768,
  vae: [128, 256, 512, 512],
  attentionHeads: 12,
  unetAttentionHeads: 8,
} as const satisfies Required<TinyModelWidths>;

export const TINY_MODEL_IR_VERSION = 10;
export const TINY_MODEL_OPSET = 21;
export const MAX_POSITIONS = 77;
/** The analytic VAE encoder's logvar channels hold this constant. */
export const ANALYTIC_LOGVAR = 5;
export const VAE_SCALING_FACTOR = 0.18215;

/** The analytic text encoder's token table: last_hidden_state[b, s, j] = this(input_ids[b, s], j). */
export function analyticTokenEmbedding(tokenId: number, dim: number): number {
  return ((tokenId * 37 + dim * 11) % 97) / 48 - 1;
}

export const SCHEDULER_CONFIG = {
  _class_name: 'EulerAncestralDiscreteScheduler',
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  num_train_timesteps: 1000,
  prediction_type: 'epsilon',
  steps_offset: 1,
  timestep_spacing: 'linspace',
  trained_betas: null,
};

interface Resolved {
  flavor: TinyModelFlavor;
  precision: TinyModelPrecision;
  kind: TinyModelKind;
  unetInChannels: number;
  unet: number[];
  textHidden: number;
  vae: number[];
  textHeads: number;
  unetHeads: number;
  seed: number;
  vaeAttention: boolean;
}

function resolve(options: TinyModelOptions): Resolved {
  const widths = options.widths ?? {};
  const unet = [...(widths.unet ?? TINY_WIDTHS.unet)];
  const vae = [...(widths.vae ?? TINY_WIDTHS.vae)];
  const textHidden = widths.textHidden ?? TINY_WIDTHS.textHidden;
  const textHeads = largestDivisorAtMost(textHidden, widths.attentionHeads ?? TINY_WIDTHS.attentionHeads);
  const unetGcd = unet.reduce((a, b) => gcd(a, b));
  const unetHeads = largestDivisorAtMost(
    unetGcd,
    widths.unetAttentionHeads ?? widths.attentionHeads ?? TINY_WIDTHS.unetAttentionHeads,
  );
  if (unet.length === 0 || vae.length === 0)
    throw new Error('makeTinyModel: unet and vae widths must not be empty');
  const kind = options.kind ?? 'random';
  const unetInChannels = options.unetInChannels ?? 8;
  if (kind === 'demo' && unetInChannels !== 8)
    throw new Error(`makeTinyModel: the demo UNet takes 8 input channels, not ${unetInChannels}`);
  return {
    flavor: options.flavor ?? 'optimum',
    precision: options.precision ?? 'float32',
    kind,
    unetInChannels,
    unet,
    textHidden,
    vae,
    textHeads,
    unetHeads,
    seed: options.seed ?? 1234,
    vaeAttention: kind === 'random' && (options.vaeAttention ?? true),
  };
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function largestDivisorAtMost(n: number, limit: number): number {
  for (let d = Math.max(1, Math.min(n, Math.floor(limit))); d > 1; d--) if (n % d === 0) return d;
  return 1;
}

/** mulberry32: a small seeded PRNG. */
class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Zero-mean uniform values with standard deviation `std`. */
  fill(count: number, std: number): Float32Array {
    const out = new Float32Array(count);
    const a = std * Math.sqrt(3) * 2;
    const b = std * Math.sqrt(3);
    let s = this.state;
    for (let i = 0; i < count; i++) {
      let t = (s = (s + 0x6d2b79f5) >>> 0);
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * a - b;
    }
    this.state = s;
    return out;
  }
}

/**
 * How attention is written, as the exporters write it (none is fused by onnxruntime on CPU):
 *  - 'heads-in-batch-mul': diffusers' AttnProcessor traced by torch 1.x (the diffusers convert
 *    script): heads moved into the batch (Reshape → Transpose → Reshape to [B·H, N, d]), then
 *    MatMul(q, Transpose(k)) → Mul(scale) → Softmax → MatMul(·, v) and back the same way;
 *  - 'heads-in-batch-div': the same layout with the scores divided by √d (older Optimum exports);
 *  - 'sdpa': torch 2's scaled_dot_product_attention export (Optimum ≥ 1.24): 4-D [B, H, N, d],
 *    q and kᵀ each multiplied by √scale before the MatMul.
 */
export type AttentionStyle = 'heads-in-batch-mul' | 'heads-in-batch-div' | 'sdpa';

export function attentionStyleOf(flavor: TinyModelFlavor): AttentionStyle {
  if (flavor === 'diffusers') return 'heads-in-batch-mul';
  return flavor === 'optimum-legacy' ? 'heads-in-batch-div' : 'sdpa';
}

/** Layer helpers over a graph whose internal float type is `ft`. */
class Net {
  private readonly rng: Rng;
  constructor(
    readonly g: GraphBuilder,
    readonly ft: ElemType,
    seed: number,
    readonly attentionStyle: AttentionStyle = 'sdpa',
  ) {
    this.rng = new Rng(seed);
  }

  random(prefix: string, dims: number[], std: number): string {
    const count = dims.reduce((a, b) => a * b, 1);
    return this.g.initializer(prefix, this.ft, dims, this.rng.fill(count, std));
  }

  filled(prefix: string, dims: number[], value: number): string {
    const count = dims.reduce((a, b) => a * b, 1);
    return this.g.initializer(prefix, this.ft, dims, new Float32Array(count).fill(value));
  }

  scalar(value: number): string {
    return this.g.constFloat([value], [], this.ft);
  }

  cast(x: string, from: ElemType, to: ElemType): string {
    return from === to ? x : this.g.op('Cast', [x], { to: attr.i(dataTypeOf(to)) });
  }

  conv(x: string, cin: number, cout: number, k: number, stride = 1, gain = 1): string {
    const w = this.random('conv.weight', [cout, cin, k, k], gain / Math.sqrt(cin * k * k));
    const b = this.random('conv.bias', [cout], 0.02);
    const p = Math.floor(k / 2);
    return this.g.op('Conv', [x, w, b], {
      kernel_shape: attr.ints([k, k]),
      pads: attr.ints([p, p, p, p]),
      strides: attr.ints([stride, stride]),
    });
  }

  /** Group norm of a [B, C, …] tensor of `rank` dimensions. */
  groupNorm(x: string, channels: number, rank = 4): string {
    let groups = 1;
    for (const candidate of [32, 16, 8, 4, 2]) {
      if (channels % candidate === 0 && channels / candidate >= 2) {
        groups = candidate;
        break;
      }
    }
    // As torch exports group_norm: InstanceNormalization over [B, groups, rest] between two
    // reshapes, then the per-channel affine as Mul and Add.
    const g = this.g;
    const grouped = g.op('Reshape', [x, g.constInt64([0, groups, -1])]);
    const normalized = g.op(
      'InstanceNormalization',
      [grouped, this.filled('norm.ones', [groups], 1), this.filled('norm.zeros', [groups], 0)],
      { epsilon: attr.f(1e-5) },
    );
    const restored = g.op('Reshape', [normalized, g.op('Shape', [x])]);
    const perChannel = [channels, ...Array<number>(rank - 2).fill(1)];
    const scale = this.filled('norm.weight', perChannel, 1);
    const bias = this.filled('norm.bias', perChannel, 0);
    return g.op('Add', [g.op('Mul', [restored, scale]), bias]);
  }

  layerNorm(x: string, dim: number): string {
    const scale = this.filled('ln.weight', [dim], 1);
    const bias = this.filled('ln.bias', [dim], 0);
    return this.g.op('LayerNormalization', [x, scale, bias], { axis: attr.i(-1), epsilon: attr.f(1e-5) });
  }

  silu(x: string): string {
    return this.g.op('Mul', [x, this.g.op('Sigmoid', [x])]);
  }

  linear(x: string, din: number, dout: number, gain = 1, bias = true): string {
    const w = this.random('linear.weight', [din, dout], gain / Math.sqrt(din));
    const y = this.g.op('MatMul', [x, w]);
    return bias ? this.g.op('Add', [y, this.random('linear.bias', [dout], 0.02)]) : y;
  }

  /**
   * Multi-head attention: q [B, N, dq], kv [B, M, dkv] → [B, N, dim], in `attentionStyle`.
   * `projectionBias`: to_q, to_k and to_v have biases (the VAE's do, the UNet's do not).
   */
  attention(
    q: string,
    kv: string,
    dq: number,
    dkv: number,
    dim: number,
    heads: number,
    projectionBias = false,
  ): string {
    const g = this.g;
    const dh = dim / heads;
    const query = this.linear(q, dq, dim, 1, projectionBias);
    const key = this.linear(kv, dkv, dim, 1, projectionBias);
    const value = this.linear(kv, dkv, dim, 1, projectionBias);
    const split = g.constInt64([0, 0, heads, dh]);
    const toHeads = (x: string): string =>
      g.op('Transpose', [g.op('Reshape', [x, split])], { perm: attr.ints([0, 2, 1, 3]) });
    let context: string;
    if (this.attentionStyle === 'sdpa') {
      const rootScale = this.scalar(Math.sqrt(1 / Math.sqrt(dh)));
      const kT = g.op('Transpose', [g.op('Reshape', [key, split])], { perm: attr.ints([0, 2, 3, 1]) });
      const scores = g.op('MatMul', [g.op('Mul', [toHeads(query), rootScale]), g.op('Mul', [kT, rootScale])]);
      const probs = g.op('Softmax', [scores], { axis: attr.i(-1) });
      context = g.op('MatMul', [probs, toHeads(value)]);
    } else {
      // [B, N, dim] → [B·H, N, dh], the sequence length read from the input's shape as traced.
      const intoBatch = (x: string): string => {
        const tokens = g.op('Slice', [g.op('Shape', [x]), g.constInt64([1]), g.constInt64([2])]);
        const shape = g.op('Concat', [g.constInt64([-1]), tokens, g.constInt64([dh])], { axis: attr.i(0) });
        return g.op('Reshape', [toHeads(x), shape]);
      };
      const q3 = intoBatch(query);
      const kT = g.op('Transpose', [intoBatch(key)], { perm: attr.ints([0, 2, 1]) });
      const raw = g.op('MatMul', [q3, kT]);
      const scores =
        this.attentionStyle === 'heads-in-batch-mul'
          ? g.op('Mul', [raw, this.scalar(1 / Math.sqrt(dh))])
          : g.op('Div', [raw, this.scalar(Math.sqrt(dh))]);
      const probs = g.op('Softmax', [scores], { axis: attr.i(-1) });
      const batched = g.op('MatMul', [probs, intoBatch(value)]);
      // [B·H, N, dh] → [B, H, N, dh]: the batch and length from the query's shape.
      const queryShape = g.op('Shape', [query]);
      const unbatched = g.op(
        'Concat',
        [
          g.op('Slice', [queryShape, g.constInt64([0]), g.constInt64([1])]),
          g.constInt64([heads]),
          g.op('Slice', [queryShape, g.constInt64([1]), g.constInt64([2])]),
          g.constInt64([dh]),
        ],
        { axis: attr.i(0) },
      );
      context = g.op('Reshape', [batched, unbatched]);
    }
    const merged = g.op('Reshape', [
      g.op('Transpose', [context], { perm: attr.ints([0, 2, 1, 3]) }),
      g.constInt64([0, 0, dim]),
    ]);
    return this.linear(merged, dim, dim);
  }

  /** Scales a residual sum by 1/√2 so stacked blocks keep unit variance. */
  residual(a: string, b: string): string {
    return this.g.op('Mul', [this.g.op('Add', [a, b]), this.scalar(Math.SQRT1_2)]);
  }
}

function ioType(precision: TinyModelPrecision): ElemType {
  return precision === 'float16' ? 'float16' : 'float32';
}

/** Analytic and demo graphs compute in float32 (exact formulas); random ones in the I/O precision. */
function computeType(o: Resolved): ElemType {
  return o.kind === 'random' ? ioType(o.precision) : 'float32';
}

/** The VAE of the analytic and demo kinds: 8×8 pixel means in, the same out. */
function analyticVae(o: Resolved): boolean {
  return o.kind !== 'random';
}

function seedFor(o: Resolved, component: number): number {
  return (Math.imul(o.seed ^ 0x9e3779b9, 0x85ebca6b) + component * 0x27d4eb2f) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// UNet

function buildUnet(o: Resolved): GraphBuilder {
  const g = new GraphBuilder('unet');
  const io = ioType(o.precision);
  const net = new Net(g, computeType(o), seedFor(o, 1), attentionStyleOf(o.flavor));
  const C = o.unetInChannels;
  const D = o.textHidden;

  g.input('sample', io, ['batch_size', C, 'height', 'width']);
  const timestepType: ElemType = o.flavor === 'optimum-legacy' ? 'int64' : io;
  const timestepDims: Dim[] =
    o.flavor === 'diffusers' ? ['batch_size'] : o.flavor === 'optimum-legacy' ? ['steps'] : [];
  g.input('timestep', timestepType, timestepDims);
  g.input('encoder_hidden_states', io, ['batch_size', 'sequence_length', D]);

  const sample = net.cast('sample', io, net.ft);
  const hidden = net.cast('encoder_hidden_states', io, net.ft);
  // Timestep as float32 [T] (a scalar becomes [1]).
  const t = g.op('Reshape', [
    g.op('Cast', ['timestep'], { to: attr.i(dataTypeOf('float32')) }),
    g.constInt64([-1]),
  ]);

  const out =
    o.kind === 'analytic'
      ? analyticUnet(net, sample, hidden, t, C)
      : o.kind === 'demo'
        ? demoUnet(
            g,
            sample,
            hidden,
            t,
            trainingSigmas(alphasCumprod(parseSchedulerConfig(SCHEDULER_CONFIG))),
          )
        : randomUnet(net, o, sample, hidden, t);
  g.output('out_sample', net.cast(out, net.ft, io), io, ['batch_size', 4, 'height', 'width']);
  return g;
}

/** out = 0.5*sample[:,0:4] + 0.25*sample[:,4:8] + mean(hidden[b]) + timestep/1000. */
function analyticUnet(net: Net, sample: string, hidden: string, t: string, C: number): string {
  const g = net.g;
  const w = new Float32Array(4 * C);
  for (let c = 0; c < 4; c++) {
    if (c < C) w[c * C + c] = 0.5;
    if (c + 4 < C) w[c * C + c + 4] = 0.25;
  }
  const mix = g.op('Conv', [sample, g.initializer('mix.weight', 'float32', [4, C, 1, 1], w)], {
    kernel_shape: attr.ints([1, 1]),
  });
  const mean = g.op('Unsqueeze', [
    g.op('ReduceMean', [hidden, g.constInt64([1, 2])], { keepdims: attr.i(1) }),
    g.constInt64([3]),
  ]);
  const time = g.op('Reshape', [g.op('Div', [t, g.constFloat([1000], [])]), g.constInt64([-1, 1, 1, 1])]);
  return g.op('Add', [g.op('Add', [mix, mean]), time]);
}

function randomUnet(net: Net, o: Resolved, sample: string, hidden: string, t: string): string {
  const g = net.g;
  const widths = o.unet;
  const w0 = widths[0]!;
  const D = o.textHidden;
  const heads = o.unetHeads;
  const half = Math.max(4, Math.floor(w0 / 2));
  const tdim = 4 * w0;

  // Sinusoidal time embedding in float32, one row per batch row (a length-1 timestep broadcasts).
  const batch = g.op('Slice', [g.op('Shape', [sample]), g.constInt64([0]), g.constInt64([1])]);
  const tB = g.op('Expand', [t, batch]);
  const freqs = new Float32Array(half);
  for (let i = 0; i < half; i++) freqs[i] = Math.exp((-Math.log(10000) * i) / half);
  const arg = g.op('Mul', [g.op('Unsqueeze', [tB, g.constInt64([1])]), g.constFloat(freqs, [1, half])]);
  const sinusoid = net.cast(
    g.op('Concat', [g.op('Cos', [arg]), g.op('Sin', [arg])], { axis: attr.i(1) }),
    'float32',
    net.ft,
  );
  const temb = net.linear(net.silu(net.linear(sinusoid, 2 * half, tdim)), tdim, tdim);
  const tembAct = net.silu(temb);

  const resBlock = (x: string, cin: number, cout: number): string => {
    let h = net.conv(net.silu(net.groupNorm(x, cin)), cin, cout, 3);
    const tproj = g.op('Unsqueeze', [net.linear(tembAct, tdim, cout), g.constInt64([2, 3])]);
    h = g.op('Add', [h, tproj]);
    h = net.conv(net.silu(net.groupNorm(h, cout)), cout, cout, 3);
    const skip = cin === cout ? x : net.conv(x, cin, cout, 1);
    return net.residual(skip, h);
  };

  const transformer = (x: string, c: number): string => {
    const shape = g.op('Shape', [x]);
    const flat = g.op('Reshape', [net.groupNorm(x, c), g.constInt64([0, c, -1])]);
    let h = net.linear(g.op('Transpose', [flat], { perm: attr.ints([0, 2, 1]) }), c, c);
    const selfIn = net.layerNorm(h, c);
    h = net.residual(h, net.attention(selfIn, selfIn, c, c, c, heads));
    h = net.residual(h, net.attention(net.layerNorm(h, c), hidden, c, D, c, heads));
    const ff = net.linear(net.silu(net.linear(net.layerNorm(h, c), c, 4 * c)), 4 * c, c);
    h = net.residual(h, ff);
    h = net.linear(h, c, c);
    const back = g.op('Reshape', [g.op('Transpose', [h], { perm: attr.ints([0, 2, 1]) }), shape]);
    return net.residual(x, back);
  };

  const upsampleTo = (x: string, like: string): string => {
    const sizes = g.op(
      'Concat',
      [
        g.op('Slice', [g.op('Shape', [x]), g.constInt64([0]), g.constInt64([2])]),
        g.op('Slice', [g.op('Shape', [like]), g.constInt64([2]), g.constInt64([4])]),
      ],
      { axis: attr.i(0) },
    );
    return g.op('Resize', [x, '', '', sizes], {
      mode: attr.s('nearest'),
      coordinate_transformation_mode: attr.s('asymmetric'),
      nearest_mode: attr.s('floor'),
    });
  };

  // Down path; every entry of `skips` is [value, channels].
  let h = net.conv(sample, o.unetInChannels, w0, 3);
  const skips: [string, number][] = [[h, w0]];
  let channels = w0;
  widths.forEach((width, level) => {
    h = transformer(resBlock(h, channels, width), width);
    channels = width;
    skips.push([h, channels]);
    if (level < widths.length - 1) {
      h = net.conv(h, channels, channels, 3, 2);
      skips.push([h, channels]);
    }
  });

  // Middle.
  h = resBlock(transformer(resBlock(h, channels, channels), channels), channels, channels);

  // Up path: two skips per level, then upsample to the next skip's size.
  for (let level = widths.length - 1; level >= 0; level--) {
    const width = widths[level]!;
    for (let j = 0; j < 2; j++) {
      const [skip, skipChannels] = skips.pop()!;
      h = g.op('Concat', [h, skip], { axis: attr.i(1) });
      h = transformer(resBlock(h, channels + skipChannels, width), width);
      channels = width;
    }
    if (level > 0) {
      const next = skips[skips.length - 1]!;
      h = net.conv(upsampleTo(h, next[0]), channels, channels, 3);
    }
  }
  return net.conv(net.silu(net.groupNorm(h, channels)), channels, 4, 3);
}

// ---------------------------------------------------------------------------------------------
// Text encoder

function buildTextEncoder(o: Resolved, vocab: ReadonlyMap<string, number>): GraphBuilder {
  const g = new GraphBuilder('text_encoder');
  const io = ioType(o.precision);
  const net = new Net(g, computeType(o), seedFor(o, 2), attentionStyleOf(o.flavor));
  const D = o.textHidden;
  const vocabSize = vocab.size;
  g.input('input_ids', o.flavor === 'optimum' ? 'int64' : 'int32', ['batch_size', 'sequence_length']);

  let last: string;
  if (o.kind !== 'random') {
    let table: Float32Array;
    if (o.kind === 'demo') {
      table = demoTokenTable(vocab, D);
    } else {
      table = new Float32Array(vocabSize * D);
      for (let id = 0; id < vocabSize; id++)
        for (let j = 0; j < D; j++) table[id * D + j] = analyticTokenEmbedding(id, j);
    }
    last = g.op('Gather', [g.initializer('token_embedding', 'float32', [vocabSize, D], table), 'input_ids'], {
      axis: attr.i(0),
    });
  } else {
    const tokens = g.op('Gather', [net.random('token_embedding', [vocabSize, D], 1), 'input_ids'], {
      axis: attr.i(0),
    });
    const seqLen = g.op('Slice', [g.op('Shape', ['input_ids']), g.constInt64([1]), g.constInt64([2])]);
    const positions = g.op('Slice', [
      net.random('position_embedding', [MAX_POSITIONS, D], 0.5),
      g.constInt64([0]),
      seqLen,
      g.constInt64([0]),
    ]);
    let x = g.op('Add', [tokens, positions]);
    const normed = net.layerNorm(x, D);
    x = net.residual(x, net.attention(normed, normed, D, D, D, o.textHeads));
    x = net.residual(x, net.linear(net.silu(net.linear(net.layerNorm(x, D), D, 4 * D)), 4 * D, D));
    last = net.layerNorm(x, D);
  }
  // pooler_output: the hidden state at the first end-of-text token (the largest id), as CLIP does.
  const eos = g.op('ArgMax', [g.op('Cast', ['input_ids'], { to: attr.i(dataTypeOf('float32')) })], {
    axis: attr.i(1),
    keepdims: attr.i(1),
  });
  const pooled = g.op('GatherND', [last, eos], { batch_dims: attr.i(1) });
  g.output('last_hidden_state', net.cast(last, net.ft, io), io, ['batch_size', 'sequence_length', D]);
  g.output('pooler_output', net.cast(pooled, net.ft, io), io, ['batch_size', D]);
  return g;
}

// ---------------------------------------------------------------------------------------------
// VAE

/**
 * The VAE mid-block's self-attention as diffusers' Attention (one head, to_q/to_k/to_v with bias,
 * residual, rescale_output_factor 1) is exported: [B, C, H, W] → [B, C, H·W] (the size read from
 * the input's shape) → [B, H·W, C], attention in the flavor's writing, to_out, back to [B, C, H, W],
 * plus the input, divided by the factor. AttnProcessor2_0 (torch 2, the 'sdpa' writing) normalises
 * after flattening (torch's peephole pass drops its transpose pair); the older processors before.
 * Weights come from their own generator so the rest of the VAE keeps its weights.
 */
function vaeMidAttention(net: Net, x: string, channels: number): string {
  const g = net.g;
  const shape = g.op('Shape', [x]);
  const flatShape = g.op(
    'Concat',
    [g.op('Slice', [shape, g.constInt64([0]), g.constInt64([2])]), g.constInt64([-1])],
    { axis: attr.i(0) },
  );
  const toTokens = (flat: string): string => g.op('Transpose', [flat], { perm: attr.ints([0, 2, 1]) });
  const tokens =
    net.attentionStyle === 'sdpa'
      ? toTokens(net.groupNorm(g.op('Reshape', [x, flatShape]), channels, 3))
      : toTokens(g.op('Reshape', [net.groupNorm(x, channels), flatShape]));
  const attended = net.attention(tokens, tokens, channels, channels, channels, 1, true);
  const back = g.op('Reshape', [g.op('Transpose', [attended], { perm: attr.ints([0, 2, 1]) }), shape]);
  return g.op('Div', [g.op('Add', [back, x]), net.scalar(1)]);
}

function attentionNet(o: Resolved, g: GraphBuilder, component: number): Net {
  return new Net(g, computeType(o), seedFor(o, component), attentionStyleOf(o.flavor));
}

function buildVaeEncoder(o: Resolved): GraphBuilder {
  const g = new GraphBuilder('vae_encoder');
  const io = ioType(o.precision);
  const net = new Net(g, computeType(o), seedFor(o, 3), attentionStyleOf(o.flavor));
  const diffusers = o.flavor === 'diffusers';
  const outChannels = diffusers ? 4 : 8;
  g.input('sample', io, ['batch_size', 3, 'height', 'width']);
  const x = net.cast('sample', io, net.ft);

  let out: string;
  if (analyticVae(o)) {
    // One 8×8 stride-8 conv: average pool; mean = [r, g, b, (r+g+b)/3], logvar = constant.
    const w = new Float32Array(outChannels * 3 * 64);
    const mix = [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
      [1 / 3, 1 / 3, 1 / 3],
    ];
    mix.forEach((row, oc) =>
      row.forEach((value, ic) => {
        for (let k = 0; k < 64; k++) w[(oc * 3 + ic) * 64 + k] = value / 64;
      }),
    );
    const bias = new Float32Array(outChannels);
    for (let oc = 4; oc < outChannels; oc++) bias[oc] = ANALYTIC_LOGVAR;
    out = g.op(
      'Conv',
      [
        x,
        g.initializer('pool.weight', 'float32', [outChannels, 3, 8, 8], w),
        g.initializer('pool.bias', 'float32', [outChannels], bias),
      ],
      {
        kernel_shape: attr.ints([8, 8]),
        strides: attr.ints([8, 8]),
      },
    );
  } else {
    const v = o.vae;
    const width = (i: number): number => v[Math.min(i, v.length - 1)]!;
    let h = net.conv(x, 3, width(0), 3);
    for (let i = 0; i < 3; i++) {
      h = net.conv(net.silu(h), width(i), width(i + 1), 3, 2);
      h = net.residual(h, net.conv(net.silu(net.groupNorm(h, width(i + 1))), width(i + 1), width(i + 1), 3));
    }
    if (o.vaeAttention) h = vaeMidAttention(attentionNet(o, g, 5), h, width(3));
    out = net.conv(net.silu(net.groupNorm(h, width(3))), width(3), outChannels, 3);
  }
  g.output(diffusers ? 'latent_sample' : 'latent_parameters', net.cast(out, net.ft, io), io, [
    'batch_size',
    outChannels,
    'height_latent',
    'width_latent',
  ]);
  return g;
}

function buildVaeDecoder(o: Resolved): GraphBuilder {
  const g = new GraphBuilder('vae_decoder');
  const io = ioType(o.precision);
  const net = new Net(g, computeType(o), seedFor(o, 4), attentionStyleOf(o.flavor));
  g.input('latent_sample', io, ['batch_size', 4, 'h', 'w']);
  const z = net.cast('latent_sample', io, net.ft);
  const resize = (x: string, factor: number): string =>
    g.op('Resize', [x, '', g.constFloat([1, 1, factor, factor])], {
      mode: attr.s('nearest'),
      coordinate_transformation_mode: attr.s('asymmetric'),
      nearest_mode: attr.s('floor'),
    });

  let out: string;
  if (analyticVae(o)) {
    const w = new Float32Array(3 * 4);
    for (let c = 0; c < 3; c++) w[c * 4 + c] = VAE_SCALING_FACTOR;
    const mixed = g.op('Conv', [z, g.initializer('scale.weight', 'float32', [3, 4, 1, 1], w)], {
      kernel_shape: attr.ints([1, 1]),
    });
    // The demo upsamples smoothly (centre-aligned) so pictures look blurred rather than blocky.
    out =
      o.kind === 'demo'
        ? g.op('Resize', [mixed, '', g.constFloat([1, 1, 8, 8])], {
            mode: attr.s('linear'),
            coordinate_transformation_mode: attr.s('half_pixel'),
          })
        : resize(mixed, 8);
  } else {
    const v = [...o.vae].reverse();
    const width = (i: number): number => v[Math.min(i, v.length - 1)]!;
    let h = net.conv(z, 4, width(0), 3);
    if (o.vaeAttention) h = vaeMidAttention(attentionNet(o, g, 6), h, width(0));
    for (let i = 0; i < 3; i++) {
      h = net.conv(resize(net.silu(h), 2), width(i), width(i + 1), 3);
      h = net.residual(h, net.conv(net.silu(net.groupNorm(h, width(i + 1))), width(i + 1), width(i + 1), 3));
    }
    out = net.conv(net.silu(net.groupNorm(h, width(3))), width(3), 3, 3);
  }
  g.output('sample', net.cast(out, net.ft, io), io, ['batch_size', 3, 'H', 'W']);
  return g;
}

// ---------------------------------------------------------------------------------------------
// Folder

function externalFor(
  flavor: TinyModelFlavor,
  component: 'unet' | 'text_encoder',
): ExternalDataOptions | undefined {
  if (flavor === 'diffusers' && component === 'unet')
    return { location: 'weights.pb', thresholdBytes: 1024, ensureFile: true };
  if (flavor === 'optimum') return { location: 'model.onnx_data', thresholdBytes: 1024, ensureFile: true };
  return undefined;
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFile(path, JSON.stringify(value, null, 2) + '\n');
}

function modelIndex(o: Resolved): Record<string, unknown> {
  if (o.flavor === 'diffusers') {
    const onnxModel = ['diffusers', 'OnnxRuntimeModel'];
    return {
      _class_name: 'StableDiffusionInstructPix2PixPipeline',
      _diffusers_version: '0.30.0',
      feature_extractor: [null, null],
      requires_safety_checker: false,
      safety_checker: [null, null],
      scheduler: ['diffusers', 'EulerAncestralDiscreteScheduler'],
      text_encoder: onnxModel,
      tokenizer: ['transformers', 'CLIPTokenizer'],
      unet: onnxModel,
      vae_decoder: onnxModel,
      vae_encoder: onnxModel,
    };
  }
  return {
    _class_name: 'ORTStableDiffusionInstructPix2PixPipeline',
    _diffusers_version: '0.30.0',
    feature_extractor: [null, null],
    requires_safety_checker: false,
    safety_checker: [null, null],
    scheduler: ['diffusers', 'EulerAncestralDiscreteScheduler'],
    text_encoder: ['optimum', 'ORTModelTextEncoder'],
    tokenizer: ['transformers', 'CLIPTokenizer'],
    unet: ['optimum', 'ORTModelUnet'],
    vae_decoder: ['optimum', 'ORTModelVaeDecoder'],
    vae_encoder: ['optimum', 'ORTModelVaeEncoder'],
  };
}

/** Writes the model folder (creating `outDir`); weights are deterministic from `options.seed`. */
export async function makeTinyModel(outDir: string, options: TinyModelOptions = {}): Promise<void> {
  const o = resolve(options);
  for (const sub of ['scheduler', 'tokenizer', 'text_encoder', 'unet', 'vae_encoder', 'vae_decoder']) {
    await mkdir(join(outDir, sub), { recursive: true });
  }
  const vocabulary =
    o.kind === 'demo'
      ? buildClipVocabulary(DEMO_VOCABULARY_MERGES, Object.keys(DEMO_COLOURS))
      : buildClipVocabulary();
  const vocabSize = vocabulary.vocab.size;

  await writeJson(join(outDir, 'model_index.json'), modelIndex(o));
  await writeJson(join(outDir, 'scheduler', 'scheduler_config.json'), SCHEDULER_CONFIG);
  await writeFile(join(outDir, 'tokenizer', 'vocab.json'), vocabJson(vocabulary));
  await writeFile(join(outDir, 'tokenizer', 'merges.txt'), mergesText(vocabulary));
  await writeJson(join(outDir, 'tokenizer', 'special_tokens_map.json'), {
    bos_token: START_TOKEN,
    eos_token: END_TOKEN,
    pad_token: END_TOKEN,
    unk_token: END_TOKEN,
  });
  await writeJson(join(outDir, 'tokenizer', 'tokenizer_config.json'), {
    model_max_length: MAX_POSITIONS,
    do_lower_case: true,
    bos_token: START_TOKEN,
    eos_token: END_TOKEN,
    pad_token: END_TOKEN,
    unk_token: END_TOKEN,
  });

  await writeJson(join(outDir, 'unet', 'config.json'), {
    _class_name: 'UNet2DConditionModel',
    in_channels: o.unetInChannels,
    out_channels: 4,
    cross_attention_dim: o.textHidden,
    block_out_channels: o.unet,
    attention_head_dim: o.unetHeads,
    layers_per_block: 1,
    sample_size: 64,
  });
  await writeJson(join(outDir, 'text_encoder', 'config.json'), {
    architectures: ['CLIPTextModel'],
    model_type: 'clip_text_model',
    hidden_size: o.textHidden,
    intermediate_size: 4 * o.textHidden,
    num_attention_heads: o.textHeads,
    num_hidden_layers: 1,
    max_position_embeddings: MAX_POSITIONS,
    vocab_size: vocabSize,
    bos_token_id: vocabSize - 2,
    eos_token_id: vocabSize - 1,
    pad_token_id: 1,
  });
  const vaeConfig = {
    _class_name: 'AutoencoderKL',
    in_channels: 3,
    out_channels: 3,
    latent_channels: 4,
    scaling_factor: VAE_SCALING_FACTOR,
    block_out_channels: o.vae,
  };
  await writeJson(join(outDir, 'vae_encoder', 'config.json'), vaeConfig);
  await writeJson(join(outDir, 'vae_decoder', 'config.json'), vaeConfig);

  const save = async (
    graph: GraphBuilder,
    component: string,
    externalData?: ExternalDataOptions,
  ): Promise<void> => {
    await graph.save(join(outDir, component), 'model.onnx', {
      irVersion: TINY_MODEL_IR_VERSION,
      opset: TINY_MODEL_OPSET,
      docString: `tiny InstructPix2Pix ${component} (${o.flavor}, ${o.precision}, ${o.kind}, seed ${o.seed})`,
      ...(externalData ? { externalData } : {}),
    });
  };
  await save(buildTextEncoder(o, vocabulary.vocab), 'text_encoder', externalFor(o.flavor, 'text_encoder'));
  await save(buildUnet(o), 'unet', externalFor(o.flavor, 'unet'));
  await save(buildVaeEncoder(o), 'vae_encoder');
  await save(buildVaeDecoder(o), 'vae_decoder');
}
