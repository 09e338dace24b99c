/**
 * Browser mode's server for benchmarks: `serve.ts` as its own process on 127.0.0.1 with the fake
 * engine (so the figures measure the app, not a model), and clients that talk to it over the real
 * WebSocket transport.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import WebSocket from 'ws';
import { FAKE_ENGINE_FILE } from '../../src/main/app/engine/fake-engine';
import { createClient, type AppClient } from '../../src/shared/contract/client';
import { createWsTransport, type WebSocketLike } from '../../src/shared/contract/ws-transport';

export interface FakeServer {
  process: ChildProcessByStdio<null, Readable, null>;
  port: number;
  token: string;
}

/** Starts the server in `work` (a model folder for the fake engine, an empty renderer, a config). */
export async function startFakeServer(work: string, options: { loadModel: boolean }): Promise<FakeServer> {
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
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const address = await new Promise<URL>((found, failed) => {
    let text = '';
    server.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const match = /Open (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/.exec(text);
      if (match) found(new URL(match[1]!));
    });
    server.once('exit', (code) => failed(new Error(`the server exited (${code})`)));
  });
  return { process: server, port: Number(address.port), token: address.searchParams.get('token')! };
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
