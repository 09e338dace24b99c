import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTinyModel, type TinyModelFlavor } from '../src/main/engine/tiny-model/tiny-model';

const { onnx } = onnxProto;
const root = mkdtempSync(join(tmpdir(), 'tiny-patterns-'));
const FLAVORS: TinyModelFlavor[] = ['diffusers', 'optimum-legacy', 'optimum'];

beforeAll(async () => {
  for (const flavor of FLAVORS) await makeTinyModel(join(root, flavor), { flavor, seed: 5 });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Node {
  op: string;
  inputs: string[];
  outputs: string[];
}

function graphOf(flavor: TinyModelFlavor, component: string): Node[] {
  const model = onnx.ModelProto.decode(readFileSync(join(root, flavor, component, 'model.onnx')));
  return (model.graph?.node ?? []).map((node) => ({
    op: node.opType ?? '',
    inputs: node.input ?? [],
    outputs: node.output ?? [],
  }));
}

function producer(nodes: Node[], value: string): Node | undefined {
  return nodes.find((node) => node.outputs.includes(value));
}

function consumers(nodes: Node[], value: string): Node[] {
  return nodes.filter((node) => node.inputs.includes(value));
}

describe('generated models write attention and normalisation as real exports do', () => {
  const scoreOp = { diffusers: 'Mul', 'optimum-legacy': 'Div', optimum: 'MatMul' } as const;

  for (const flavor of FLAVORS) {
    it(`${flavor}: MatMul → ${scoreOp[flavor] === 'MatMul' ? '' : `${scoreOp[flavor]} → `}Softmax → MatMul, InstanceNormalization between reshapes`, () => {
      for (const component of ['unet', 'text_encoder']) {
        const nodes = graphOf(flavor, component);
        const softmaxes = nodes.filter((node) => node.op === 'Softmax');
        // The tiny UNet: 2 levels × (down + up ×2) + middle = 7 transformers × 2 attentions.
        expect(softmaxes.length).toBe(component === 'unet' ? 14 : 1);
        for (const softmax of softmaxes) {
          const scores = producer(nodes, softmax.inputs[0]!)!;
          expect(scores.op).toBe(scoreOp[flavor]);
          const product = flavor === 'optimum' ? scores : producer(nodes, scores.inputs[0]!)!;
          expect(product.op).toBe('MatMul');
          if (flavor === 'optimum') {
            // q and kᵀ each scaled by √scale
            expect(product.inputs.map((input) => producer(nodes, input)?.op)).toEqual(['Mul', 'Mul']);
          } else {
            expect(producer(nodes, product.inputs[1]!)?.op).toBe('Transpose');
            expect(producer(nodes, product.inputs[0]!)?.op).toBe('Reshape');
          }
          expect(consumers(nodes, softmax.outputs[0]!).map((node) => node.op)).toEqual(['MatMul']);
        }
      }
      const unet = graphOf(flavor, 'unet');
      expect(unet.some((node) => node.op === 'GroupNormalization')).toBe(false);
      const norms = unet.filter((node) => node.op === 'InstanceNormalization');
      expect(norms.length).toBeGreaterThan(10);
      for (const norm of norms) {
        expect(producer(unet, norm.inputs[0]!)?.op).toBe('Reshape');
        const [restore] = consumers(unet, norm.outputs[0]!);
        expect(restore?.op).toBe('Reshape');
        expect(consumers(unet, restore!.outputs[0]!).map((node) => node.op)).toEqual(['Mul']);
      }
    });
  }

  for (const flavor of FLAVORS) {
    it(`${flavor}: the VAE's mid-block attention (one head) as the export writes it`, () => {
      for (const component of ['vae_encoder', 'vae_decoder']) {
        const nodes = graphOf(flavor, component);
        const softmaxes = nodes.filter((node) => node.op === 'Softmax');
        expect(softmaxes.length).toBe(1);
        const softmax = softmaxes[0]!;
        const scores = producer(nodes, softmax.inputs[0]!)!;
        expect(scores.op).toBe(scoreOp[flavor]);
        const product = flavor === 'optimum' ? scores : producer(nodes, scores.inputs[0]!)!;
        // Back from the context: MatMul → (Reshape) → Transpose → Reshape → to_out (MatMul, Add) →
        // Transpose → Reshape to the input's shape → Add the input → Div by rescale_output_factor.
        let value = consumers(nodes, softmax.outputs[0]!)[0]!.outputs[0]!;
        const path: string[] = [];
        while (path.length < 12) {
          const next = consumers(nodes, value);
          if (next.length !== 1) break;
          path.push(next[0]!.op);
          value = next[0]!.outputs[0]!;
          if (next[0]!.op === 'Div') break;
        }
        const split = flavor === 'optimum' ? [] : ['Reshape'];
        expect(path).toEqual([
          ...split,
          'Transpose',
          'Reshape',
          'MatMul',
          'Add',
          'Transpose',
          'Reshape',
          'Add',
          'Div',
        ]);
        // The query: a linear with bias over [B, H·W, C] tokens, split into one head.
        const queryHeads = flavor === 'optimum' ? producer(nodes, product.inputs[0]!)! : product;
        let query = producer(nodes, queryHeads.inputs[0]!)!;
        while (query.op !== 'Add') query = producer(nodes, query.inputs[0]!)!;
        expect(producer(nodes, query.inputs[0]!)?.op).toBe('MatMul');
        const tokens = producer(nodes, producer(nodes, query.inputs[0]!)!.inputs[0]!)!;
        expect(tokens.op).toBe('Transpose');
        // GroupNorm before the flattening (older processors) or after it (AttnProcessor2_0).
        const beforeTokens = producer(nodes, tokens.inputs[0]!)!;
        expect(beforeTokens.op).toBe(flavor === 'optimum' ? 'Add' : 'Reshape');
      }
    });
  }

  it('VAEs without attention: the analytic kind and vaeAttention false', async () => {
    const plain = join(root, 'plain-vae');
    await makeTinyModel(plain, { flavor: 'optimum', vaeAttention: false, seed: 5 });
    const analytic = join(root, 'analytic-vae');
    await makeTinyModel(analytic, { flavor: 'optimum', kind: 'analytic' });
    for (const dir of [plain, analytic])
      for (const component of ['vae_encoder', 'vae_decoder']) {
        const model = onnx.ModelProto.decode(readFileSync(join(dir, component, 'model.onnx')));
        expect(model.graph!.node!.filter((node) => node.opType === 'Softmax')).toEqual([]);
      }
  });

  it('the three attention writings compute the same UNet (same seed, integer timestep)', async () => {
    const [B, H, W, S, D] = [2, 16, 16, 77, 32];
    const sample = Float32Array.from({ length: B * 8 * H * W }, (_, i) => Math.sin(i * 0.37));
    const hidden = Float32Array.from({ length: B * S * D }, (_, i) => Math.cos(i * 0.11));
    const timestep: Record<TinyModelFlavor, ort.Tensor> = {
      diffusers: new ort.Tensor('float32', Float32Array.of(421, 421), [B]),
      'optimum-legacy': new ort.Tensor('int64', BigInt64Array.of(421n), [1]),
      optimum: new ort.Tensor('float32', Float32Array.of(421), []),
    };
    const outputs: Float32Array[] = [];
    for (const flavor of FLAVORS) {
      const session = await ort.InferenceSession.create(join(root, flavor, 'unet', 'model.onnx'));
      const result = await session.run({
        sample: new ort.Tensor('float32', sample, [B, 8, H, W]),
        timestep: timestep[flavor],
        encoder_hidden_states: new ort.Tensor('float32', hidden, [B, S, D]),
      });
      outputs.push(result.out_sample!.data as Float32Array);
      await session.release();
    }
    let spread = 0;
    let scale = 0;
    for (let i = 0; i < outputs[0]!.length; i++) {
      scale = Math.max(scale, Math.abs(outputs[0]![i]!));
      for (const other of outputs.slice(1)) spread = Math.max(spread, Math.abs(other[i]! - outputs[0]![i]!));
    }
    expect(scale).toBeGreaterThan(0.1);
    expect(spread).toBeLessThan(1e-4);
  });
});
