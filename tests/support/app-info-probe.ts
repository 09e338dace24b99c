/**
 * A second browser-mode client for liveness tests and benchmarks, run as its own process so the work
 * of the client that sends the inputs cannot delay it: between "start" and "stop" lines on stdin it
 * sends `app.info` every 10 ms whether or not earlier calls were answered (so a stalled server shows
 * as many long waits, not as one), and after "stop" prints each call's wait in ms (from when it was
 * sent to its answer) as one JSON line.
 *
 *   node --import tsx tests/support/app-info-probe.ts PORT TOKEN
 */
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { createClient } from '../../src/shared/contract/client';
import { createWsTransport, type WebSocketLike } from '../../src/shared/contract/ws-transport';

const INTERVAL_MS = 10;
const [port, token] = process.argv.slice(2);
const client = createClient(
  createWsTransport({
    baseUrl: `http://127.0.0.1:${port}`,
    token: token ?? '',
    createSocket: (url) => new WebSocket(url) as unknown as WebSocketLike,
  }),
);

let timer: NodeJS.Timeout | null = null;
let calls: Promise<number>[] = [];

function start(): void {
  calls = [];
  const first = performance.now();
  let sent = 0;
  const tick = () => {
    // Calls are due on a fixed schedule; when this process itself ran late, the overdue ones go
    // out now and are timed from now (this process's delays are not the server's).
    while (first + sent * INTERVAL_MS <= performance.now()) {
      const sentAt = performance.now();
      calls.push(client.call('app.info', {}).then(() => performance.now() - sentAt));
      sent++;
    }
  };
  tick();
  timer = setInterval(tick, INTERVAL_MS);
}

async function stop(): Promise<number[]> {
  if (timer) clearInterval(timer);
  timer = null;
  return Promise.all(calls);
}

async function main(): Promise<void> {
  await client.call('app.info', {});
  process.stdout.write('ready\n');
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'start' && !timer) start();
    else if (line === 'stop') process.stdout.write(`${JSON.stringify(await stop())}\n`);
    else if (line === 'quit') break;
  }
  client.close();
}

void main();
