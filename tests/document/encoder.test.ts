/**
 * The encode worker's lifetime: it stays between small jobs, and stops once a large job is answered,
 * so that its copies of the job's images (garbage an idle isolate would not collect) are freed while
 * the result travels on; the next job starts a new worker.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { EncoderThread } from '../../src/main/document/encoder';

const encoder = new EncoderThread();
afterAll(() => encoder.dispose());

/** A flatten of `width`×`height` with one step blending a layer at half opacity. */
async function flattenJob(width: number, height: number, base: number, layer: number) {
  const n = width * height * 3;
  const done = await encoder.run(
    {
      kind: 'flatten',
      width,
      height,
      base: 0,
      steps: [{ pixels: 1, mask: null, opacity: 128, blendMode: 'normal' }],
    },
    [new Uint8Array(n).fill(base), new Uint8Array(n).fill(layer)],
  );
  if (done.kind !== 'flatten') throw new Error(`answered ${done.kind}`);
  return done.image;
}

describe('EncoderThread', () => {
  it('keeps its worker after a small job', async () => {
    const image = await flattenJob(64, 64, 0, 255);
    // 255 · 128/255 = 128
    expect([image.data[0], image.data.at(-1)]).toEqual([128, 128]);
    expect(encoder.running).toBe(true);
  });

  it('stops its worker once a large job is answered, and starts another for the next', async () => {
    // Two 36 MiB images: over the 64 MiB that counts as large.
    const image = await flattenJob(4096, 3072, 100, 200);
    expect(image.data.length).toBe(4096 * 3072 * 3);
    expect([image.data[0], image.data.at(-1)]).toEqual([150, 150]);
    expect(encoder.running).toBe(false);
    const next = await flattenJob(8, 8, 10, 20);
    expect(next.data[0]).toBe(15);
    expect(encoder.running).toBe(true);
  });
});
