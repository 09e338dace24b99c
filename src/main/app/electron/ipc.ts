/**
 * Connects the contract to Electron IPC: one invoke channel for calls, one channel for events.
 * Calls from any frame that is not our app page are refused.
 */
import { BrowserWindow, ipcMain } from 'electron';
import { IPC_CALL_CHANNEL, IPC_EVENT_CHANNEL } from '../../../shared/contract/channels';
import type { CallResult } from '../../../shared/contract/errors';
import type { Dispatcher } from '../dispatcher';
import type { EventSink } from '../event-bus';
import { isAppUrl } from './security';

export interface IpcTarget {
  dispatcher: Dispatcher;
  /** Every event for the windows, wherever it comes from (the backend, main's menu). */
  subscribe(sink: EventSink): () => void;
}

export function connectIpc(core: IpcTarget, devUrl: string | undefined): () => void {
  ipcMain.handle(IPC_CALL_CHANNEL, async (event, name: unknown, payload: unknown): Promise<CallResult> => {
    const url = event.senderFrame?.url ?? '';
    if (!isAppUrl(url, devUrl)) {
      return {
        ok: false,
        error: { code: 'forbidden', message: 'Calls are only accepted from the app window' },
      };
    }
    return core.dispatcher.dispatch(name, payload);
  });
  const unsubscribe = core.subscribe((name, payload) => {
    for (const window of BrowserWindow.getAllWindows()) {
      if (!window.isDestroyed()) window.webContents.send(IPC_EVENT_CHANNEL, name, payload);
    }
  });
  return () => {
    unsubscribe();
    ipcMain.removeHandler(IPC_CALL_CHANNEL);
  };
}
