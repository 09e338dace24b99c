/**
 * The 'demo' tiny model: a UNet that makes a visible, predictable edit through the real pipeline, so
 * screenshots can be judged by eye. It tints the picture towards the colour words of the instruction
 * ("make it red" → a red cast) and keeps everything else.
 *
 * It is a true ε-predictor for the model's own noise schedule. The pipeline hands the UNet
 * s = √ᾱ·x₀ + √(1−ᾱ)·ε (every scheduler's input scaling comes to this) and the timestep t; the
 * graph looks up σ(t) in the training sigmas, picks a target x₀ and answers ε = (s − √ᾱ·x₀)/√(1−ᾱ).
 * The target is the image latents (channels 4..7, which the analytic VAE makes plain pixel means)
 * pulled towards the instruction's colour: x₀ = image + k·(colour − image). The text encoder carries
 * the colour: a colour word's token row is [r, g, b, (r+g+b)/3, 1], every other row is zero.
 *
 * Without image latents (guidance's unconditional row) the model cannot see the picture; it
 * predicts x̂₀ = a 5×5 binomial blur of x_t (a smoothness prior). Guidance then settles where
 * x = image + (s_T/s_I)·k·(colour − image) in the picture's broad areas (its finest latent detail
 * comes out up to s_I× stronger); x̂₀ = x_t itself would hand the sampler's last noise back into the
 * result, scaled by s_I − 1. At the defaults (s_T 7.5, s_I 1.5) the colour weight is 5k.
 */
import { GraphBuilder, attr, dataTypeOf } from './onnx-builder';

/** Colour words and their sRGB values. Every word becomes one token of the demo vocabulary. */
export const DEMO_COLOURS: Readonly<Record<string, readonly [number, number, number]>> = {
  red: [235, 35, 35],
  orange: [250, 140, 20],
  yellow: [250, 225, 30],
  green: [40, 190, 60],
  cyan: [30, 210, 230],
  blue: [30, 80, 240],
  purple: [135, 50, 205],
  magenta: [225, 40, 205],
  pink: [255, 140, 190],
  brown: [135, 80, 40],
  black: [0, 0, 0],
  white: [255, 255, 255],
  gray: [128, 128, 128],
  grey: [128, 128, 128],
};

/** k: the conditional prediction's step from the image towards the colour. */
export const DEMO_TINT_STRENGTH = 0.07;
/** Merges of the demo vocabulary: enough for the usual words plus every colour word. */
export const DEMO_VOCABULARY_MERGES = 320;
/** Token-table columns the UNet reads: the colour (4 latent channels) and a colour-word count. */
export const DEMO_TEXT_COLUMNS = 5;

/** A colour in latent units: the analytic VAE's [r, g, b, (r+g+b)/3] with pixels mapped to [-1, 1]. */
export function demoColourLatent(rgb: readonly [number, number, number]): [number, number, number, number] {
  const [r, g, b] = rgb.map((v) => v / 127.5 - 1) as [number, number, number];
  return [r, g, b, (r + g + b) / 3];
}

/**
 * The text encoder's token table [vocabSize, dim]: colour words get [colour latent, 1] in the first
 * five columns. Throws when a colour word is not a single token of `vocab`.
 */
export function demoTokenTable(vocab: ReadonlyMap<string, number>, dim: number): Float32Array {
  if (dim < DEMO_TEXT_COLUMNS) {
    throw new Error(`makeTinyModel: the demo text encoder needs at least ${DEMO_TEXT_COLUMNS} hidden units`);
  }
  const table = new Float32Array(vocab.size * dim);
  for (const [word, rgb] of Object.entries(DEMO_COLOURS)) {
    const id = vocab.get(`${word}</w>`);
    if (id === undefined)
      throw new Error(`makeTinyModel: the demo vocabulary lacks the colour word '${word}'`);
    table.set([...demoColourLatent(rgb), 1], id * dim);
  }
  return table;
}

/**
 * The demo UNet body over float32 values: `sample` [B, 8, h, w], `hidden` [B, S, D], `t` [1 or B]
 * (timesteps); `trainingSigmas` σ for t = 0..T−1. Returns ε [B, 4, h, w].
 */
export function demoUnet(
  g: GraphBuilder,
  sample: string,
  hidden: string,
  t: string,
  trainingSigmas: Float64Array,
): string {
  const f = (value: number): string => g.constFloat([value], []);
  const slice = (x: string, start: number, end: number, axis: number): string =>
    g.op('Slice', [x, g.constInt64([start]), g.constInt64([end]), g.constInt64([axis])]);

  // σ(t): numpy.interp over the training sigmas, as the Euler schedulers compute it.
  const last = trainingSigmas.length - 1;
  const table = g.initializer(
    'training_sigmas',
    'float32',
    [trainingSigmas.length],
    Float32Array.from(trainingSigmas),
  );
  const clamped = g.op('Clip', [t, f(0), f(last)]);
  const low = g.op('Floor', [clamped]);
  const high = g.op('Min', [g.op('Add', [low, f(1)]), f(last)]);
  const fraction = g.op('Sub', [clamped, low]);
  const lookup = (index: string): string =>
    g.op('Gather', [table, g.op('Cast', [index], { to: attr.i(dataTypeOf('int64')) })], { axis: attr.i(0) });
  const sigmaLow = lookup(low);
  const sigma = g.op('Add', [sigmaLow, g.op('Mul', [g.op('Sub', [lookup(high), sigmaLow]), fraction])]);
  const sigma4 = g.op('Reshape', [sigma, g.constInt64([-1, 1, 1, 1])]);
  // √ᾱ = 1/√(σ²+1) and √(1−ᾱ) = σ·√ᾱ.
  const signalScale = g.op('Reciprocal', [
    g.op('Sqrt', [g.op('Add', [g.op('Mul', [sigma4, sigma4]), f(1)])]),
  ]);
  const noiseScale = g.op('Mul', [sigma4, signalScale]);

  const noisy = slice(sample, 0, 4, 1);
  const image = slice(sample, 4, 8, 1);

  // The instruction's colour: the mean over its colour words; weight k when it has any.
  const sums = g.op('ReduceSum', [slice(hidden, 0, DEMO_TEXT_COLUMNS, 2), g.constInt64([1])], {
    keepdims: attr.i(0),
  });
  const count = slice(sums, 4, 5, 1);
  const colour = g.op('Div', [slice(sums, 0, 4, 1), g.op('Max', [count, f(1)])]);
  const weight = g.op('Mul', [g.op('Min', [count, f(1)]), f(DEMO_TINT_STRENGTH)]);
  const toMap = (x: string): string => g.op('Unsqueeze', [x, g.constInt64([2, 3])]);
  const target = g.op('Add', [image, g.op('Mul', [toMap(weight), g.op('Sub', [toMap(colour), image])])]);

  const hasImage = g.op(
    'Cast',
    [
      g.op('Greater', [
        g.op('ReduceMax', [g.op('Abs', [image]), g.constInt64([1, 2, 3])], { keepdims: attr.i(1) }),
        f(0),
      ]),
    ],
    { to: attr.i(dataTypeOf('float32')) },
  );
  // √ᾱ·x̂₀: the target where the row has an image; otherwise a smoothed x_t (√ᾱ·blur(x_t) = blur(s)).
  const withImage = g.op('Mul', [signalScale, target]);
  const withoutImage = binomialBlur(g, noisy);
  const signal = g.op('Add', [withoutImage, g.op('Mul', [hasImage, g.op('Sub', [withImage, withoutImage])])]);
  return g.op('Div', [g.op('Sub', [noisy, signal]), noiseScale]);
}

/** A 5×5 binomial blur of each of the 4 latent channels, edges repeated. */
function binomialBlur(g: GraphBuilder, x: string): string {
  const taps = [1, 4, 6, 4, 1];
  const kernel = new Float32Array(4 * 25);
  for (let c = 0; c < 4; c++)
    for (let i = 0; i < 5; i++)
      for (let j = 0; j < 5; j++) kernel[c * 25 + i * 5 + j] = (taps[i]! * taps[j]!) / 256;
  const padded = g.op('Pad', [x, g.constInt64([0, 0, 2, 2, 0, 0, 2, 2])], { mode: attr.s('edge') });
  return g.op('Conv', [padded, g.initializer('blur.weight', 'float32', [4, 1, 5, 5], kernel)], {
    kernel_shape: attr.ints([5, 5]),
    group: attr.i(4),
  });
}
