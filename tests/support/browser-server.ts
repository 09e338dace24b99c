/**
 * Browser mode's server with the fake engine, for tests and benchmarks: `serve.ts` as its own process
 * on 127.0.0.1 (so the figures measure the app, not a model), clients that talk to it over the real
 * WebSocket transport, and the few steps that put a document into it. With `measureLoopDelay`, the
 * server also loads tests/support/event-loop-delay.ts and gets an IPC channel to start and stop it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import WebSocket from 'ws';
import { FAKE_ENGINE_FILE } from '../../src/main/app/engine/fake-engine';
import { createClient, type AppClient } from '../../src/shared/contract/client';
import { createWsTransport, type WebSocketLike } from '../../src/shared/contract/ws-transport';
import type { LoopDelayReport } from './event-loop-delay';

const ROOT = resolve(__dirname, '../..');

export interface BrowserServerOptions {
  /** Starts with the fake model loaded (`--model`). */
  loadModel?: boolean;
  /** Loads tests/support/event-loop-delay.ts into the server, driven over an IPC channel. */
  measureLoopDelay?: boolean;
}

export interface BrowserServer {
  process: ChildProcess;
  port: number;
  token: string;
  /** The server's event-loop delay between start and stop (ms); needs `measureLoopDelay`. */
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

/** Starts the server in `work` (a model folder for the fake engine, an empty renderer, a config). */
export async function startBrowserServer(
  work: string,
  options: BrowserServerOptions = {},
): Promise<BrowserServer> {
  const modelDir = join(work, 'model');
  const rendererDir = join(work, 'renderer');
  for (const dir of [modelDir, rendererDir]) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
  }
  writeFileSync(join(modelDir, FAKE_ENGINE_FILE), JSON.stringify({ stepDelayMs: 1 }));
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html>');
  const server = spawn(
    process.execPath,
    [
      // tsx as a loader (not its CLI, which would run the server in a grandchild): the pid is the server's.
      '--import',
      'tsx',
      ...(options.measureLoopDelay ? ['--import', './tests/support/event-loop-delay.ts'] : []),
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
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit', ...(options.measureLoopDelay ? (['ipc'] as const) : [])],
    },
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
  const needLoopDelay = () => {
    if (!options.measureLoopDelay) throw new Error('the server was started without measureLoopDelay');
  };
  return {
    process: server,
    port: Number(address.port),
    token: address.searchParams.get('token')!,
    async startLoopDelay() {
      needLoopDelay();
      const started = nextMessage(server, 'loop-delay-started');
      server.send('loop-delay:start');
      await started;
    },
    async stopLoopDelay() {
      needLoopDelay();
      const report = nextMessage<LoopDelayReport>(server, 'loop-delay');
      server.send('loop-delay:stop');
      return report;
    },
    close: () => stopChild(server, () => server.kill('SIGTERM')),
  };
}

/** Asks a child to end; kills it when it has not ended within 10 s. */
export async function stopChild(child: ChildProcess, ask: () => void): Promise<void> {
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

/** Waits until the server's model is loaded. */
export async function waitForModel(client: AppClient): Promise<void> {
  while ((await client.call('model.status', {})).state !== 'ready')
    await new Promise((r) => setTimeout(r, 50));
}

/** Runs one edit of the open document with the fake engine (2 steps, native size) to its end. */
export async function runEdit(client: AppClient, instruction: string, seed: number): Promise<void> {
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

/** A photo-like picture, RGB: smooth gradients with a little noise (compresses like a photo, not like noise). */
export function photoLikePixels(width: number, height: number, seed: number): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const noise = (seed >> 16) & 7;
      const i = (y * width + x) * 3;
      data[i] = ((x * 255) / width + noise) & 255;
      data[i + 1] = ((y * 255) / height + noise) & 255;
      data[i + 2] = (((x + y) * 127) / (width + height) + 64 + noise) & 255;
    }
  }
  return data;
}
