import { describe, expect, it } from 'vitest';
import type { TensorInfo } from '../../src/shared/engine-types';
import type { OnnxSession, TensorData } from '../../src/main/engine/backend';
import { fromFloat16 } from '../../src/main/engine/float16';
import { Unet } from '../../src/main/engine/models/unet';

const [H, W, SEQ, DIM] = [2, 3, 4, 5];

/**
 * A UNet session double that records its feeds and answers out_sample[b, c] = sample[b, c] +
 * 10·hidden[b, 0, 0] + timestep, so the row order of the assembled prediction is visible.
 */
function recordingUnet(type: 'float32' | 'float16'): {
  session: OnnxSession;
  feeds: Record<string, TensorData>[];
} {
  const feeds: Record<string, TensorData>[] = [];
  const inputs: TensorInfo[] = [
    { name: 'sample', type, shape: ['batch_size', 8, 'height', 'width'] },
    { name: 'timestep', type: 'float32', shape: ['batch_size'] },
    { name: 'encoder_hidden_states', type, shape: ['batch_size', 'sequence_length', DIM] },
  ];
  const read = (tensor: TensorData): Float32Array =>
    tensor.type === 'float16' ? fromFloat16(tensor.data as Uint16Array) : (tensor.data as Float32Array);
  const session: OnnxSession = {
    label: 'unet/model.onnx',
    inputs,
    outputs: [{ name: 'out_sample', type: 'float32', shape: ['batch_size', 4, 'height', 'width'] }],
    stats: { runs: 0, runMs: 0 },
    run(feed) {
      // Copies of what was fed, plus the feed objects themselves for identity checks.
      feeds.push(feed);
      const sample = read(feed.sample!);
      const hidden = read(feed.encoder_hidden_states!);
      const t = (feed.timestep!.data as Float32Array)[0]!;
      const batch = feed.sample!.dims[0]!;
      const plane = H * W;
      const out = new Float32Array(batch * 4 * plane);
      for (let b = 0; b < batch; b++)
        for (let i = 0; i < 4 * plane; i++)
          out[b * 4 * plane + i] = sample[b * 8 * plane + i]! + 10 * hidden[b * SEQ * DIM]! + t;
      return Promise.resolve({ out_sample: { type: 'float32', dims: [batch, 4, H, W], data: out } });
    },
    dispose: () => Promise.resolve(),
  };
  return { session, feeds };
}

function embedding(value: number): Float32Array {
  return new Float32Array(SEQ * DIM).fill(value);
}

function sampleFor(step: number): Float32Array {
  return Float32Array.from({ length: 3 * 8 * H * W }, (_, i) => (i % 17) * 0.25 - step);
}

describe('UNet conditioning is converted once per edit', () => {
  for (const type of ['float32', 'float16'] as const) {
    it(`${type}: all rows in one call reuse one hidden-states tensor and one sample buffer`, async () => {
      const { session, feeds } = recordingUnet(type);
      const unet = new Unet(session);
      const instruction = embedding(1);
      const empty = embedding(-2);
      const conditioning = unet.prepare([instruction, empty, empty], [SEQ, DIM], H, W, 3);
      const predictions: Float32Array[] = [];
      for (let step = 0; step < 3; step++)
        predictions.push(await unet.predict(sampleFor(step), conditioning, 100 + step));
      expect(feeds).toHaveLength(3);
      expect(feeds[1]!.encoder_hidden_states).toBe(feeds[0]!.encoder_hidden_states);
      expect(feeds[2]!.encoder_hidden_states).toBe(feeds[0]!.encoder_hidden_states);
      expect(feeds[0]!.encoder_hidden_states!.type).toBe(type);
      expect(feeds[0]!.encoder_hidden_states!.dims).toEqual([3, SEQ, DIM]);
      if (type === 'float16') {
        expect(feeds[0]!.encoder_hidden_states!.data).toBeInstanceOf(Uint16Array);
        // The float16 sample goes through one buffer, rewritten each step.
        expect(feeds[2]!.sample!.data).toBe(feeds[0]!.sample!.data);
      }
      // Row 0 carries the instruction (10·1), rows 1 and 2 the empty prompt (10·−2).
      const plane = 4 * H * W;
      const sample = sampleFor(2);
      expect(predictions[2]![0]).toBeCloseTo(sample[0]! + 10 + 102, 2);
      expect(predictions[2]![plane]).toBeCloseTo(sample[8 * H * W]! - 20 + 102, 2);
      expect(predictions[2]![2 * plane]).toBeCloseTo(sample[16 * H * W]! - 20 + 102, 2);
    });

    it(`${type}: rows in sequence give the same prediction, sharing the empty prompt's tensor`, async () => {
      const batched = recordingUnet(type);
      const sequential = recordingUnet(type);
      const instruction = embedding(0.5);
      const empty = embedding(3);
      const all = new Unet(batched.session).prepare([instruction, empty, empty], [SEQ, DIM], H, W, 3);
      const oneByOne = new Unet(sequential.session).prepare([instruction, empty, empty], [SEQ, DIM], H, W, 1);
      expect(oneByOne.calls).toHaveLength(3);
      const a = await new Unet(batched.session).predict(sampleFor(1), all, 500);
      const b = await new Unet(sequential.session).predict(sampleFor(1), oneByOne, 500);
      expect(sequential.feeds).toHaveLength(3);
      expect(sequential.feeds.map((feed) => feed.sample!.dims[0])).toEqual([1, 1, 1]);
      expect(sequential.feeds[2]!.encoder_hidden_states).toBe(sequential.feeds[1]!.encoder_hidden_states);
      expect(sequential.feeds[1]!.encoder_hidden_states).not.toBe(sequential.feeds[0]!.encoder_hidden_states);
      expect(Array.from(b)).toEqual(Array.from(a));
    });
  }

  it('refuses a batch outside 1..rows and a sample of the wrong size', async () => {
    const unet = new Unet(recordingUnet('float32').session);
    expect(() => unet.prepare([embedding(0), embedding(1)], [SEQ, DIM], H, W, 3)).toThrow(
      /batch 3 outside 1\.\.2/,
    );
    const conditioning = unet.prepare([embedding(0), embedding(1)], [SEQ, DIM], H, W, 2);
    await expect(unet.predict(new Float32Array(5), conditioning, 1)).rejects.toThrow(
      /holds 5 values, expected 96/,
    );
  });
});
