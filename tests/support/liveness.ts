/**
 * Liveness measurement for browser mode: the server (`serve.ts` with the fake engine) in its own
 * process on 127.0.0.1, a probe process whose client calls `app.info` every 10 ms, and the server's
 * own event-loop delay (tests/support/event-loop-delay.ts, loaded into it). `measure` runs one piece
 * of work from another client and gives both: what the probe waited (the definition: p99 of
 * `app.info` waits over the run) and how late the server's event loop ran meanwhile.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import WebSocket from 'ws';
import { FAKE_ENGINE_FILE } from '../../src/main/app/engine/fake-engine';
import { createClient, type AppClient } from '../../src/shared/contract/client';
import { createWsTransport, type WebSocketLike } from '../../src/shared/contract/ws-transport';
import type { LoopDelayReport } from './event-loop-delay';

const ROOT = resolve(__dirname, '../..');

export interface LivenessServer {
  port: number;
  token: string;
  /** The server's event-loop delay between start and stop (ms). */
  startLoopDelay(): Promise<void>;
  stopLoopDelay(): Promise<LoopDelayReport>;
  close(): Promise<void>;
}

function nextMessage<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((found) => {
    const listener = (message: unknown) => {
      if ((message as { type?: string } | null)?.type !== type) return;
      child.off('message', listener);
      found(message as T);
    };
    child.on('message', listener);
  });
}

/** Starts browser mode's server in `work` (a fake model, an empty renderer, a config folder). */
export async function startLivenessServer(
  work: string,
  options: { loadModel?: boolean } = {},
): Promise<LivenessServer> {
  const modelDir = join(work, 'model');
  const rendererDir = join(work, 'renderer');
  mkdirSync(modelDir, { recursive: true });
  mkdirSync(rendererDir, { recursive: true });
  writeFileSync(join(modelDir, FAKE_ENGINE_FILE), JSON.stringify({ stepDelayMs: 1 }));
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html>');
  const server = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--import',
      './tests/support/event-loop-delay.ts',
      'src/main/server/serve.ts',
      '--engine',
      'fake',
      ...(options.loadModel ? ['--model', modelDir] : []),
      '--renderer',
      rendererDir,
      '--config',
      join(work, 'config'),
      '--autosave-seconds',
      '3600',
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit', 'ipc'] },
  );
  const address = await new Promise<URL>((found, failed) => {
    let text = '';
    server.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const match = /Open (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/.exec(text);
      if (match) found(new URL(match[1]!));
    });
    server.once('exit', (code) => failed(new Error(`the server exited (${code})`)));
  });
  return {
    port: Number(address.port),
    token: address.searchParams.get('token')!,
    async startLoopDelay() {
      const started = nextMessage(server, 'loop-delay-started');
      server.send('loop-delay:start');
      await started;
    },
    async stopLoopDelay() {
      const report = nextMessage<LoopDelayReport>(server, 'loop-delay');
      server.send('loop-delay:stop');
      return report;
    },
    close: () => stopChild(server, () => server.kill('SIGTERM')),
  };
}

/** Asks a child to end; kills it when it has not ended within 10 s. */
async function stopChild(child: ChildProcess, ask: () => void): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  ask();
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

export function connectClient(port: number, token: string): AppClient {
  return createClient(
    createWsTransport({
      baseUrl: `http://127.0.0.1:${port}`,
      token,
      createSocket: (url) => new WebSocket(url, { maxPayload: 4 * 1024 ** 3 }) as unknown as WebSocketLike,
    }),
  );
}

export interface Probe {
  start(): void;
  /** The waits (ms) of every app.info call since start. */
  stop(): Promise<number[]>;
  close(): Promise<void>;
}

/** The other client, in its own process (tests/support/liveness-probe.ts). */
export async function startProbe(port: number, token: string): Promise<Probe> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'tests/support/liveness-probe.ts', String(port), token],
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
  server: LivenessServer,
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
