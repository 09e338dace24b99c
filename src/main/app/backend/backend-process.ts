/**
 * The backend process: the AppCore (settings, path policy, model service, engine host, document
 * service and the contract's handlers) in a plain Node process. Electron starts it from its own
 * binary with ELECTRON_RUN_AS_NODE (no Chromium, no GTK initialised); tests start it with Node.
 * Dialogs are asked of main, and recent-file changes are told to it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Dialogs } from '../dialogs';
import { createAppCore, type AppCore } from '../app-core';
import { createDocumentService } from '../document-adapter';
import { createNodeLauncher } from '../engine/node-launcher';
import type { BackendConfig, BackendToMain, DialogRequest, MainToBackend } from './protocol';

export interface BackendPort {
  send(message: BackendToMain): void;
  onMessage(listener: (message: MainToBackend) => void): void;
}

export function startBackend(
  config: BackendConfig,
  port: BackendPort,
  exit: (code: number) => void,
): AppCore {
  let nextDialogId = 1;
  const dialogAnswers = new Map<number, (path: string | null) => void>();
  const ask = (request: DialogRequest) =>
    new Promise<string | null>((resolve) => {
      const id = nextDialogId++;
      dialogAnswers.set(id, resolve);
      port.send({ type: 'dialog', id, request });
    });
  const dialogs: Dialogs = {
    openFile: () => ask({ kind: 'openFile' }),
    chooseModelFolder: () => ask({ kind: 'chooseModelFolder' }),
    saveProject: (suggestedName) => ask({ kind: 'saveProject', suggestedName }),
    saveExport: (format, suggestedName) => ask({ kind: 'saveExport', format, suggestedName }),
    chooseExportFolder: (title) => ask({ kind: 'chooseExportFolder', title }),
  };

  // Built, the engine worker sits beside this file; in development node-launcher finds worker.ts.
  const builtWorker = join(__dirname, 'engine-worker.js');
  let core: AppCore | null = null;
  const recentChanged = (added: string | null) =>
    port.send({ type: 'recent', added, recentFiles: core?.settings.recentFiles() ?? [] });
  core = createAppCore({
    mode: 'electron',
    version: config.version,
    configDir: config.configDir,
    launcher: createNodeLauncher({
      engine: config.engine,
      ...(existsSync(builtWorker) ? { entry: builtWorker } : {}),
    }),
    dialogs,
    createDocuments: (engine) =>
      createDocumentService(engine, {
        appVersion: config.version,
        recoveryFolder: join(config.configDir, 'recovery'),
      }),
    onRecent: (path) => recentChanged(path),
  });
  const ready = core;
  ready.bus.subscribe((name, payload) => port.send({ type: 'event', name, payload }));

  let stopping = false;
  port.onMessage((message) => {
    switch (message.type) {
      case 'call':
        void ready.dispatcher
          .dispatch(message.name, message.payload)
          .then((result) => port.send({ type: 'result', id: message.id, result }));
        return;
      case 'openChosenFile':
        ready.policy.grantFile(message.path, 'read', 'write');
        void ready.dispatcher.dispatch('document.openPath', { path: message.path }).then((result) => {
          if (!result.ok)
            port.send({ type: 'openFailed', path: message.path, message: result.error.message });
        });
        return;
      case 'clearRecent':
        ready.settings.clearRecent();
        recentChanged(null);
        return;
      case 'dialogAnswer': {
        const answer = dialogAnswers.get(message.id);
        dialogAnswers.delete(message.id);
        answer?.(message.path);
        return;
      }
      case 'shutdown':
        if (stopping) return;
        stopping = true;
        void ready.dispose().finally(() => exit(0));
        return;
    }
  });
  port.send({ type: 'ready', pid: process.pid, recentFiles: ready.settings.recentFiles() });
  return ready;
}

function runAsChildProcess(): void {
  const send = process.send?.bind(process);
  if (!send) throw new Error('The backend must be started by the app (no IPC channel)');
  const config = JSON.parse(process.argv[2] ?? '{}') as BackendConfig;
  const core = startBackend(
    config,
    {
      send: (message) => {
        // After main is gone there is nobody to tell (the 'disconnect' handler below stops us).
        if (process.connected) send(message);
      },
      onMessage: (listener) => process.on('message', (message) => listener(message as MainToBackend)),
    },
    (code) => process.exit(code),
  );
  // Main went away (crashed or killed): save what can be saved and stop.
  process.on('disconnect', () => void core.dispose().finally(() => process.exit(0)));
}

if (require.main === module) runAsChildProcess();
