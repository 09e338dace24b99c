/**
 * Just enough of the 'electron' module for src/main/index.ts to run in Node: an app that emits the
 * events Electron emits, and windows that load, close and refuse use after being destroyed.
 */
import { EventEmitter } from 'node:events';
import { tmpdir } from 'node:os';
import { FakeWindow } from './fake-window';

class FakeApp extends EventEmitter {
  isPackaged = false;
  private ready = false;
  private markReady: () => void = () => undefined;
  private readonly readyPromise = new Promise<void>((resolve) => (this.markReady = resolve));
  quitCalls = 0;

  requestSingleInstanceLock(): boolean {
    return true;
  }
  whenReady(): Promise<void> {
    return this.readyPromise;
  }
  isReady(): boolean {
    return this.ready;
  }
  becomeReady(): void {
    this.ready = true;
    this.markReady();
  }
  getVersion(): string {
    return '0.1.0';
  }
  getPath(): string {
    return tmpdir();
  }
  quit(): void {
    this.quitCalls++;
  }
  addRecentDocument(): void {}
  clearRecentDocuments(): void {}
}

export const app = new FakeApp();

class FakeWebContents extends EventEmitter {
  reloads = 0;
  reload(): void {
    this.reloads++;
  }
  toggleDevTools(): void {}
  send(): void {}
}

/** The window manager's fake window, plus what index.ts asks of Electron's class. */
export class BrowserWindow extends FakeWindow {
  static readonly created: BrowserWindow[] = [];
  override readonly webContents = new FakeWebContents();

  constructor() {
    super();
    BrowserWindow.created.push(this);
  }
  static getAllWindows(): BrowserWindow[] {
    return BrowserWindow.created.filter((window) => !window.destroyed);
  }
  loadURL(): Promise<void> {
    return Promise.resolve();
  }
  show(): void {}
}

export const protocol = { registerSchemesAsPrivileged(): void {}, handle(): void {} };
export const session = {
  defaultSession: {
    setPermissionRequestHandler(): void {},
    setPermissionCheckHandler(): void {},
    setDevicePermissionHandler(): void {},
    webRequest: { onHeadersReceived(): void {} },
  },
};
export const ipcMain = { handle(): void {}, removeHandler(): void {} };
export const Menu = { buildFromTemplate: (template: unknown) => template, setApplicationMenu(): void {} };
export const dialog = {};
