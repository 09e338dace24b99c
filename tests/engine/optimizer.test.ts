import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import type { EditSettings, RgbImage } from '../../src/shared/engine-types';
import { fromFloat16, toFloat16Bits } from '../../src/main/engine/float16';
import { optimizeModelFolder, OptimizeRefusedError } from '../../src/main/engine/optimizer';
import { InstructPix2PixPipeline } from '../../src/main/engine/pipeline';
import { makeTinyModel, type TinyModelFlavor } from '../../src/main/engine/tiny-model/tiny-model';
import { cli } from './cli-helpers';
import { breakFirstUnetAttention } from '../support/odd-attention';

const { onnx } = onnxProto;
const root = mkdtempSync(join(tmpdir(), 'ip2p-optimize-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function opCounts(path: string): Map<string, number> {
  const model = onnx.ModelProto.decode(readFileSync(path));
  const counts = new Map<string, number>();
  for (const node of model.graph?.node ?? []) {
    const key = `${node.domain ? `${node.domain}.` : ''}${node.opType}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

function folderHash(dir: string): string {
  const hash = createHash('sha256');
  const walk = (path: string): void => {
    for (const entry of readdirSync(path, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const full = join(path, entry.name);
      hash.update(full);
      if (entry.isDirectory()) walk(full);
      else hash.update(readFileSync(full));
    }
  };
  walk(dir);
  return hash.digest('hex');
}

async function unetOutput(dir: string, flavor: TinyModelFlavor): Promise<Float32Array> {
  const [B, H, W, S, D] = [3, 16, 24, 77, 32];
  const session = await ort.InferenceSession.create(join(dir, 'unet', 'model.onnx'));
  try {
    const timestep =
      flavor === 'optimum-legacy'
        ? new ort.Tensor('int64', BigInt64Array.of(600n), [1])
        : flavor === 'diffusers'
          ? new ort.Tensor('float32', Float32Array.of(600, 600, 600), [B])
          : new ort.Tensor('float32', Float32Array.of(600), []);
    const result = await session.run({
      sample: new ort.Tensor(
        'float32',
        Float32Array.from({ length: B * 8 * H * W }, (_, i) => Math.cos(i * 0.7)),
        [B, 8, H, W],
      ),
      timestep,
      encoder_hidden_states: new ort.Tensor(
        'float32',
        Float32Array.from({ length: B * S * D }, (_, i) => Math.sin(i * 0.23) * 2),
        [B, S, D],
      ),
    });
    return result.out_sample!.data as Float32Array;
  } finally {
    await session.release();
  }
}

/** The VAE encoder on a 2×3×64×48 picture and the decoder on 2×4×8×6 latents, outputs concatenated. */
async function vaeOutputs(dir: string): Promise<Float32Array[]> {
  const outputs: Float32Array[] = [];
  for (const [part, dims] of [
    ['vae_encoder', [2, 3, 64, 48]],
    ['vae_decoder', [2, 4, 8, 6]],
  ] as const) {
    const session = await ort.InferenceSession.create(join(dir, part, 'model.onnx'));
    try {
      const count = dims.reduce((a, b) => a * b, 1);
      const input = new ort.Tensor(
        'float32',
        Float32Array.from({ length: count }, (_, i) => Math.sin(i * 0.05) * 0.8),
        [...dims],
      );
      const result = await session.run({ [session.inputNames[0]!]: input });
      outputs.push(result[session.outputNames[0]!]!.data as Float32Array);
    } finally {
      await session.release();
    }
  }
  return outputs;
}

function fusedNodes(path: string): onnxProto.onnx.INodeProto[] {
  const model = onnx.ModelProto.decode(readFileSync(path));
  return (model.graph?.node ?? []).filter((node) => node.opType === 'MultiHeadAttention');
}

function attribute(node: onnxProto.onnx.INodeProto, name: string): number {
  const found = node.attribute?.find((a) => a.name === name);
  return Number(found?.type === onnx.AttributeProto.AttributeType.FLOAT ? found.f : found?.i);
}

function largestDifference(a: Float32Array, b: Float32Array): { worst: number; largest: number } {
  let worst = 0;
  let largest = 0;
  for (let i = 0; i < a.length; i++) {
    worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    largest = Math.max(largest, Math.abs(a[i]!));
  }
  return { worst, largest };
}

function picture(size: number): RgbImage {
  const data = new Uint8Array(size * size * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 29 + ((i / 3) >> 5) * 13) % 256;
  return { width: size, height: size, data };
}

const settings: EditSettings = {
  instruction: 'make it red',
  steps: 2,
  textGuidance: 7.5,
  imageGuidance: 1.5,
  seed: 3,
  scheduler: 'euler',
  resolution: 'native',
};

async function editPixels(dir: string): Promise<Uint8Array> {
  const pipeline = await InstructPix2PixPipeline.load(dir, { provider: 'cpu' });
  try {
    return (await pipeline.edit(picture(64), settings)).image.data;
  } finally {
    await pipeline.dispose();
  }
}

describe('cli optimize fuses attention into com.microsoft.MultiHeadAttention', () => {
  for (const flavor of ['diffusers', 'optimum-legacy', 'optimum'] as const) {
    it(`${flavor}: every attention fused, outputs within 1e-4, the same edit, the source untouched`, async () => {
      const dir = join(root, flavor);
      await makeTinyModel(dir, { flavor, seed: 9 });
      const before = folderHash(dir);
      const outDir = join(root, `${flavor}-fast`);
      const { code, stdout } = await cli(['optimize', dir, '--out', outDir]);
      expect(code).toBe(0);
      expect(stdout).toMatch(
        /14 attention blocks fused into com\.microsoft\.MultiHeadAttention and 2 in the VAE/,
      );
      expect(folderHash(dir)).toBe(before);

      const original = opCounts(join(dir, 'unet', 'model.onnx'));
      const optimised = opCounts(join(outDir, 'unet', 'model.onnx'));
      expect(original.get('Softmax')).toBe(14);
      expect(optimised.get('Softmax') ?? 0).toBe(0);
      expect(optimised.get('com.microsoft.MultiHeadAttention')).toBe(14);
      // The projections stay: q, k, v, out per attention, plus the feed-forward ones.
      expect(optimised.get('MatMul')).toBe((original.get('MatMul') ?? 0) - 14 * 2);

      const a = await unetOutput(dir, flavor);
      const b = await unetOutput(outDir, flavor);
      let worst = 0;
      let largest = 0;
      for (let i = 0; i < a.length; i++) {
        worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
        largest = Math.max(largest, Math.abs(a[i]!));
      }
      expect(largest).toBeGreaterThan(0.1);
      expect(worst).toBeLessThan(1e-4);

      // The VAE's mid-block attention: one head over the tiny VAE's 16 channels, scale 1/√16.
      for (const part of ['vae_encoder', 'vae_decoder']) {
        const vaeBefore = opCounts(join(dir, part, 'model.onnx'));
        const vaeAfter = opCounts(join(outDir, part, 'model.onnx'));
        expect(vaeBefore.get('Softmax')).toBe(1);
        expect(vaeAfter.get('Softmax') ?? 0).toBe(0);
        expect(vaeAfter.get('MatMul')).toBe((vaeBefore.get('MatMul') ?? 0) - 2);
        const [fused] = fusedNodes(join(outDir, part, 'model.onnx'));
        expect(attribute(fused!, 'num_heads')).toBe(1);
        expect(attribute(fused!, 'scale')).toBeCloseTo(1 / Math.sqrt(16), 6);
      }
      const vaeBefore = await vaeOutputs(dir);
      const vaeAfter = await vaeOutputs(outDir);
      vaeBefore.forEach((values, k) => {
        const { worst, largest: vaeLargest } = largestDifference(values, vaeAfter[k]!);
        expect(vaeLargest).toBeGreaterThan(0.1);
        expect(worst).toBeLessThan(1e-4);
      });

      const pixelsBefore = await editPixels(dir);
      const pixelsAfter = await editPixels(outDir);
      let pixelDiff = 0;
      for (let i = 0; i < pixelsBefore.length; i++)
        pixelDiff = Math.max(pixelDiff, Math.abs(pixelsBefore[i]! - pixelsAfter[i]!));
      expect(pixelDiff).toBeLessThanOrEqual(1);
      // The memory estimate knows the folder is optimised.
      const pipeline = await InstructPix2PixPipeline.load(outDir, { provider: 'cpu' });
      expect(pipeline.dimensions.fusedAttention).toBe(true);
      expect(pipeline.dimensions.fusedVaeAttention).toBe(true);
      await pipeline.dispose();
    });
  }

  it('refuses, writing nothing, when one attention does not match exactly', async () => {
    const dir = join(root, 'odd');
    await makeTinyModel(dir, { flavor: 'diffusers', seed: 9 });
    // One block with a Relu between the scale and the Softmax: no longer the exported pattern.
    breakFirstUnetAttention(dir);
    const before = folderHash(dir);
    const outDir = join(root, 'odd-fast');
    const { code, stderr } = await cli(['optimize', dir, '--out', outDir]);
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /1 of 14 attention blocks do not match a known export pattern exactly, so nothing was rewritten: Softmax '[^']+': Softmax '[^']+' reads Relu 'odd', not MatMul, Mul or Div/,
    );
    expect(existsSync(outDir)).toBe(false);
    expect(folderHash(dir)).toBe(before);
  });

  it('refuses, writing nothing, when the VAE attention does not match exactly', async () => {
    const dir = join(root, 'odd-vae');
    await makeTinyModel(dir, { flavor: 'optimum', seed: 9 });
    // The decoder's scores scaled by a per-token vector instead of one number.
    const path = join(dir, 'vae_decoder', 'model.onnx');
    const model = onnx.ModelProto.decode(readFileSync(path));
    const graph = model.graph!;
    const softmax = graph.node!.find((node) => node.opType === 'Softmax')!;
    const scores = graph.node!.find((node) => node.output?.[0] === softmax.input![0])!;
    const queryScale = graph.node!.find((node) => node.output?.[0] === scores.input![0])!;
    graph.initializer!.push({
      name: 'odd_scale',
      dataType: onnx.TensorProto.DataType.FLOAT,
      dims: [2],
      floatData: [0.3, 0.3],
    });
    queryScale.input = [queryScale.input![0]!, 'odd_scale'];
    writeFileSync(path, onnx.ModelProto.encode(model).finish());
    const before = folderHash(dir);
    const outDir = join(root, 'odd-vae-fast');
    const { code, stderr } = await cli(['optimize', dir, '--out', outDir]);
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /1 of 1 attention blocks of the VAE decoder do not match a known export pattern exactly, so nothing was rewritten: Softmax '[^']+': the query scale is not one finite number/,
    );
    expect(existsSync(outDir)).toBe(false);
    expect(folderHash(dir)).toBe(before);
  });

  it('refuses a float16 model for a provider other than the CPU, and an already optimised folder', async () => {
    const dir = join(root, 'half-gpu');
    await makeTinyModel(dir, { flavor: 'optimum', precision: 'float16' });
    await expect(optimizeModelFolder(dir, join(root, 'half-gpu-fast'), { provider: 'cuda' })).rejects.toThrow(
      /the UNet computes in float16; onnxruntime runs MultiHeadAttention on the CPU in float32 only/,
    );
    expect(existsSync(join(root, 'half-gpu-fast'))).toBe(false);
    const plain = join(root, 'plain');
    await makeTinyModel(plain, { flavor: 'optimum' });
    await optimizeModelFolder(plain, join(root, 'plain-fast'));
    const error = await optimizeModelFolder(join(root, 'plain-fast'), join(root, 'twice')).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OptimizeRefusedError);
    expect((error as Error).message).toMatch(/already optimised/);
  });
});

describe('cli optimize makes a float16 model float32 for the CPU', () => {
  for (const flavor of ['diffusers', 'optimum'] as const) {
    it(`${flavor}: float32 weights and inputs, no float16 casts, outputs within 2e-3 (relative), an edit runs`, async () => {
      const dir = join(root, `half-${flavor}`);
      await makeTinyModel(dir, { flavor, precision: 'float16', seed: 9 });
      const before = folderHash(dir);
      const outDir = join(root, `half-${flavor}-fast`);
      const { code, stdout } = await cli(['optimize', dir, '--out', outDir]);
      expect(code).toBe(0);
      expect(stdout).toMatch(
        /float16 made float32 for the CPU in text_encoder, unet, vae_encoder, vae_decoder \(\d+ casts removed\)/,
      );
      expect(folderHash(dir)).toBe(before);

      const T = onnx.TensorProto.DataType;
      for (const part of ['text_encoder', 'unet', 'vae_encoder', 'vae_decoder']) {
        const model = onnx.ModelProto.decode(readFileSync(join(outDir, part, 'model.onnx')));
        const graph = model.graph!;
        expect(graph.initializer!.filter((tensor) => tensor.dataType === T.FLOAT16)).toEqual([]);
        const floatInputs = graph.input!.filter(
          (input) => input.name !== 'input_ids' && input.name !== 'timestep',
        );
        for (const input of floatInputs) expect(input.type!.tensorType!.elemType).toBe(T.FLOAT);
        const casts = graph.node!.filter((node) => node.opType === 'Cast');
        for (const cast of casts)
          expect(Number(cast.attribute!.find((a) => a.name === 'to')!.i)).not.toBe(T.FLOAT16);
        // The float16 weights file is gone; the float32 weights are in model.onnx_data.
        expect(readdirSync(join(outDir, part)).filter((name) => !name.endsWith('.json'))).toEqual([
          'model.onnx',
          'model.onnx_data',
        ]);
      }
      // The random UNet casts its float32 time embedding to float16: that Cast became a no-op and went.
      const originalCasts = opCounts(join(dir, 'unet', 'model.onnx')).get('Cast') ?? 0;
      const castsAfter = opCounts(join(outDir, 'unet', 'model.onnx')).get('Cast') ?? 0;
      expect(castsAfter).toBeLessThan(originalCasts);

      // The sessions take float32, and the UNet computes what the float16 one does.
      const unetSession = await ort.InferenceSession.create(join(outDir, 'unet', 'model.onnx'));
      const types = unetSession.inputMetadata.map((input) => (input.isTensor ? input.type : 'not a tensor'));
      await unetSession.release();
      expect(types).toEqual(['float32', 'float32', 'float32']);
      const half = await halfUnetOutput(join(dir, 'unet', 'model.onnx'), flavor);
      const full = await halfUnetOutput(join(outDir, 'unet', 'model.onnx'), flavor);
      let squaredDifference = 0;
      let squared = 0;
      for (let i = 0; i < half.length; i++) {
        squaredDifference += (half[i]! - full[i]!) ** 2;
        squared += half[i]! ** 2;
      }
      expect(Math.sqrt(squared / half.length)).toBeGreaterThan(0.1);
      const relative = Math.sqrt(squaredDifference / squared);
      expect(relative).toBeGreaterThan(0);
      expect(relative).toBeLessThan(2e-3);

      // The pipeline reads the float32 types from the sessions and gives the same edit within rounding.
      const pipeline = await InstructPix2PixPipeline.load(outDir, { provider: 'cpu' });
      expect(pipeline.dimensions.weightFactor).toBe(1);
      await pipeline.dispose();
      const pixelsHalf = await editPixels(dir);
      const pixelsFull = await editPixels(outDir);
      let pixelDiff = 0;
      let spread = 0;
      for (let i = 0; i < pixelsHalf.length; i++) {
        pixelDiff = Math.max(pixelDiff, Math.abs(pixelsHalf[i]! - pixelsFull[i]!));
        spread = Math.max(spread, Math.abs(pixelsFull[i]! - pixelsFull[0]!));
      }
      expect(spread).toBeGreaterThan(20);
      expect(pixelDiff).toBeLessThanOrEqual(2);
    });
  }
});

/** The UNet on a fixed input in whatever float type the session declares, as float32 values. */
async function halfUnetOutput(path: string, flavor: TinyModelFlavor): Promise<Float32Array> {
  const [B, H, W, S, D] = [2, 16, 16, 77, 32];
  const session = await ort.InferenceSession.create(path);
  try {
    const meta = new Map(
      session.inputMetadata.map((input) => [input.name, input.isTensor ? input.type : '']),
    );
    const tensor = (name: string, values: Float32Array, dims: number[]) =>
      meta.get(name) === 'float16'
        ? new ort.Tensor('float16', toFloat16Bits(values), dims)
        : new ort.Tensor('float32', fromFloat16(toFloat16Bits(values)), dims);
    const result = await session.run({
      sample: tensor(
        'sample',
        Float32Array.from({ length: B * 8 * H * W }, (_, i) => Math.cos(i * 0.7)),
        [B, 8, H, W],
      ),
      timestep: tensor(
        'timestep',
        flavor === 'diffusers' ? Float32Array.of(600, 600) : Float32Array.of(600),
        flavor === 'diffusers' ? [B] : [],
      ),
      encoder_hidden_states: tensor(
        'encoder_hidden_states',
        Float32Array.from({ length: B * S * D }, (_, i) => Math.sin(i * 0.23) * 2),
        [B, S, D],
      ),
    });
    const out = result.out_sample!;
    return out.type === 'float16' ? fromFloat16(out.data as Uint16Array) : (out.data as Float32Array);
  } finally {
    await session.release();
  }
}
