/**
 * The editor window's life cycle, apart from Electron so it can be tested: every window gets the
 * same handlers whoever creates it (start, macOS 'activate', a file opened with no window), files
 * opened from the OS wait until a window's page has loaded, and a closed window is forgotten.
 */

/** The part of a BrowserWindow the manager uses. */
export interface ManagedWindow {
  isDestroyed(): boolean;
  isMinimized(): boolean;
  restore(): void;
  focus(): void;
  once(event: 'closed', listener: () => void): unknown;
  readonly webContents: { on(event: 'did-finish-load', listener: () => void): unknown };
}

export interface WindowManagerOptions<W extends ManagedWindow> {
  createWindow(): W;
  /** Opens a file the user chose in the OS (command line, "Open with", dock), once a page can show it. */
  openFile(path: string): void;
}

export class WindowManager<W extends ManagedWindow> {
  private window: W | null = null;
  private loaded = false;
  private started = false;
  private readonly pending: string[] = [];

  constructor(private readonly options: WindowManagerOptions<W>) {}

  /** The live window, if any. */
  current(): W | null {
    return this.window && !this.window.isDestroyed() ? this.window : null;
  }

  /** The app is ready: windows may be created from now on. */
  start(): W {
    this.started = true;
    return this.ensureWindow();
  }

  /** The window, created (with its handlers) when there is none. Before start(), nothing. */
  ensureWindow(): W {
    const existing = this.current();
    if (existing) return existing;
    if (!this.started) throw new Error('The app is not ready for windows yet');
    const window = this.options.createWindow();
    this.window = window;
    this.loaded = false;
    window.once('closed', () => {
      if (this.window !== window) return;
      this.window = null;
      this.loaded = false;
    });
    window.webContents.on('did-finish-load', () => {
      if (this.window !== window) return;
      this.loaded = true;
      for (const path of this.pending.splice(0)) this.options.openFile(path);
    });
    return window;
  }

  /** A file from the OS: opened now when a page shows, else when the (possibly new) window has loaded. */
  openFromOs(path: string): void {
    if (this.current() && this.loaded) {
      this.options.openFile(path);
    } else {
      this.pending.push(path);
      if (!this.started) return;
      this.ensureWindow();
    }
    this.focus();
  }

  /** Brings the window forward (a second launch, a file opened from the OS). */
  focus(): void {
    const window = this.current();
    if (!window) return;
    if (window.isMinimized()) window.restore();
    window.focus();
  }
}
