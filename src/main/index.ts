/**
 * Electron main: one editor window (secure preferences, CSP, no navigation, no new windows, no
 * permissions), the application menu, native dialogs, recent files, a single instance. Everything
 * behind the contract (documents, pixels, the engine) runs in the backend process, a plain Node
 * process started from Electron's binary: main loads no native image code (sharp, onnxruntime)
 * next to Chromium's GTK and GLib, and only forwards IPC calls and events.
 */
import { join } from 'node:path';
import { app } from 'electron';
import { BackendClient, createBackendLauncher } from './app/backend/backend-client';
import { handleAppProtocol, registerAppScheme } from './app/electron/app-protocol';
import { createElectronDialogs } from './app/electron/dialogs';
import { connectIpc } from './app/electron/ipc';
import { buildMenu } from './app/electron/menu';
import { applySecurity } from './app/electron/security';
import { createEditorWindow } from './app/electron/window';
import { ENGINE_KIND_ENV } from './app/engine/protocol';
import { EventBus } from './app/event-bus';
import { openableFiles } from './app/launch-args';
import { WindowManager } from './app/window-manager';

const devUrl = !app.isPackaged ? process.env.ELECTRON_RENDERER_URL : undefined;
/** Events that start in main (menu commands); the backend's come through the client. */
const mainEvents = new EventBus();
let backend: BackendClient | null = null;

const windows = new WindowManager({
  createWindow: () => createEditorWindow(devUrl),
  // A file the user opened through the OS (command line, "Open with", dock): they chose it.
  openFile: (path) => backend?.openChosenFile(path),
});

function refreshMenu(): void {
  const client = backend;
  if (!client) return;
  buildMenu({
    command: (command) => mainEvents.emit('menu.command', { command }),
    openRecent: (path) => {
      void client.dispatch('document.openPath', { path }).then((result) => {
        if (!result.ok) console.error(result.error.message);
      });
    },
    clearRecent: () => {
      client.clearRecent();
      app.clearRecentDocuments();
      refreshMenu();
    },
    recentFiles: () => client.recentFiles(),
    toggleDevTools: () => windows.current()?.webContents.toggleDevTools(),
  });
}

registerAppScheme();

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', (_event, argv, workingDirectory) => {
    for (const path of openableFiles(argv.slice(1), workingDirectory)) windows.openFromOs(path);
    // A second launch (even without files) shows the editor; on macOS it may have no window left.
    if (app.isReady()) windows.ensureWindow();
    windows.focus();
  });
  app.on('open-file', (event, path) => {
    event.preventDefault();
    windows.openFromOs(path);
  });
  for (const path of openableFiles(process.argv.slice(1), process.cwd())) windows.openFromOs(path);

  void app.whenReady().then(() => {
    applySecurity(devUrl);
    handleAppProtocol(join(__dirname, '../renderer'));
    const client = new BackendClient({
      launcher: createBackendLauncher({
        entry: join(__dirname, 'backend.js'),
        config: {
          version: app.getVersion(),
          configDir: app.getPath('userData'),
          engine: process.env[ENGINE_KIND_ENV] === 'fake' ? 'fake' : 'onnx',
        },
        // Electron's own binary as plain Node: no Chromium, no GTK (needs the RunAsNode fuse on).
        execPath: process.execPath,
        env: { ELECTRON_RUN_AS_NODE: '1' },
      }),
      dialogs: createElectronDialogs(() => windows.current()),
      // The document was in the backend: a fresh page offers its autosave from the new one.
      onCrash: () => windows.current()?.webContents.reload(),
      onRecent: (added) => {
        if (added) app.addRecentDocument(added);
        refreshMenu();
      },
    });
    backend = client;
    client.start();
    connectIpc(
      {
        dispatcher: client,
        subscribe: (sink) => {
          const fromBackend = client.subscribe(sink);
          const fromMain = mainEvents.subscribe(sink);
          return () => {
            fromBackend();
            fromMain();
          };
        },
      },
      devUrl,
    );
    refreshMenu();
    windows.start();
    app.on('activate', () => windows.ensureWindow());
  });

  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });

  let quitting = false;
  app.on('before-quit', (event) => {
    if (quitting || !backend) return;
    event.preventDefault();
    quitting = true;
    void backend.dispose().finally(() => app.quit());
  });
}
