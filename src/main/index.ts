/**
 * Electron main: one editor window (secure preferences, CSP, no navigation, no new windows, no
 * permissions), the application menu, native dialogs, recent files, a single instance; the
 * contract's handlers behind IPC; the engine in a utilityProcess.
 */
import { join } from 'node:path';
import { app } from 'electron';
import { createAppCore, type AppCore } from './app/app-core';
import { createDocumentService } from './app/document-adapter';
import { handleAppProtocol, registerAppScheme } from './app/electron/app-protocol';
import { createElectronDialogs } from './app/electron/dialogs';
import { connectIpc } from './app/electron/ipc';
import { buildMenu } from './app/electron/menu';
import { applySecurity } from './app/electron/security';
import { createUtilityLauncher } from './app/electron/utility-launcher';
import { createEditorWindow } from './app/electron/window';
import { openableFiles } from './app/launch-args';
import { WindowManager } from './app/window-manager';

const devUrl = !app.isPackaged ? process.env.ELECTRON_RENDERER_URL : undefined;
let core: AppCore | null = null;

/** A file the user opened through the OS (command line, "Open with", dock): they chose it. */
function openChosenFile(path: string): void {
  if (!core) return;
  core.policy.grantFile(path, 'read', 'write');
  void core.dispatcher.dispatch('document.openPath', { path }).then((result) => {
    if (!result.ok) console.error(`Could not open ${path}: ${result.error.message}`);
  });
}

const windows = new WindowManager({
  createWindow: () => createEditorWindow(devUrl),
  openFile: openChosenFile,
});

function refreshMenu(): void {
  if (!core) return;
  const current = core;
  buildMenu({
    command: (command) => current.bus.emit('menu.command', { command }),
    openRecent: (path) => {
      void current.dispatcher.dispatch('document.openPath', { path }).then((result) => {
        if (!result.ok) console.error(result.error.message);
        refreshMenu();
      });
    },
    clearRecent: () => {
      current.settings.clearRecent();
      app.clearRecentDocuments();
      refreshMenu();
    },
    recentFiles: () => current.settings.recentFiles(),
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
    core = createAppCore({
      mode: 'electron',
      version: app.getVersion(),
      configDir: app.getPath('userData'),
      launcher: createUtilityLauncher(join(__dirname, 'engine-worker.js')),
      dialogs: createElectronDialogs(() => windows.current()),
      createDocuments: (engine) =>
        createDocumentService(engine, {
          appVersion: app.getVersion(),
          recoveryFolder: join(app.getPath('userData'), 'recovery'),
        }),
      onRecent: (path) => {
        app.addRecentDocument(path);
        refreshMenu();
      },
    });
    connectIpc(core, devUrl);
    refreshMenu();
    windows.start();
    app.on('activate', () => windows.ensureWindow());
  });

  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });

  let quitting = false;
  app.on('before-quit', (event) => {
    if (quitting || !core) return;
    event.preventDefault();
    quitting = true;
    void core.dispose().finally(() => app.quit());
  });
}
