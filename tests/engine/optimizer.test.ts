import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import type { EditSettings, RgbImage } from '../../src/shared/engine-types';
import { optimizeModelFolder, OptimizeRefusedError } from '../../src/main/engine/optimizer';
import { InstructPix2PixPipeline } from '../../src/main/engine/pipeline';
import { makeTinyModel, type TinyModelFlavor } from '../../src/main/engine/tiny-model/tiny-model';
import { cli } from './cli-helpers';

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
      expect(stdout).toMatch(/14 attention blocks fused into com\.microsoft\.MultiHeadAttention/);
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

      const pixelsBefore = await editPixels(dir);
      const pixelsAfter = await editPixels(outDir);
      let pixelDiff = 0;
      for (let i = 0; i < pixelsBefore.length; i++)
        pixelDiff = Math.max(pixelDiff, Math.abs(pixelsBefore[i]! - pixelsAfter[i]!));
      expect(pixelDiff).toBeLessThanOrEqual(1);
      // The memory estimate knows the folder is optimised.
      const pipeline = await InstructPix2PixPipeline.load(outDir, { provider: 'cpu' });
      expect(pipeline.dimensions.fusedAttention).toBe(true);
      await pipeline.dispose();
    });
  }

  it('refuses, writing nothing, when one attention does not match exactly', async () => {
    const dir = join(root, 'odd');
    await makeTinyModel(dir, { flavor: 'diffusers', seed: 9 });
    // One block with a Relu between the scale and the Softmax: no longer the exported pattern.
    const path = join(dir, 'unet', 'model.onnx');
    const model = onnx.ModelProto.decode(readFileSync(path));
    const nodes = model.graph!.node!;
    const softmax = nodes.find((node) => node.opType === 'Softmax')!;
    const scores = softmax.input![0]!;
    softmax.input = ['odd_relu'];
    nodes.splice(nodes.indexOf(softmax), 0, {
      opType: 'Relu',
      input: [scores],
      output: ['odd_relu'],
      name: 'odd',
    });
    writeFileSync(path, onnx.ModelProto.encode(model).finish());
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

  it('refuses a float16 UNet and an already optimised folder', async () => {
    const dir = join(root, 'half');
    await makeTinyModel(dir, { flavor: 'optimum', precision: 'float16' });
    await expect(optimizeModelFolder(dir, join(root, 'half-fast'))).rejects.toThrow(
      /computes in float16; onnxruntime runs MultiHeadAttention on the CPU in float32 only/,
    );
    expect(existsSync(join(root, 'half-fast'))).toBe(false);
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
