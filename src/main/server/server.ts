/**
 * Browser mode: the same handlers as the desktop app behind a WebSocket, plus the built renderer
 * over HTTP, bound to 127.0.0.1. Every API connection must carry the random access token printed at
 * start; a connection without it is closed (code 4401) before any call is read. Host and Origin
 * headers are checked so another web site (or DNS rebinding) cannot reach the API.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { TOKEN_PARAM, WS_PATH } from '../../shared/contract/channels';
import { LIMITS } from '../../shared/contract/schemas';
import { decodeWire, encodeWire, type WireMessage } from '../../shared/contract/wire';
import { UNAUTHORIZED_CODE } from '../../shared/contract/ws-transport';
import type { Dispatcher } from '../app/dispatcher';
import type { EventBus } from '../app/event-bus';
import { serveStatic } from './static-files';

export const UNAUTHORIZED_CLOSE_CODE = UNAUTHORIZED_CODE;
const LOOPBACK = '127.0.0.1';
/** Drop progress previews for a client that is this far behind (it gets the next one). */
const MAX_BUFFERED_FOR_PROGRESS = 8 * 1024 * 1024;

export interface ServerOptions {
  dispatcher: Dispatcher;
  bus: EventBus;
  /** The built renderer (index.html and assets). */
  rendererDir: string;
  port?: number;
  token?: string;
}

export interface RunningServer {
  port: number;
  token: string;
  url: string;
  server: Server;
  close(): Promise<void>;
}

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

export function tokensEqual(given: string | null, expected: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function contentSecurityPolicy(port: number): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    `connect-src 'self' ws://${LOOPBACK}:${port} ws://localhost:${port}`,
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function allowedHosts(port: number): Set<string> {
  return new Set([`${LOOPBACK}:${port}`, `localhost:${port}`]);
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const token = options.token ?? newToken();
  let port = options.port ?? 0;
  const wss = new WebSocketServer({ noServer: true, maxPayload: LIMITS.uploadBytes * 1.4 + 1024 * 1024 });
  const sockets = new Set<WebSocket>();

  const server = createServer((request, response) => {
    const hosts = allowedHosts(port);
    if (!hosts.has(request.headers.host ?? '')) {
      response.writeHead(421, { 'Content-Type': 'text/plain' }).end('Wrong host');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405).end();
      return;
    }
    const url = new URL(request.url ?? '/', `http://${LOOPBACK}:${port}`);
    void serveStatic(options.rendererDir, url.pathname, response, {
      'Content-Security-Policy': contentSecurityPolicy(port),
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'X-Frame-Options': 'DENY',
    });
  });

  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const hosts = allowedHosts(port);
    const url = new URL(request.url ?? '/', `http://${LOOPBACK}:${port}`);
    const origin = request.headers.origin;
    const originOk = origin === undefined || [...hosts].some((host) => origin === `http://${host}`);
    if (url.pathname !== WS_PATH || !hosts.has(request.headers.host ?? '') || !originOk) {
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const authorized = tokensEqual(url.searchParams.get(TOKEN_PARAM), token);
    wss.handleUpgrade(request, socket, head, (ws) => {
      if (!authorized) {
        ws.close(UNAUTHORIZED_CLOSE_CODE, 'A valid access token is required');
        return;
      }
      accept(ws);
    });
  });

  const accept = (ws: WebSocket) => {
    sockets.add(ws);
    const send = (message: WireMessage) => {
      if (ws.readyState === ws.OPEN) ws.send(encodeWire(message));
    };
    const unsubscribe = options.bus.subscribe((name, payload) => {
      if (name === 'job.progress' && ws.bufferedAmount > MAX_BUFFERED_FOR_PROGRESS) return;
      send({ type: 'event', name, payload });
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let message: unknown;
      try {
        message = decodeWire(data.toString());
      } catch {
        return;
      }
      if (!message || typeof message !== 'object') return;
      const { type, id, name, payload } = message as Record<string, unknown>;
      if (type !== 'call' || typeof id !== 'number' || !Number.isSafeInteger(id)) return;
      void options.dispatcher.dispatch(name, payload).then((result) => {
        send(
          result.ok
            ? { type: 'result', id, ok: true, value: result.value }
            : { type: 'result', id, ok: false, error: result.error },
        );
      });
    });
    ws.on('close', () => {
      sockets.delete(ws);
      unsubscribe();
    });
    ws.on('error', () => undefined);
    send({ type: 'hello', mode: 'browser' });
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, LOOPBACK, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  const url = `http://${LOOPBACK}:${port}/?${TOKEN_PARAM}=${token}`;

  return {
    port,
    token,
    url,
    server,
    async close() {
      for (const ws of sockets) ws.terminate();
      wss.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
