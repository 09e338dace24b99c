/**
 * Liveness while a large picture is saved and exported in browser mode: the server (serve.ts with
 * the fake engine, its own process) holds a 12 MP picture with three edit layers; while it builds
 * the project download and the PSD, another client (its own process too, so the bytes this test
 * receives cannot delay it) calls `app.info` every 10 ms, on a fixed schedule (a stall shows as many
 * long waits, not one). Its p99 wait during each of the two must stay under 100 ms.
 * The PSD is then read back with ag-psd and compared with the pixels the app shows, and the project
 * with the project loader. Traffic stays on 127.0.0.1.
 *
 * On an oversubscribed machine (a load average over twice the cores), threads wait for a core for
 * longer than the bound whatever the server does: there waits over the bound are printed but not
 * asserted, and the test reports itself skipped after checking the files.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, startFakeServer, type FakeServer } from '../../bench/support/fake-server';
import { loadProject } from '../../src/main/document/project-file';
import type { AppClient } from '../../src/shared/contract/client';
import { readPsdPixels } from '../support/psd-reader';

const WIDTH = 4240;
const HEIGHT = 2830; // 12 MP
const LIVENESS_P99_MS = 100;
const OVERSUBSCRIBED = () => loadavg()[0]! > 2 * cpus().length;

/** A photo-like picture: gradients with a little noise. */
function picturePixels(): Uint8Array {
  const data = new Uint8Array(WIDTH * HEIGHT * 3);
  let seed = 7;
  for (let y = 0; y < HEIGHT; y++) {
    for (let x = 0; x < WIDTH; x++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const noise = (seed >> 16) & 7;
      const i = (y * WIDTH + x) * 3;
      data[i] = ((x * 255) / WIDTH + noise) & 255;
      data[i + 1] = ((y * 255) / HEIGHT + noise) & 255;
      data[i + 2] = (((x + y) * 127) / (WIDTH + HEIGHT) + 64 + noise) & 255;
    }
  }
  return data;
}

/** The other client: `start` / `stop` lines on stdin, the waits (ms) as one JSON line after each stop. */
class Prober {
  private readonly lines: string[] = [];
  private readonly waiters: ((line: string) => void)[] = [];

  constructor(private readonly child: ChildProcessWithoutNullStreams) {
    let pending = '';
    child.stdout.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        const waiter = this.waiters.shift();
        if (waiter) waiter(line);
        else this.lines.push(line);
      }
    });
  }

  static async start(port: number, token: string): Promise<Prober> {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'tests/support/app-info-probe.ts', String(port), token],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    const prober = new Prober(child);
    expect(await prober.nextLine()).toBe('ready');
    return prober;
  }

  nextLine(): Promise<string> {
    return new Promise((resolve) => {
      const line = this.lines.shift();
      if (line !== undefined) resolve(line);
      else this.waiters.push(resolve);
    });
  }

  /** `app.info` waits while `work` runs. */
  async during<T>(work: () => Promise<T>): Promise<{ value: T; waits: number[] }> {
    this.child.stdin.write('start\n');
    await new Promise((done) => setTimeout(done, 50));
    const value = await work();
    this.child.stdin.write('stop\n');
    return { value, waits: JSON.parse(await this.nextLine()) as number[] };
  }

  quit(): void {
    this.child.stdin.write('quit\n');
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

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
  let work: string;
  let server: FakeServer;
  let client: AppClient;
  let prober: Prober;
  const picture = picturePixels();

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'liveness-save-'));
    server = await startFakeServer(work, { loadModel: true });
    client = connectClient(server.port, server.token);
    prober = await Prober.start(server.port, server.token);
  }, 60_000);

  afterAll(() => {
    prober?.quit();
    client?.close();
    server?.process.kill('SIGTERM');
    rmSync(work, { recursive: true, force: true });
  });

  it('answers app.info within 100 ms (p99) and writes a PSD and a project that read back right', async (context) => {
    const png = await sharp(picture, { raw: { width: WIDTH, height: HEIGHT, channels: 3 } })
      .png({ compressionLevel: 1 })
      .toBuffer();
    await client.call('document.openBytes', { name: 'photo.png', bytes: png });
    while ((await client.call('model.status', {})).state !== 'ready')
      await new Promise((r) => setTimeout(r, 50));
    for (const [seed, instruction] of ['make it red', 'make it blue', 'make it green'].entries()) {
      const done = new Promise<void>((finished, failed) => {
        const off = client.on('job.updated', (event) => {
          if (event.status === 'done') {
            off();
            finished();
          } else if (event.status === 'failed' || event.status === 'cancelled') {
            off();
            failed(new Error(event.error ?? event.status));
          }
        });
      });
      await client.call('edit.enqueue', {
        settings: {
          instruction,
          steps: 2,
          textGuidance: 7.5,
          imageGuidance: 1.5,
          seed,
          scheduler: 'euler-ancestral',
          resolution: 'native',
        },
      });
      await done;
    }
    const view = await client.call('document.get', {});
    const editLayers = view!.layers.filter((layer) => layer.kind === 'edit');
    expect(editLayers.map((layer) => layer.name)).toHaveLength(3);

    const loadBefore = loadavg()[0]!;
    const saved = await prober.during(() => client.call('project.saveBytes', {}));
    const psd = await prober.during(() => client.call('export.bytes', { format: 'psd' }));
    const summary = (what: string, bytes: Uint8Array, waits: number[]) =>
      `app.info during ${what} (${(bytes.length / 1024 ** 2).toFixed(1)} MB): ${waits.length} calls, ` +
      `p50 ${percentile(waits, 50).toFixed(1)} ms, p99 ${percentile(waits, 99).toFixed(1)} ms, ` +
      `max ${Math.max(...waits).toFixed(1)} ms`;
    console.info(summary('the project download', saved.value.bytes, saved.waits));
    console.info(summary('the PSD export', psd.value.bytes, psd.waits));

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

    const worst = Math.max(percentile(saved.waits, 99), percentile(psd.waits, 99));
    if (worst > LIVENESS_P99_MS && (OVERSUBSCRIBED() || loadBefore > 2 * cpus().length)) {
      context.skip(
        `load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores: waits for a core alone exceed ${LIVENESS_P99_MS} ms`,
      );
    }
    for (const { waits } of [saved, psd]) {
      expect(waits.length).toBeGreaterThan(10);
      expect(percentile(waits, 99)).toBeLessThanOrEqual(LIVENESS_P99_MS);
    }
  }, 240_000);
});
