/**
 * One client interface, two transports: the renderer talks to the main side through `AppClient`
 * whether it runs in Electron (preload bridge over IPC) or in a browser (WebSocket + token).
 */
import { isEventName, type CallName, type EventName } from './channels';
import { ContractError, type CallResult } from './errors';
import type { CallRequest, CallResponse, EventPayload } from './schemas';

export type AppMode = 'electron' | 'browser';

/** What a transport carries: untyped names and payloads, results in an envelope. */
export interface Transport {
  readonly mode: AppMode;
  call(name: CallName, payload: unknown): Promise<CallResult>;
  subscribe(listener: (name: EventName, payload: unknown) => void): () => void;
  /** Connection state changes (browser mode reconnects); Electron is always connected. */
  onConnectionChange?(listener: (connected: boolean) => void): () => void;
  close?(): void;
}

export interface AppClient {
  readonly mode: AppMode;
  call<N extends CallName>(name: N, request: CallRequest<N>): Promise<CallResponse<N>>;
  on<E extends EventName>(name: E, listener: (payload: EventPayload<E>) => void): () => void;
  onConnectionChange(listener: (connected: boolean) => void): () => void;
  close(): void;
}

export function createClient(transport: Transport): AppClient {
  const listeners = new Map<EventName, Set<(payload: unknown) => void>>();
  const unsubscribeTransport = transport.subscribe((name, payload) => {
    if (!isEventName(name)) return;
    for (const listener of [...(listeners.get(name) ?? [])]) {
      try {
        listener(payload);
      } catch (error) {
        console.error(`listener for ${name} failed`, error);
      }
    }
  });
  return {
    mode: transport.mode,
    async call(name, request) {
      const result = await transport.call(name, request);
      if (!result.ok) throw ContractError.fromPayload(result.error);
      return result.value as never;
    },
    on(name, listener) {
      let set = listeners.get(name);
      if (!set) listeners.set(name, (set = new Set()));
      const wrapped = listener as (payload: unknown) => void;
      set.add(wrapped);
      return () => set.delete(wrapped);
    },
    onConnectionChange(listener) {
      return transport.onConnectionChange?.(listener) ?? (() => undefined);
    },
    close() {
      unsubscribeTransport();
      transport.close?.();
    },
  };
}
