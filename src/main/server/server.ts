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
import {
  decodeWire,
  encodeWireParts,
  frameFromData,
  largestMessageBytes,
  PieceAssembler,
  WIRE_LIMITS,
  type WireLimits,
  type WireMessage,
} from '../../shared/contract/wire';
import { UNAUTHORIZED_CODE } from '../../shared/contract/ws-transport';
import type { Dispatcher } from '../app/dispatcher';
import type { EventBus } from '../app/event-bus';
import { serveStatic } from './static-files';

export const UNAUTHORIZED_CLOSE_CODE = UNAUTHORIZED_CODE;
const LOOPBACK = '127.0.0.1';
/** How long one turn of a connection's outbox may write messages for. */
const DRAIN_TURN_MS = 4;
/** Drop progress previews for a client that is this far behind (it gets the next one). */
const MAX_BUFFERED_FOR_PROGRESS = 8 * 1024 * 1024;
const MAX_WAITING_FOR_PROGRESS = 16;
/** Close codes (RFC 6455): a frame that is not this protocol's, and one over the size limit. */
const INVALID_FRAME_CODE = 1007;
const TOO_BIG_CODE = 1009;

/** Sent with every HTTP answer, errors included. */
export function securityHeaders(port: number): Record<string, string> {
  return {
    'Content-Security-Policy': contentSecurityPolicy(port),
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'X-Frame-Options': 'DENY',
  };
}

export interface ServerOptions {
  dispatcher: Dispatcher;
  bus: EventBus;
  /** The built renderer (index.html and assets). */
  rendererDir: string;
  port?: number;
  token?: string;
  /** Tests: smaller frame limits. */
  wireLimits?: WireLimits;
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

function joinFragments(data: unknown): unknown {
  return Array.isArray(data) ? Buffer.concat(data as Buffer[]) : data;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const token = options.token ?? newToken();
  let port = options.port ?? 0;
  // ws buffers, joins and unmasks each received message in one go on the event loop, so no message
  // may be large: a big upload comes as pieces (wire.ts). A message over one piece (or one text
  // frame) is refused at its frame header, before it is buffered: ws closes with 1009.
  const wireLimits = options.wireLimits ?? WIRE_LIMITS;
  const wss = new WebSocketServer({ noServer: true, maxPayload: largestMessageBytes(wireLimits) });
  const sockets = new Set<WebSocket>();

  const server = createServer((request, response) => {
    const hosts = allowedHosts(port);
    const headers = securityHeaders(port);
    if (!hosts.has(request.headers.host ?? '')) {
      response.writeHead(421, { ...headers, 'Content-Type': 'text/plain' }).end('Wrong host');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { ...headers, Allow: 'GET, HEAD' }).end();
      return;
    }
    const url = new URL(request.url ?? '/', `http://${LOOPBACK}:${port}`);
    void serveStatic(options.rendererDir, url.pathname, response, headers);
  });

  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const hosts = allowedHosts(port);
    const url = new URL(request.url ?? '/', `http://${LOOPBACK}:${port}`);
    const origin = request.headers.origin;
    const originOk = origin === undefined || [...hosts].some((host) => origin === `http://${host}`);
    if (url.pathname !== WS_PATH || !hosts.has(request.headers.host ?? '') || !originOk) {
      const lines = Object.entries(securityHeaders(port)).map(([name, value]) => `${name}: ${value}\r\n`);
      socket.end(`HTTP/1.1 403 Forbidden\r\nConnection: close\r\n${lines.join('')}\r\n`);
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

  /** An event's encoding, shared by every connection it is sent to (a document view is large). */
  const encodedEvents = new WeakMap<object, { name: string; parts: string | Uint8Array[] }>();
  const encodeEvent = (message: WireMessage & { type: 'event' }): string | Uint8Array[] => {
    const { name, payload } = message;
    if (payload === null || typeof payload !== 'object') return encodeWireParts(message);
    const known = encodedEvents.get(payload);
    if (known && known.name === name) return known.parts;
    const parts = encodeWireParts(message);
    encodedEvents.set(payload, { name, parts });
    return parts;
  };

  const accept = (ws: WebSocket) => {
    sockets.add(ws);
    const write = (message: WireMessage) => {
      if (ws.readyState !== ws.OPEN) return;
      const parts = message.type === 'event' ? encodeEvent(message) : encodeWireParts(message);
      if (typeof parts === 'string') {
        ws.send(parts);
        return;
      }
      // One binary message written as fragments: the bytes are never copied into a joined frame.
      parts.forEach((part, index) => ws.send(part, { binary: true, fin: index === parts.length - 1 }));
    };
    // Messages leave in order, in turns of the event loop of at most a few ms each: encoding a large
    // document view (for every change, and again as the call's answer) does not hold up other
    // calls, and small answers do not wait one turn each (while a long job works in slices, a turn
    // can take tens of ms, and a queue of one answer per turn grew to over half a second).
    const outbox: WireMessage[] = [];
    const drain = () => {
      const started = performance.now();
      do {
        const message = outbox.shift();
        if (message) write(message);
      } while (outbox.length > 0 && performance.now() - started < DRAIN_TURN_MS);
      if (outbox.length > 0) setImmediate(drain);
    };
    const send = (message: WireMessage) => {
      outbox.push(message);
      if (outbox.length === 1) setImmediate(drain);
    };
    const unsubscribe = options.bus.subscribe((name, payload) => {
      // A client this far behind (in the socket, or messages still waiting their turn) gets the next one.
      const behind =
        ws.bufferedAmount > MAX_BUFFERED_FOR_PROGRESS || outbox.length > MAX_WAITING_FOR_PROGRESS;
      if (name === 'job.progress' && behind) return;
      send({ type: 'event', name, payload });
    });
    const refuse = (id: number | null, message: string) =>
      send({ type: 'result', id, ok: false, error: { code: 'bad-request', message } });
    /** Decodes and dispatches one whole frame; `refusal`: refuse it (with its id) instead of running it. */
    const handle = (frame: string | Uint8Array, refusal?: string) => {
      const decoded = decodeWire(frame, wireLimits);
      if (!decoded.ok && decoded.kind === 'unreadable') {
        ws.close(decoded.tooLarge ? TOO_BIG_CODE : INVALID_FRAME_CODE, decoded.reason.slice(0, 120));
        return;
      }
      if (!decoded.ok) {
        refuse(decoded.id, `Invalid message: ${decoded.reason}`);
        return;
      }
      const { type, id, name, payload } = decoded.message as Record<string, unknown>;
      const readId = typeof id === 'number' && Number.isSafeInteger(id) ? id : null;
      if (refusal) {
        refuse(readId, `Invalid message: ${refusal}`);
        return;
      }
      if (type !== 'call' || readId === null) {
        refuse(readId, 'Invalid message: expected {"type":"call","id":<integer>,"name":…,"payload":…}');
        return;
      }
      void options.dispatcher.dispatch(name, payload).then((result) => {
        send(
          result.ok
            ? { type: 'result', id: readId, ok: true, value: result.value }
            : { type: 'result', id: readId, ok: false, error: result.error },
        );
      });
    };
    const pieces = new PieceAssembler(wireLimits);
    ws.on('message', (data, isBinary) => {
      const received = isBinary ? frameFromData(joinFragments(data)) : data.toString();
      if (received === null) {
        ws.close(INVALID_FRAME_CODE, 'unreadable frame');
        return;
      }
      const step = pieces.accept(received);
      if (step.kind === 'frame') handle(step.frame);
      else if (step.kind === 'refused') {
        refuse(step.id, `Invalid message: ${step.reason}`);
        if (step.interrupting !== undefined)
          handle(step.interrupting, 'it came in the middle of another message’s pieces');
      }
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
