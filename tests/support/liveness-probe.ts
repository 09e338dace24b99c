/**
 * The other client of a liveness measurement, in its own process so the work of the client that
 * sends the inputs cannot delay it: calls app.info every 10 ms between "start" and "stop" lines on
 * stdin and prints the waits (ms) as one JSON line after each "stop".
 *
 *   node --import tsx tests/support/liveness-probe.ts PORT TOKEN
 */
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { createClient } from '../../src/shared/contract/client';
import { createWsTransport, type WebSocketLike } from '../../src/shared/contract/ws-transport';

const [port, token] = process.argv.slice(2);
const client = createClient(
  createWsTransport({
    baseUrl: `http://127.0.0.1:${port}`,
    token: token ?? '',
    createSocket: (url) => new WebSocket(url) as unknown as WebSocketLike,
  }),
);
let running: Promise<number[]> | null = null;
let stopRequested = false;

async function probe(): Promise<number[]> {
  const waits: number[] = [];
  while (!stopRequested) {
    const started = performance.now();
    await client.call('app.info', {});
    waits.push(performance.now() - started);
    await new Promise((done) => setTimeout(done, 10));
  }
  return waits;
}

async function main(): Promise<void> {
  await client.call('app.info', {});
  process.stdout.write('ready\n');
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'start' && !running) {
      stopRequested = false;
      running = probe();
    } else if (line === 'stop' && running) {
      stopRequested = true;
      process.stdout.write(`${JSON.stringify(await running)}\n`);
      running = null;
    } else if (line === 'quit') {
      break;
    }
  }
  client.close();
}

void main();
