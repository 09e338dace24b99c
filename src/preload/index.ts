/**
 * The preload (sandboxed, CommonJS): exposes exactly the contract on `window.instructEdit` — a call
 * by a name from CALL_NAMES and a subscription to the events in EVENT_NAMES. No Node, no
 * ipcRenderer, no other channel reaches the page.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type { BridgeApi } from '../shared/contract/bridge';
import {
  BRIDGE_GLOBAL,
  IPC_CALL_CHANNEL,
  IPC_EVENT_CHANNEL,
  isCallName,
  isEventName,
} from '../shared/contract/channels';
import type { CallResult } from '../shared/contract/errors';

const api: BridgeApi = {
  platform: process.platform,
  call(name, payload): Promise<CallResult> {
    if (!isCallName(name)) {
      return Promise.resolve({
        ok: false,
        error: { code: 'unknown-call', message: `No call named ${String(name).slice(0, 80)}` },
      });
    }
    return ipcRenderer.invoke(IPC_CALL_CHANNEL, name, payload) as Promise<CallResult>;
  },
  onEvent(listener) {
    const wrapped = (_event: IpcRendererEvent, name: unknown, payload: unknown) => {
      if (isEventName(name)) listener(name, payload);
    };
    ipcRenderer.on(IPC_EVENT_CHANNEL, wrapped);
    return () => {
      ipcRenderer.removeListener(IPC_EVENT_CHANNEL, wrapped);
    };
  },
};

contextBridge.exposeInMainWorld(BRIDGE_GLOBAL, Object.freeze(api));
