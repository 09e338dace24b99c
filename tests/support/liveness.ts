/**
 * Liveness measurement for browser mode: the server (tests/support/browser-server.ts, started with
 * `measureLoopDelay`), a probe process whose client calls `app.info` every 10 ms on a fixed schedule
 * (tests/support/app-info-probe.ts), and the server's own event-loop delay
 * (tests/support/event-loop-delay.ts, loaded into it). `measure` runs one piece of work from another
 * client and gives both: what the probe waited (the definition: p99 of `app.info` waits over
 * the run) and how late the server's event loop ran meanwhile.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import type { AppClient } from '../../src/shared/contract/client';
import {
  connectClient,
  startBrowserServer,
  stopChild,
  waitForModel,
  type BrowserServer,
} from './browser-server';
import type { LoopDelayReport } from './event-loop-delay';

const ROOT = resolve(__dirname, '../..');

export interface Probe {
  start(): void;
  /** The waits (ms) of every app.info call since start. */
  stop(): Promise<number[]>;
  close(): Promise<void>;
}

/** The other client, in its own process (tests/support/app-info-probe.ts). */
export async function startProbe(port: number, token: string): Promise<Probe> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'tests/support/app-info-probe.ts', String(port), token],
    { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines: string[] = [];
  const waiters: ((line: string) => void)[] = [];
  let pending = '';
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      const waiter = waiters.shift();
      if (waiter) waiter(line);
      else lines.push(line);
    }
  });
  const nextLine = () =>
    new Promise<string>((found) => {
      const line = lines.shift();
      if (line !== undefined) found(line);
      else waiters.push(found);
    });
  if ((await nextLine()) !== 'ready') throw new Error('the probe did not start');
  return {
    start: () => child.stdin.write('start\n'),
    stop: async () => {
      child.stdin.write('stop\n');
      return JSON.parse(await nextLine()) as number[];
    },
    close: () => stopChild(child, () => child.stdin.end('quit\n')),
  };
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

export interface Liveness<T> {
  /** What the work gave (or threw). */
  outcome: { ok: true; value: T } | { ok: false; error: unknown };
  /** app.info waits seen by the probe (ms). */
  waits: number[];
  p99: number;
  max: number;
  /** The server's own event-loop delay meanwhile. */
  loop: LoopDelayReport;
}

/** Runs `work` while the probe calls app.info and the server's event-loop delay is measured. */
export async function measure<T>(
  server: BrowserServer,
  probe: Probe,
  work: () => Promise<T>,
): Promise<Liveness<T>> {
  await server.startLoopDelay();
  probe.start();
  // A few samples at rest first, and a few after, so a short piece of work is seen whole.
  await new Promise((done) => setTimeout(done, 50));
  let outcome: Liveness<T>['outcome'];
  try {
    outcome = { ok: true, value: await work() };
  } catch (error) {
    outcome = { ok: false, error };
  }
  await new Promise((done) => setTimeout(done, 50));
  const waits = await probe.stop();
  const loop = await server.stopLoopDelay();
  return { outcome, waits, p99: percentile(waits, 99), max: Math.max(...waits), loop };
}

/** A liveness test's setup: the server with the fake model and the loop-delay probe, a client, a probe. */
export interface LivenessRig {
  server: BrowserServer;
  client: AppClient;
  probe: Probe;
  /** Opens RGB pixels as a PNG picture (uploaded unmeasured) and waits for the model. */
  openPicture(pixels: Uint8Array, width: number, height: number): Promise<void>;
  close(): Promise<void>;
}

export async function startLivenessRig(name: string): Promise<LivenessRig> {
  const work = mkdtempSync(join(tmpdir(), `${name}-`));
  const server = await startBrowserServer(work, { loadModel: true, measureLoopDelay: true });
  const client = connectClient(server.port, server.token);
  const probe = await startProbe(server.port, server.token);
  return {
    server,
    client,
    probe,
    async openPicture(pixels, width, height) {
      const png = await sharp(pixels, { raw: { width, height, channels: 3 } })
        .png({ compressionLevel: 1 })
        .toBuffer();
      await client.call('document.openBytes', { name: 'photo.png', bytes: png });
      await waitForModel(client);
    },
    async close() {
      await probe.close();
      client.close();
      await server.close();
      rmSync(work, { recursive: true, force: true });
    },
  };
}
