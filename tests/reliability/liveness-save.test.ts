/**
 * Liveness while a large picture is saved and exported in browser mode: the server (serve.ts with
 * the fake engine, its own process) holds a 12 MP picture with three edit layers; while it builds
 * the project download and the PSD, another client (its own process too, so the bytes this test
 * receives cannot delay it) calls `app.info` every 10 ms. Asserted, as in liveness.test.ts: the
 * server's event loop is held at most 100 ms (p99 over each of the two), in the main thread's own
 * CPU time (tests/support/event-loop-delay.ts), so the encoder thread and other tests' load do not
 * count; the probe's waits (the issue's measure) are printed beside it.
 * The PSD is then read back with ag-psd and compared with the pixels the app shows, and the project
 * with the project loader. Traffic stays on 127.0.0.1.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProject } from '../../src/main/document/project-file';
import type { AppClient } from '../../src/shared/contract/client';
import { photoLikePixels, runEdit, type BrowserServer } from '../support/browser-server';
import {
  measure,
  percentile,
  startLivenessRig,
  type Liveness,
  type LivenessRig,
  type Probe,
} from '../support/liveness';
import { readPsdPixels } from '../support/psd-reader';

const WIDTH = 4240;
const HEIGHT = 2830; // 12 MP
const LIVENESS_P99_MS = 100;

async function decodePng(png: Uint8Array): Promise<Uint8Array> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  expect([info.width, info.height, info.channels]).toEqual([WIDTH, HEIGHT, 3]);
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

/** RGB of pixel (x, y) in RGB or RGBA data. */
function rgbAt(data: ArrayLike<number>, x: number, y: number, channels: 3 | 4): number[] {
  const i = (y * WIDTH + x) * channels;
  return [data[i]!, data[i + 1]!, data[i + 2]!];
}

const SAMPLES: [number, number][] = [
  [0, 0],
  [WIDTH - 1, 0],
  [1234, 567],
  [WIDTH >> 1, HEIGHT >> 1],
  [17, HEIGHT - 1],
  [WIDTH - 1, HEIGHT - 1],
];

describe('liveness while a large project is saved and exported (browser mode)', () => {
  let server: BrowserServer;
  let client: AppClient;
  let probe: Probe;
  let rig: LivenessRig;
  const picture = photoLikePixels(WIDTH, HEIGHT, 7);

  beforeAll(async () => {
    rig = await startLivenessRig('liveness-save');
    ({ server, client, probe } = rig);
  }, 60_000);

  afterAll(async () => {
    await rig?.close();
  });

  it('keeps its event loop free (held ≤ 100 ms, p99) and writes a PSD and a project that read back right', async () => {
    await rig.openPicture(picture, WIDTH, HEIGHT);
    for (const [seed, instruction] of ['make it red', 'make it blue', 'make it green'].entries()) {
      await runEdit(client, instruction, seed);
    }
    const view = await client.call('document.get', {});
    const editLayers = view!.layers.filter((layer) => layer.kind === 'edit');
    expect(editLayers.map((layer) => layer.name)).toHaveLength(3);

    const savedRun = await measure(server, probe, () => client.call('project.saveBytes', {}));
    const psdRun = await measure(server, probe, () => client.call('export.bytes', { format: 'psd' }));
    const summary = (what: string, run: Liveness<{ bytes: Uint8Array }>) => {
      const size = run.outcome.ok
        ? `${(run.outcome.value.bytes.length / 1024 ** 2).toFixed(1)} MB`
        : 'failed';
      return (
        `${what} (${size}): server loop held p99 ${run.loop.busy.p99.toFixed(0)} ms, max ` +
        `${run.loop.busy.max.toFixed(0)} ms; app.info ${run.waits.length} calls, p50 ` +
        `${percentile(run.waits, 50).toFixed(1)} ms, p99 ${run.p99.toFixed(1)} ms, max ${run.max.toFixed(1)} ms`
      );
    };
    console.info(summary('the project download', savedRun));
    console.info(summary('the PSD export', psdRun));
    if (!savedRun.outcome.ok) throw savedRun.outcome.error;
    if (!psdRun.outcome.ok) throw psdRun.outcome.error;
    const saved = { value: savedRun.outcome.value };
    const psd = { value: psdRun.outcome.value };

    // The PSD, read back by ag-psd: the source as background and the three edit layers, their pixels
    // those the app shows for each layer, and the composite that of the top layer (opaque, normal).
    const read = readPsdPixels(psd.value.bytes);
    expect([read.width, read.height]).toEqual([WIDTH, HEIGHT]);
    expect(read.children?.map((layer) => layer.name)).toEqual([
      'photo.png',
      ...editLayers.map((l) => l.name),
    ]);
    const layerPixels = [picture];
    for (const layer of editLayers) {
      const image = await client.call('document.layerImage', { layerId: layer.id, what: 'pixels' });
      layerPixels.push(await decodePng(image.png));
    }
    for (const [index, layer] of (read.children ?? []).entries()) {
      const data = layer.imageData!.data;
      for (const [x, y] of SAMPLES) {
        expect([index, x, y, rgbAt(data, x, y, 4)]).toEqual([
          index,
          x,
          y,
          rgbAt(layerPixels[index]!, x, y, 3),
        ]);
      }
    }
    // The edits changed the picture (each layer differs from the source where sampled).
    expect(rgbAt(layerPixels[3]!, 1234, 567, 3)).not.toEqual(rgbAt(picture, 1234, 567, 3));
    for (const [x, y] of SAMPLES) {
      expect(rgbAt(read.imageData!.data, x, y, 4)).toEqual(rgbAt(layerPixels[3]!, x, y, 3));
    }

    // The project download opens again, with the same layers and the source's pixels.
    const project = await loadProject(saved.value.bytes);
    expect(project.doc.order).toHaveLength(3);
    const base = await project.store.getRgb(project.doc.base.pixels);
    for (const [x, y] of SAMPLES) expect(rgbAt(base.data, x, y, 3)).toEqual(rgbAt(picture, x, y, 3));

    for (const [what, run] of [
      ['project download', savedRun],
      ['PSD export', psdRun],
    ] as const) {
      expect(run.waits.length, `${what}: app.info calls answered`).toBeGreaterThan(10);
      expect(run.loop.busy.p99, `${what}: server event loop held, p99 (ms)`).toBeLessThanOrEqual(
        LIVENESS_P99_MS,
      );
    }
  }, 240_000);
});
