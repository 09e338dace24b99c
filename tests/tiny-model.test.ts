import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromFloat16, toFloat16Bits } from '../src/main/engine/float16';
import {
  ANALYTIC_LOGVAR,
  analyticTokenEmbedding,
  makeTinyModel,
  SCHEDULER_CONFIG,
  TINY_WIDTHS,
  VAE_SCALING_FACTOR,
  type TinyModelFlavor,
  type TinyModelKind,
  type TinyModelPrecision,
} from '../src/main/engine/tiny-model/tiny-model';
import { byteToUnicodeOrder } from '../src/main/engine/tiny-model/tiny-tokenizer';

const D = TINY_WIDTHS.textHidden;
const tempDirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tiny-model-'));
  tempDirs.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** Deterministic N(0, 1) values. */
function gaussian(count: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const uniform = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 1) / 4294967297;
  };
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    out[i] = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  }
  return out;
}

function floatTensor(precision: TinyModelPrecision, data: Float32Array, dims: number[]): ort.Tensor {
  return precision === 'float16'
    ? new ort.Tensor('float16', toFloat16Bits(data), dims)
    : new ort.Tensor('float32', data, dims);
}

function readFloats(tensor: ort.Tensor | undefined): Float32Array {
  if (!tensor) throw new Error('missing output');
  if (tensor.type === 'float16') return fromFloat16(tensor.data as Uint16Array);
  expect(tensor.type).toBe('float32');
  return tensor.data as Float32Array;
}

/** Rounds through float16 so expected values see the same inputs as the model. */
function quantize(precision: TinyModelPrecision, data: Float32Array): Float32Array {
  return precision === 'float16' ? fromFloat16(toFloat16Bits(data)) : data;
}

function std(values: Float32Array): number {
  let mean = 0;
  for (const v of values) mean += v;
  mean /= values.length;
  let variance = 0;
  for (const v of values) variance += (v - mean) ** 2;
  return Math.sqrt(variance / values.length);
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

function allFinite(values: Float32Array): boolean {
  for (const v of values) if (!Number.isFinite(v)) return false;
  return true;
}

function timestepTensor(
  flavor: TinyModelFlavor,
  precision: TinyModelPrecision,
  values: number[],
): ort.Tensor {
  if (flavor === 'optimum-legacy')
    return new ort.Tensor('int64', BigInt64Array.from(values.map((v) => BigInt(v))), [values.length]);
  const data = Float32Array.from(values);
  if (flavor === 'optimum') {
    expect(values.length).toBe(1);
    return floatTensor(precision, data, []);
  }
  return floatTensor(precision, data, [values.length]);
}

function idsTensor(flavor: TinyModelFlavor, ids: number[], dims: number[]): ort.Tensor {
  return flavor === 'optimum'
    ? new ort.Tensor('int64', BigInt64Array.from(ids.map((v) => BigInt(v))), dims)
    : new ort.Tensor('int32', Int32Array.from(ids), dims);
}

async function session(dir: string, component: string): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(join(dir, component, 'model.onnx'));
}

type Meta = { name: string; type: string; shape: (number | string)[] };

function metadata(list: readonly ort.InferenceSession.ValueMetadata[]): Meta[] {
  return list.map((m) => {
    if (!m.isTensor) throw new Error(`${m.name} is not a tensor`);
    return { name: m.name, type: m.type, shape: [...m.shape] };
  });
}

const FLAVORS: TinyModelFlavor[] = ['optimum', 'optimum-legacy', 'diffusers'];
const PRECISIONS: TinyModelPrecision[] = ['float32', 'float16'];
const KINDS: TinyModelKind[] = ['random', 'analytic'];
const COMBOS = FLAVORS.flatMap((flavor) =>
  PRECISIONS.flatMap((precision) => KINDS.map((kind) => ({ flavor, precision, kind }))),
);

const COMMON_FILES = [
  'model_index.json',
  'scheduler/scheduler_config.json',
  'tokenizer/vocab.json',
  'tokenizer/merges.txt',
  'tokenizer/special_tokens_map.json',
  'tokenizer/tokenizer_config.json',
  'text_encoder/model.onnx',
  'text_encoder/config.json',
  'unet/model.onnx',
  'unet/config.json',
  'vae_encoder/model.onnx',
  'vae_encoder/config.json',
  'vae_decoder/model.onnx',
  'vae_decoder/config.json',
];

describe.each(COMBOS)('tiny model $flavor $precision $kind', ({ flavor, precision, kind }) => {
  let dir = '';
  let generationMs = 0;
  const io = precision;
  const tolerance = precision === 'float16' ? 2e-2 : 1e-4;

  beforeAll(async () => {
    dir = tempDir();
    const start = performance.now();
    await makeTinyModel(dir, { flavor, precision, kind, seed: 7 });
    generationMs = performance.now() - start;
  });

  it('writes every file quickly, with external data where the flavor uses it', () => {
    expect(generationMs).toBeLessThan(2000);
    for (const file of COMMON_FILES) expect(existsSync(join(dir, file)), file).toBe(true);
    expect(existsSync(join(dir, 'tokenizer/tokenizer.json'))).toBe(false);

    const external: Record<TinyModelFlavor, string[]> = {
      diffusers: ['unet/weights.pb'],
      optimum: ['unet/model.onnx_data', 'text_encoder/model.onnx_data'],
      'optimum-legacy': [],
    };
    const allExternal = [
      'unet/weights.pb',
      'unet/model.onnx_data',
      'text_encoder/model.onnx_data',
      'text_encoder/weights.pb',
    ];
    for (const file of allExternal)
      expect(existsSync(join(dir, file)), file).toBe(external[flavor].includes(file));
    for (const file of external[flavor]) {
      const model = statSync(join(dir, file.replace(/[^/]+$/, 'model.onnx'))).size;
      const data = statSync(join(dir, file)).size;
      expect(data).toBeGreaterThan(0);
      if (kind === 'random' || file.startsWith('text_encoder')) expect(model).toBeLessThan(data);
      expect(model).toBeLessThan(128 * 1024);
    }
    if (flavor === 'optimum-legacy' && kind === 'random') {
      expect(statSync(join(dir, 'unet/model.onnx')).size).toBeGreaterThan(256 * 1024);
    }

    expect(JSON.parse(readFileSync(join(dir, 'scheduler/scheduler_config.json'), 'utf8'))).toEqual(
      SCHEDULER_CONFIG,
    );
    const index = JSON.parse(readFileSync(join(dir, 'model_index.json'), 'utf8')) as Record<string, unknown>;
    expect(index._class_name).toBe(
      flavor === 'diffusers'
        ? 'StableDiffusionInstructPix2PixPipeline'
        : 'ORTStableDiffusionInstructPix2PixPipeline',
    );
    for (const key of ['text_encoder', 'tokenizer', 'unet', 'vae_encoder', 'vae_decoder', 'scheduler']) {
      expect(index[key], key).toBeDefined();
    }
    const unetConfig = JSON.parse(readFileSync(join(dir, 'unet/config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(unetConfig).toMatchObject({ in_channels: 8, out_channels: 4, cross_attention_dim: D });
  });

  it('declares the flavor I/O', async () => {
    const text = await session(dir, 'text_encoder');
    expect(metadata(text.inputMetadata)).toEqual([
      {
        name: 'input_ids',
        type: flavor === 'optimum' ? 'int64' : 'int32',
        shape: ['batch_size', 'sequence_length'],
      },
    ]);
    expect(metadata(text.outputMetadata)).toEqual([
      { name: 'last_hidden_state', type: io, shape: ['batch_size', 'sequence_length', D] },
      { name: 'pooler_output', type: io, shape: ['batch_size', D] },
    ]);

    const unet = await session(dir, 'unet');
    const timestep: Meta =
      flavor === 'diffusers'
        ? { name: 'timestep', type: io, shape: ['batch_size'] }
        : flavor === 'optimum-legacy'
          ? { name: 'timestep', type: 'int64', shape: ['steps'] }
          : { name: 'timestep', type: io, shape: [] };
    expect(metadata(unet.inputMetadata)).toEqual([
      { name: 'sample', type: io, shape: ['batch_size', 8, 'height', 'width'] },
      timestep,
      { name: 'encoder_hidden_states', type: io, shape: ['batch_size', 'sequence_length', D] },
    ]);
    expect(metadata(unet.outputMetadata)).toEqual([
      { name: 'out_sample', type: io, shape: ['batch_size', 4, 'height', 'width'] },
    ]);

    const encoder = await session(dir, 'vae_encoder');
    expect(metadata(encoder.inputMetadata)).toEqual([
      { name: 'sample', type: io, shape: ['batch_size', 3, 'height', 'width'] },
    ]);
    expect(metadata(encoder.outputMetadata)).toEqual([
      flavor === 'diffusers'
        ? { name: 'latent_sample', type: io, shape: ['batch_size', 4, 'height_latent', 'width_latent'] }
        : { name: 'latent_parameters', type: io, shape: ['batch_size', 8, 'height_latent', 'width_latent'] },
    ]);

    const decoder = await session(dir, 'vae_decoder');
    expect(metadata(decoder.inputMetadata)).toEqual([
      { name: 'latent_sample', type: io, shape: ['batch_size', 4, 'h', 'w'] },
    ]);
    expect(metadata(decoder.outputMetadata)).toEqual([
      { name: 'sample', type: io, shape: ['batch_size', 3, 'H', 'W'] },
    ]);
  });

  it('runs the UNet on batch 3', async () => {
    const unet = await session(dir, 'unet');
    const [B, H, W, S] = [3, 16, 24, 77];
    const sample = quantize(precision, gaussian(B * 8 * H * W, 1));
    const hidden = quantize(precision, gaussian(B * S * D, 2));
    const steps = flavor === 'diffusers' ? [999, 500, 1] : [751];
    const result = await unet.run({
      sample: floatTensor(precision, sample, [B, 8, H, W]),
      timestep: timestepTensor(flavor, precision, steps),
      encoder_hidden_states: floatTensor(precision, hidden, [B, S, D]),
    });
    const out = result.out_sample!;
    expect(out.dims).toEqual([B, 4, H, W]);
    const values = readFloats(out);
    expect(allFinite(values)).toBe(true);

    if (kind === 'random') {
      const s = std(values);
      expect(s).toBeGreaterThan(0.1);
      expect(s).toBeLessThan(10);
      return;
    }
    const expected = new Float32Array(values.length);
    const plane = H * W;
    for (let b = 0; b < B; b++) {
      let mean = 0;
      for (let i = 0; i < S * D; i++) mean += hidden[b * S * D + i]!;
      mean /= S * D;
      const t = (steps.length === 1 ? steps[0]! : steps[b]!) / 1000;
      for (let c = 0; c < 4; c++) {
        for (let p = 0; p < plane; p++) {
          const s0 = sample[(b * 8 + c) * plane + p]!;
          const s1 = sample[(b * 8 + c + 4) * plane + p]!;
          expected[(b * 4 + c) * plane + p] = 0.5 * s0 + 0.25 * s1 + mean + t;
        }
      }
    }
    expect(maxAbsDiff(values, expected)).toBeLessThan(tolerance);
  });

  it('runs the text encoder', async () => {
    const text = await session(dir, 'text_encoder');
    const vocab = JSON.parse(readFileSync(join(dir, 'tokenizer/vocab.json'), 'utf8')) as Record<
      string,
      number
    >;
    const bos = vocab['<|startoftext|>']!;
    const eos = vocab['<|endoftext|>']!;
    const rows = [
      [bos, vocab['make</w>']!, vocab['it</w>']!, vocab['red</w>']!, eos],
      [bos, vocab['a</w>']!, vocab['cat</w>']!, eos, eos],
    ];
    const S = 77;
    const ids = rows.flatMap((row) => [...row, ...new Array<number>(S - row.length).fill(eos)]);
    const result = await text.run({ input_ids: idsTensor(flavor, ids, [2, S]) });
    const last = readFloats(result.last_hidden_state);
    const pooled = readFloats(result.pooler_output);
    expect(result.last_hidden_state!.dims).toEqual([2, S, D]);
    expect(result.pooler_output!.dims).toEqual([2, D]);
    expect(allFinite(last) && allFinite(pooled)).toBe(true);
    // pooler_output is the hidden state at the first end-of-text token.
    rows.forEach((row, b) => {
      const at = row.indexOf(eos);
      expect(
        maxAbsDiff(
          pooled.subarray(b * D, (b + 1) * D),
          last.subarray((b * S + at) * D, (b * S + at + 1) * D),
        ),
      ).toBe(0);
    });
    if (kind === 'analytic') {
      const expected = new Float32Array(2 * S * D);
      ids.forEach((id, i) => {
        for (let j = 0; j < D; j++) expected[i * D + j] = analyticTokenEmbedding(id, j);
      });
      expect(maxAbsDiff(last, expected)).toBeLessThan(precision === 'float16' ? 2e-3 : 1e-6);
    } else {
      expect(std(last)).toBeGreaterThan(0.1);
    }
  });

  it('runs the VAE encoder and decoder', async () => {
    const [B, H, W] = [2, 64, 48];
    const image = new Float32Array(B * 3 * H * W);
    const noise = gaussian(image.length, 3);
    for (let i = 0; i < image.length; i++) image[i] = Math.tanh(noise[i]!);
    const imageIn = quantize(precision, image);
    const encoder = await session(dir, 'vae_encoder');
    const encoded = await encoder.run({ sample: floatTensor(precision, imageIn, [B, 3, H, W]) });
    const outName = flavor === 'diffusers' ? 'latent_sample' : 'latent_parameters';
    const channels = flavor === 'diffusers' ? 4 : 8;
    const [h, w] = [H / 8, W / 8];
    expect(encoded[outName]!.dims).toEqual([B, channels, h, w]);
    const latents = readFloats(encoded[outName]);
    expect(allFinite(latents)).toBe(true);

    const latentIn = quantize(precision, gaussian(B * 4 * h * w, 4));
    const decoder = await session(dir, 'vae_decoder');
    const decoded = await decoder.run({ latent_sample: floatTensor(precision, latentIn, [B, 4, h, w]) });
    expect(decoded.sample!.dims).toEqual([B, 3, H, W]);
    const pixels = readFloats(decoded.sample);
    expect(allFinite(pixels)).toBe(true);

    if (kind === 'random') {
      expect(std(latents)).toBeGreaterThan(0.01);
      expect(std(pixels)).toBeGreaterThan(0.01);
      expect(std(latents)).toBeLessThan(100);
      expect(std(pixels)).toBeLessThan(100);
      return;
    }
    const expectedLatents = new Float32Array(B * channels * h * w);
    for (let b = 0; b < B; b++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const avg = [0, 0, 0];
          for (let c = 0; c < 3; c++) {
            let sum = 0;
            for (let dy = 0; dy < 8; dy++)
              for (let dx = 0; dx < 8; dx++) sum += imageIn[((b * 3 + c) * H + y * 8 + dy) * W + x * 8 + dx]!;
            avg[c] = sum / 64;
          }
          const means = [avg[0]!, avg[1]!, avg[2]!, (avg[0]! + avg[1]! + avg[2]!) / 3];
          for (let c = 0; c < channels; c++) {
            expectedLatents[((b * channels + c) * h + y) * w + x] = c < 4 ? means[c]! : ANALYTIC_LOGVAR;
          }
        }
      }
    }
    expect(maxAbsDiff(latents, expectedLatents)).toBeLessThan(precision === 'float16' ? 1e-2 : 1e-5);

    const expectedPixels = new Float32Array(B * 3 * H * W);
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < 3; c++) {
        for (let y = 0; y < H; y++) {
          for (let x = 0; x < W; x++) {
            const z = latentIn[((b * 4 + c) * h + Math.floor(y / 8)) * w + Math.floor(x / 8)]!;
            expectedPixels[((b * 3 + c) * H + y) * W + x] = z * VAE_SCALING_FACTOR;
          }
        }
      }
    }
    expect(maxAbsDiff(pixels, expectedPixels)).toBeLessThan(precision === 'float16' ? 2e-3 : 1e-6);
  });
});

describe('tiny model details', () => {
  it('broadcasts a length-1 timestep to every row (diffusers flavor)', async () => {
    const dir = tempDir();
    await makeTinyModel(dir, { flavor: 'diffusers' });
    const unet = await session(dir, 'unet');
    const [B, H, W, S] = [3, 8, 8, 77];
    const feeds = (timestep: Float32Array): Record<string, ort.Tensor> => ({
      sample: new ort.Tensor('float32', gaussian(B * 8 * H * W, 5), [B, 8, H, W]),
      timestep: new ort.Tensor('float32', timestep, [timestep.length]),
      encoder_hidden_states: new ort.Tensor('float32', gaussian(B * S * D, 6), [B, S, D]),
    });
    const one = readFloats((await unet.run(feeds(Float32Array.of(321)))).out_sample);
    const all = readFloats((await unet.run(feeds(Float32Array.of(321, 321, 321)))).out_sample);
    const other = readFloats((await unet.run(feeds(Float32Array.of(321, 321, 20)))).out_sample);
    expect(maxAbsDiff(one, all)).toBeLessThan(1e-5);
    expect(maxAbsDiff(all.subarray(0, 2 * 4 * H * W), other.subarray(0, 2 * 4 * H * W))).toBeLessThan(1e-5);
    expect(maxAbsDiff(all, other)).toBeGreaterThan(1e-4);
  });

  it('runs the random UNet for latent sizes that are multiples of 8', async () => {
    const dir = tempDir();
    await makeTinyModel(dir, { flavor: 'optimum' });
    const unet = await session(dir, 'unet');
    for (const [H, W] of [
      [8, 8],
      [24, 40],
      [64, 56],
    ] as const) {
      const result = await unet.run({
        sample: new ort.Tensor('float32', gaussian(8 * H * W, H), [1, 8, H, W]),
        timestep: new ort.Tensor('float32', Float32Array.of(10), []),
        encoder_hidden_states: new ort.Tensor('float32', gaussian(77 * D, W), [1, 77, D]),
      });
      expect(result.out_sample!.dims).toEqual([1, 4, H, W]);
      const values = readFloats(result.out_sample);
      expect(allFinite(values)).toBe(true);
      expect(std(values)).toBeGreaterThan(0.1);
      expect(std(values)).toBeLessThan(10);
    }
  });

  it('makes the random UNet depend on the text embeddings and the timestep', async () => {
    const dir = tempDir();
    await makeTinyModel(dir, { flavor: 'optimum' });
    const unet = await session(dir, 'unet');
    const sample = gaussian(8 * 16 * 16, 11);
    const run = async (hiddenSeed: number, timestep: number): Promise<Float32Array> =>
      readFloats(
        (
          await unet.run({
            sample: new ort.Tensor('float32', sample, [1, 8, 16, 16]),
            timestep: new ort.Tensor('float32', Float32Array.of(timestep), []),
            encoder_hidden_states: new ort.Tensor('float32', gaussian(77 * D, hiddenSeed), [1, 77, D]),
          })
        ).out_sample,
      );
    const base = await run(1, 500);
    expect(maxAbsDiff(base, await run(1, 500))).toBe(0);
    expect(maxAbsDiff(base, await run(2, 500))).toBeGreaterThan(1e-2);
    expect(maxAbsDiff(base, await run(1, 100))).toBeGreaterThan(1e-2);
  });

  it('declares 4 input channels for a broken 4-channel UNet', async () => {
    const dir = tempDir();
    await makeTinyModel(dir, { unetInChannels: 4, kind: 'analytic' });
    const unet = await session(dir, 'unet');
    const sample = unet.inputMetadata.find((m) => m.name === 'sample');
    expect(sample?.isTensor && sample.shape).toEqual(['batch_size', 4, 'height', 'width']);
    const config = JSON.parse(readFileSync(join(dir, 'unet/config.json'), 'utf8')) as Record<string, unknown>;
    expect(config.in_channels).toBe(4);
    const result = await unet.run({
      sample: new ort.Tensor('float32', new Float32Array(4 * 64).fill(2), [1, 4, 8, 8]),
      timestep: new ort.Tensor('float32', Float32Array.of(0), []),
      encoder_hidden_states: new ort.Tensor('float32', new Float32Array(77 * D), [1, 77, D]),
    });
    expect(readFloats(result.out_sample)[0]).toBeCloseTo(1, 5);
  });

  it('is deterministic from the seed', async () => {
    const [a, b, c] = [tempDir(), tempDir(), tempDir()];
    await makeTinyModel(a, { seed: 1 });
    await makeTinyModel(b, { seed: 1 });
    await makeTinyModel(c, { seed: 2 });
    const weights = (dir: string): Buffer => readFileSync(join(dir, 'unet/model.onnx_data'));
    expect(weights(a).equals(weights(b))).toBe(true);
    expect(weights(a).equals(weights(c))).toBe(false);
  });

  it('writes a CLIP-format vocabulary and merges', async () => {
    const dir = tempDir();
    await makeTinyModel(dir, { kind: 'analytic' });
    const vocab = JSON.parse(readFileSync(join(dir, 'tokenizer/vocab.json'), 'utf8')) as Record<
      string,
      number
    >;
    const byId = new Map<number, string>();
    for (const [token, id] of Object.entries(vocab)) {
      expect(byId.has(id)).toBe(false);
      byId.set(id, token);
    }
    const size = byId.size;
    for (let id = 0; id < size; id++) expect(byId.has(id)).toBe(true);

    const bytes = byteToUnicodeOrder();
    expect(bytes[0]!.char).toBe('!');
    expect(new Set(bytes.map((b) => b.byte)).size).toBe(256);
    bytes.forEach(({ char }, i) => {
      expect(byId.get(i)).toBe(char);
      expect(byId.get(256 + i)).toBe(`${char}</w>`);
    });
    expect(byId.get(size - 2)).toBe('<|startoftext|>');
    expect(byId.get(size - 1)).toBe('<|endoftext|>');

    const lines = readFileSync(join(dir, 'tokenizer/merges.txt'), 'utf8')
      .split('\n')
      .filter((line) => line !== '');
    expect(lines[0]).toBe('#version: 0.2');
    const merges = lines.slice(1).map((line) => line.split(' ') as [string, string]);
    expect(merges.length).toBe(size - 514);
    expect(merges.length).toBeGreaterThanOrEqual(150);
    const known = new Set(bytes.flatMap(({ char }) => [char, `${char}</w>`]));
    merges.forEach(([left, right], i) => {
      expect(known.has(left), `${left} of merge ${i}`).toBe(true);
      expect(known.has(right), `${right} of merge ${i}`).toBe(true);
      expect(byId.get(512 + i)).toBe(left + right);
      known.add(left + right);
    });

    // A minimal CLIP BPE: the prompt words become single tokens.
    const ranks = new Map(merges.map(([l, r], i) => [`${l} ${r}`, i]));
    const bpe = (word: string): string[] => {
      const chars = [...word];
      let symbols = chars.map((c, i) => (i === chars.length - 1 ? `${c}</w>` : c));
      for (;;) {
        let best = -1;
        let bestRank = Infinity;
        for (let i = 0; i + 1 < symbols.length; i++) {
          const rank = ranks.get(`${symbols[i]!} ${symbols[i + 1]!}`);
          if (rank !== undefined && rank < bestRank) [best, bestRank] = [i, rank];
        }
        if (best < 0) return symbols;
        const pair = `${symbols[best]!} ${symbols[best + 1]!}`;
        const next: string[] = [];
        for (let i = 0; i < symbols.length; i++) {
          if (i + 1 < symbols.length && `${symbols[i]!} ${symbols[i + 1]!}` === pair) {
            next.push(symbols[i]! + symbols[i + 1]!);
            i++;
          } else next.push(symbols[i]!);
        }
        symbols = next;
      }
    };
    for (const word of ['make', 'it', 'red', 'the', 'photo', 'cat', 'a', 'turn', 'into', 'blue', 'dog']) {
      expect(bpe(word), word).toEqual([`${word}</w>`]);
      expect(vocab[`${word}</w>`], word).toBeDefined();
    }

    const config = JSON.parse(readFileSync(join(dir, 'tokenizer/tokenizer_config.json'), 'utf8')) as unknown;
    expect(config).toEqual({
      model_max_length: 77,
      do_lower_case: true,
      bos_token: '<|startoftext|>',
      eos_token: '<|endoftext|>',
      pad_token: '<|endoftext|>',
      unk_token: '<|endoftext|>',
    });
    const textConfig = JSON.parse(readFileSync(join(dir, 'text_encoder/config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(textConfig.vocab_size).toBe(size);
  });
});
