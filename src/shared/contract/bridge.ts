/**
 * The preload's API on `window.instructEdit`, and the IPC transport built on it. The bridge only
 * carries the contract: a call by name (checked against CALL_NAMES in the preload and validated by
 * schema in main) and a subscription to the contract's events.
 */
import type { CallName, EventName } from './channels';
import type { AppMode, Transport } from './client';
import type { CallResult } from './errors';

export interface BridgeApi {
  readonly platform: string;
  call(name: CallName, payload: unknown): Promise<CallResult>;
  /** Returns a function that unsubscribes. */
  onEvent(listener: (name: EventName, payload: unknown) => void): () => void;
}

export function createIpcTransport(bridge: BridgeApi): Transport {
  const mode: AppMode = 'electron';
  return {
    mode,
    call: (name, payload) => bridge.call(name, payload),
    subscribe: (listener) => bridge.onEvent(listener),
  };
}
