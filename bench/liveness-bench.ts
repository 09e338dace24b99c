/**
 * Liveness under hostile input, browser mode: while one client sends each hostile input, another
 * (tests/support/app-info-probe.ts) calls `app.info` every 10 ms on a fixed schedule; prints p50 / p99 / max of its waits and how the input was answered.
 * The server runs in its own process; all traffic stays on 127.0.0.1. Not a test: the figures
 * depend on the machine's load (see README, Reliability).
 *
 *   npm run bench:liveness
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { LIMITS } from '../src/shared/contract/limits';
import { encodeWire, encodeWireParts, wireMessages } from '../src/shared/contract/wire';
import { connectClient, startBrowserServer } from '../tests/support/browser-server';
import { manyLayerProject, rawFrame, withLayerCount, withZipBomb } from '../tests/support/hostile-inputs';
import { percentile, startProbe } from '../tests/support/liveness';

const work = mkdtempSync(join(tmpdir(), 'liveness-bench-'));

/** The answer's gist: its first characters, or the close code. */
async function rawAnswer(
  port: number,
  token: string,
  frame: string | Uint8Array | (string | Uint8Array)[],
): Promise<string> {
  return (await rawFrame(port, token, frame)).slice(0, 90);
}

async function main(): Promise<void> {
  const server = await startBrowserServer(work);
  const { port, token } = server;
  const attacker = connectClient(port, token);
  const prober = await startProbe(port, token);
  const outcome = async (call: () => Promise<unknown>): Promise<string> => {
    try {
      await call();
      return 'ok';
    } catch (error) {
      return `${(error as { code?: string }).code ?? 'error'}: ${String((error as Error).message).slice(0, 70)}`;
    }
  };

  // Every input is built before the measurements start.
  const bomb = withZipBomb(await manyLayerProject(1));
  const tall = await manyLayerProject(LIMITS.layers);
  const taller = withLayerCount(tall, LIMITS.layers + 1);
  const bigCall = { type: 'call', id: 1, name: 'app.info', payload: { x: new Uint8Array(200 * 1024 ** 2) } };
  // As a client sends it (4 MiB pieces), and as one message (refused at its header).
  const bigPieces = wireMessages(encodeWireParts(bigCall));
  const bigFrame = encodeWire(bigCall);
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
    ['200 MB of bytes sent to app.info, in pieces', () => rawAnswer(port, token, bigPieces)],
    ['200 MB of bytes sent to app.info, one message', () => rawAnswer(port, token, bigFrame)],
    ['1,000,000-deep nesting', () => rawAnswer(port, token, deep)],
    ['invalid JSON (4 MB)', () => rawAnswer(port, token, invalid)],
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
      prober.start();
      // Let the probe take a few samples at rest first.
      await new Promise((done) => setTimeout(done, 100));
      const t0 = performance.now();
      const answer = await run();
      const took = performance.now() - t0;
      const latencies = await prober.stop();
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
    await prober.close();
    await server.close();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  rmSync(work, { recursive: true, force: true });
  process.exit(1);
});
