/**
 * The browser-mode transport: a WebSocket to the local server, authenticated by the access token
 * in the URL. Reconnects after a drop; calls in flight when the connection drops fail with
 * 'disconnected' (the main side may or may not have run them, so they are not replayed).
 */
import { isEventName, TOKEN_PARAM, WS_PATH, type CallName, type EventName } from './channels';
import type { Transport } from './client';
import type { CallResult } from './errors';
import {
  decodeWire,
  encodeWireParts,
  frameFromData,
  WIRE_LIMITS,
  wireMessages,
  type WireLimits,
  type WireMessage,
} from './wire';

/** The subset of the WebSocket API used here (the DOM's WebSocket and the `ws` package both fit). */
export interface WebSocketLike {
  readonly readyState: number;
  /** Set to 'arraybuffer' so binary frames arrive as bytes (not Blobs) in a browser. */
  binaryType: string;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
}

export interface WsTransportOptions {
  /** e.g. http://127.0.0.1:5173 — the page's origin in a browser. */
  baseUrl: string;
  token: string;
  createSocket: (url: string) => WebSocketLike;
  reconnectDelayMs?: number;
  /** A message larger than this goes as pieces (wire.ts); the server's limit by default. */
  pieceBytes?: number;
}

const OPEN = 1;
/** What the client accepts from its own server: sizes unbounded (saves can be large), nesting bounded. */
const RECEIVE_LIMITS: WireLimits = {
  ...WIRE_LIMITS,
  jsonBytes: Number.MAX_SAFE_INTEGER,
  frameBytes: Number.MAX_SAFE_INTEGER,
};
/** The close code the server uses for a missing or wrong token. */
export const UNAUTHORIZED_CODE = 4401;
const UNAUTHORIZED_RESULT: CallResult = {
  ok: false,
  error: {
    code: 'unauthorized',
    message: 'The editor refused this page: open the address the server printed (with its token)',
  },
};

export function wsUrl(baseUrl: string, token: string): string {
  const url = new URL(WS_PATH, baseUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set(TOKEN_PARAM, token);
  return url.toString();
}

export function createWsTransport(options: WsTransportOptions): Transport {
  const url = wsUrl(options.baseUrl, options.token);
  const eventListeners = new Set<(name: EventName, payload: unknown) => void>();
  const connectionListeners = new Set<(connected: boolean) => void>();
  const pending = new Map<number, (result: CallResult) => void>();
  const waitingForOpen: (() => void)[] = [];
  let nextId = 1;
  let socket: WebSocketLike | null = null;
  let closed = false;
  let connected = false;
  let retryDelay = options.reconnectDelayMs ?? 500;

  const setConnected = (value: boolean) => {
    if (connected === value) return;
    connected = value;
    for (const listener of connectionListeners) listener(value);
  };

  const connect = () => {
    if (closed) return;
    const ws = options.createSocket(url);
    socket = ws;
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      retryDelay = options.reconnectDelayMs ?? 500;
      setConnected(true);
      for (const resume of waitingForOpen.splice(0)) resume();
    };
    ws.onmessage = (event) => {
      const frame = frameFromData(event.data);
      const decoded = frame === null ? null : decodeWire(frame, RECEIVE_LIMITS);
      if (!decoded?.ok) return;
      const message = decoded.message as WireMessage;
      if (message.type === 'result') {
        if (message.id === null) return;
        const resolve = pending.get(message.id);
        if (!resolve) return;
        pending.delete(message.id);
        resolve(
          message.ok ? { ok: true, value: message.value } : { ok: false, error: message.error as never },
        );
      } else if (message.type === 'event' && isEventName(message.name)) {
        for (const listener of eventListeners) listener(message.name, message.payload);
      }
    };
    ws.onerror = () => undefined;
    ws.onclose = (event) => {
      if (socket === ws) socket = null;
      setConnected(false);
      const refused = event.code === UNAUTHORIZED_CODE;
      for (const [id, resolve] of pending) {
        pending.delete(id);
        resolve(
          refused
            ? UNAUTHORIZED_RESULT
            : {
                ok: false,
                error: { code: 'disconnected', message: 'The connection to the editor was lost' },
              },
        );
      }
      if (refused) {
        // Refused token: retrying cannot help.
        closed = true;
        for (const resume of waitingForOpen.splice(0)) resume();
        return;
      }
      if (!closed) {
        setTimeout(connect, retryDelay);
        retryDelay = Math.min(retryDelay * 2, 5000);
      }
    };
  };

  const whenOpen = () =>
    new Promise<void>((resolve) => {
      if (socket?.readyState === OPEN) resolve();
      else waitingForOpen.push(resolve);
    });

  connect();

  return {
    mode: 'browser',
    async call(name: CallName, payload: unknown): Promise<CallResult> {
      await whenOpen();
      const ws = socket;
      if (closed || !ws || ws.readyState !== OPEN) {
        return UNAUTHORIZED_RESULT;
      }
      const id = nextId++;
      return new Promise<CallResult>((resolve) => {
        pending.set(id, resolve);
        try {
          const parts = encodeWireParts({ type: 'call', id, name, payload } satisfies WireMessage);
          // The pieces of one message leave back to back: nothing can come between them.
          for (const message of wireMessages(parts, options.pieceBytes)) ws.send(message);
        } catch (error) {
          pending.delete(id);
          resolve({ ok: false, error: { code: 'disconnected', message: String(error) } });
        }
      });
    },
    subscribe(listener) {
      eventListeners.add(listener);
      return () => eventListeners.delete(listener);
    },
    onConnectionChange(listener) {
      connectionListeners.add(listener);
      return () => connectionListeners.delete(listener);
    },
    close() {
      closed = true;
      socket?.close(1000, 'closed');
    },
  };
}
