/**
 * Electron main: one editor window (secure preferences, CSP, no navigation, no new windows, no
 * permissions), the application menu, native dialogs, recent files, a single instance; the
 * contract's handlers behind IPC; the engine in a utilityProcess.
 */
import { existsSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { app, BrowserWindow } from 'electron';
import { createAppCore, type AppCore } from './app/app-core';
import { IMAGE_EXTENSIONS, PROJECT_EXTENSION } from './app/dialogs';
import { createDocumentService } from './app/document-adapter';
import { handleAppProtocol, registerAppScheme } from './app/electron/app-protocol';
import { createElectronDialogs } from './app/electron/dialogs';
import { connectIpc } from './app/electron/ipc';
import { buildMenu } from './app/electron/menu';
import { applySecurity } from './app/electron/security';
import { createUtilityLauncher } from './app/electron/utility-launcher';
import { createEditorWindow } from './app/electron/window';

const devUrl = !app.isPackaged ? process.env.ELECTRON_RENDERER_URL : undefined;
let mainWindow: BrowserWindow | null = null;
let core: AppCore | null = null;
const pendingOpens: string[] = [];

function openableFile(arg: string): string | null {
  const extension = extname(arg).slice(1).toLowerCase();
  if (![...IMAGE_EXTENSIONS, PROJECT_EXTENSION].includes(extension)) return null;
  const path = resolve(arg);
  return existsSync(path) ? path : null;
}

/** A file the user opened through the OS (command line, "Open with", dock): they chose it. */
function openFromOs(path: string): void {
  if (!core) {
    pendingOpens.push(path);
    return;
  }
  core.policy.grantFile(path, 'read', 'write');
  void core.dispatcher.dispatch('document.openPath', { path }).then((result) => {
    if (!result.ok) console.error(`Could not open ${path}: ${result.error.message}`);
  });
  focusWindow();
}

function focusWindow(): void {
  if (!mainWindow) return;
  if (mainWindow.isMinimized()) mainWindow.restore();
  mainWindow.focus();
}

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
    toggleDevTools: () => mainWindow?.webContents.toggleDevTools(),
  });
}

registerAppScheme();

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', (_event, argv) => {
    for (const arg of argv.slice(1)) {
      const path = openableFile(arg);
      if (path) openFromOs(path);
    }
    focusWindow();
  });
  app.on('open-file', (event, path) => {
    event.preventDefault();
    openFromOs(path);
  });
  for (const arg of process.argv.slice(1)) {
    const path = openableFile(arg);
    if (path) pendingOpens.push(path);
  }

  void app.whenReady().then(() => {
    applySecurity(devUrl);
    handleAppProtocol(join(__dirname, '../renderer'));
    core = createAppCore({
      mode: 'electron',
      version: app.getVersion(),
      configDir: app.getPath('userData'),
      launcher: createUtilityLauncher(join(__dirname, 'engine-worker.js')),
      dialogs: createElectronDialogs(() => mainWindow),
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
    mainWindow = createEditorWindow(devUrl);
    mainWindow.on('closed', () => {
      mainWindow = null;
    });
    mainWindow.webContents.once('did-finish-load', () => {
      for (const path of pendingOpens.splice(0)) openFromOs(path);
    });
    app.on('activate', () => {
      if (BrowserWindow.getAllWindows().length === 0) mainWindow = createEditorWindow(devUrl);
    });
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
