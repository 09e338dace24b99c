/**
 * Liveness under hostile input, browser mode: while one client sends each hostile input, another
 * calls `app.info` every 10 ms; prints p50 / p99 / max of its waits and how the input was answered.
 * The server runs in its own process; all traffic stays on 127.0.0.1. Not a test: the figures
 * depend on the machine's load (see README, Reliability).
 *
 *   npm run bench:liveness
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { strFromU8, strToU8, unzipSync, zipSync, type Zippable } from 'fflate';
import sharp from 'sharp';
import WebSocket from 'ws';
import { connectClient, startFakeServer } from './support/fake-server';
import { encodeProject } from '../src/main/document/project-file';
import { PixelStore, sha256Hex } from '../src/main/document/pixel-store';
import { LIMITS } from '../src/shared/contract/limits';
import { encodeWire } from '../src/shared/contract/wire';
import type { DocumentRecord, Layer } from '../src/shared/document';

const work = mkdtempSync(join(tmpdir(), 'liveness-bench-'));

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** A project of `layers` edit layers that all share one small picture (a small file, many records). */
async function manyLayerProject(layers: number): Promise<Uint8Array> {
  const store = new PixelStore();
  const side = 64;
  const pixels = store.putRgb({ width: side, height: side, data: new Uint8Array(side * side * 3).fill(90) });
  const request = {
    instruction: 'make it red',
    steps: 20,
    textGuidance: 7.5,
    imageGuidance: 1.5,
    seed: 1,
    scheduler: 'euler-ancestral' as const,
    resolution: '512' as const,
    model: { id: 'bench', version: 'bench' },
    placement: 'delta' as const,
  };
  const record: Record<string, Layer> = {};
  const order: string[] = [];
  for (let i = 0; i < layers; i++) {
    const id = `L${i}`;
    order.push(id);
    record[id] = {
      id,
      kind: 'edit',
      name: `Layer ${i}`,
      visible: true,
      opacity: 1,
      blendMode: 'normal',
      mask: null,
      request,
      variants: [
        {
          id: 'v1',
          request,
          pixels,
          result: pixels,
          source: pixels,
          sourceParts: ['base'],
          processedWidth: side,
          processedHeight: side,
          createdAt: 1,
          durationMs: 1,
        },
      ],
      activeVariantId: 'v1',
      failure: null,
      status: { state: 'fresh', reason: null },
      createdAt: 1,
    };
  }
  const doc: DocumentRecord = {
    id: 'doc-bench',
    width: side,
    height: side,
    createdAt: 1,
    base: { id: 'base', name: 'base.png', pixels, origin: { fileName: null, format: 'png', notices: [] } },
    layers: record,
    order,
  };
  return encodeProject(doc, store);
}

/** A valid small project whose first PNG entry is replaced by 64 MiB of zeros (deflates to ~64 KB). */
async function zipBombProject(): Promise<Uint8Array> {
  const entries = unzipSync(await manyLayerProject(1));
  const manifest = JSON.parse(strFromU8(entries['project.json']!)) as {
    pixels: Record<string, { file: string; bytes: number; sha256: string }>;
  };
  const entry = Object.values(manifest.pixels)[0]!;
  const bomb = new Uint8Array(64 * 1024 * 1024);
  entries[entry.file] = bomb;
  entry.bytes = bomb.length;
  entry.sha256 = sha256Hex(bomb);
  entries['project.json'] = strToU8(JSON.stringify(manifest));
  return zipSync(entries as Zippable, { level: 9 });
}

/** The project with one more layer in its manifest (over the layer limit; the app cannot write it). */
function addOneLayer(project: Uint8Array): Uint8Array {
  const entries = unzipSync(project);
  const manifest = JSON.parse(strFromU8(entries['project.json']!)) as {
    document: { layers: { id: string }[] };
  };
  const layers = manifest.document.layers;
  layers.push({ ...layers[0]!, id: 'one-too-many' });
  entries['project.json'] = strToU8(JSON.stringify(manifest));
  return zipSync(entries as Zippable, { level: 0 });
}

/** Sends a raw frame on its own connection; resolves with the answer's gist or the close code. */
function rawFrame(port: number, token: string, frame: string | Uint8Array): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api?token=${token}`);
    ws.on('open', () => ws.send(frame));
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? '' : data.toString();
      if (text.includes('"result"')) {
        resolve(text.slice(0, 90));
        ws.close();
      }
    });
    ws.on('close', (code) => resolve(`closed ${code}`));
    ws.on('error', () => undefined);
  });
}

async function main(): Promise<void> {
  const { process: server, port, token } = await startFakeServer(work, { loadModel: false });
  const attacker = connectClient(port, token);
  const prober = spawn(
    process.execPath,
    ['--import', 'tsx', 'bench/liveness-probe.ts', String(port), token],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const proberLines: string[] = [];
  const lineWaiters: ((line: string) => void)[] = [];
  let pending = '';
  prober.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      const waiter = lineWaiters.shift();
      if (waiter) waiter(line);
      else proberLines.push(line);
    }
  });
  const nextLine = () =>
    new Promise<string>((resolve) => {
      const line = proberLines.shift();
      if (line !== undefined) resolve(line);
      else lineWaiters.push(resolve);
    });
  await nextLine(); // ready
  const outcome = async (call: () => Promise<unknown>): Promise<string> => {
    try {
      await call();
      return 'ok';
    } catch (error) {
      return `${(error as { code?: string }).code ?? 'error'}: ${String((error as Error).message).slice(0, 70)}`;
    }
  };

  // Every input is built before the measurements start.
  const bomb = await zipBombProject();
  const tall = await manyLayerProject(LIMITS.layers);
  const taller = addOneLayer(tall);
  const bigFrame = encodeWire({
    type: 'call',
    id: 1,
    name: 'app.info',
    payload: { x: new Uint8Array(200 * 1024 ** 2) },
  });
  const deep = `{"type":"call","id":2,"name":"app.info","payload":${'['.repeat(1e6)}${']'.repeat(1e6)}}`;
  const invalid = `{${'x'.repeat(4 * 1024 * 1024 - 10)}`;
  const picture = await sharp({ create: { width: 3000, height: 2000, channels: 3, background: '#468' } })
    .png()
    .toBuffer();
  const cases: [string, () => Promise<string>][] = [
    [
      'zip bomb project (64 MiB entry)',
      async () =>
        outcome(async () => attacker.call('document.openBytes', { name: 'bomb.iedit', bytes: bomb })),
    ],
    [
      `project with ${LIMITS.layers} layers: open`,
      async () =>
        outcome(async () => attacker.call('document.openBytes', { name: 'tall.iedit', bytes: tall })),
    ],
    [
      `${LIMITS.layers} layers: hide the bottom one`,
      () => outcome(() => attacker.call('layer.update', { layerId: 'L0', visible: false })),
    ],
    [
      `project with ${LIMITS.layers + 1} layers`,
      async () =>
        outcome(async () => attacker.call('document.openBytes', { name: 'taller.iedit', bytes: taller })),
    ],
    ['200 MB of bytes sent to app.info', () => rawFrame(port, token, bigFrame)],
    ['1,000,000-deep nesting', () => rawFrame(port, token, deep)],
    ['invalid JSON (4 MB)', () => rawFrame(port, token, invalid)],
    [
      '6 MP picture: open',
      () => outcome(() => attacker.call('document.openBytes', { name: 'p.png', bytes: picture })),
    ],
    ['6 MP picture: project.saveBytes', () => outcome(() => attacker.call('project.saveBytes', {}))],
    ['6 MP picture: export.bytes PSD', () => outcome(() => attacker.call('export.bytes', { format: 'psd' }))],
  ];
  console.log('input | answer | took | app.info calls | p50 | p99 | max');
  try {
    for (const [label, run] of cases) {
      prober.stdin.write('start\n');
      // Let the probe take a few samples at rest first.
      await new Promise((done) => setTimeout(done, 100));
      const t0 = performance.now();
      const answer = await run();
      const took = performance.now() - t0;
      prober.stdin.write('stop\n');
      const latencies = JSON.parse(await nextLine()) as number[];
      console.log(
        [
          label,
          answer,
          `${took.toFixed(0)} ms`,
          latencies.length,
          `${percentile(latencies, 50).toFixed(1)} ms`,
          `${percentile(latencies, 99).toFixed(1)} ms`,
          `${Math.max(...latencies).toFixed(1)} ms`,
        ].join(' | '),
      );
    }
  } finally {
    attacker.close();
    prober.stdin.write('quit\n');
    server.kill('SIGTERM');
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  rmSync(work, { recursive: true, force: true });
  process.exit(1);
});
