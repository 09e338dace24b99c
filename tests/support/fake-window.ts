/** A stand-in for a BrowserWindow: records focus calls, can be loaded and closed like the real one. */
import { EventEmitter } from 'node:events';
import type { ManagedWindow } from '../../src/main/app/window-manager';

export class FakeWindow extends EventEmitter implements ManagedWindow {
  readonly webContents = new EventEmitter();
  destroyed = false;
  minimized = false;
  focusCalls = 0;

  isDestroyed(): boolean {
    return this.destroyed;
  }
  isMinimized(): boolean {
    this.assertAlive();
    return this.minimized;
  }
  restore(): void {
    this.assertAlive();
    this.minimized = false;
  }
  focus(): void {
    this.assertAlive();
    this.focusCalls++;
  }
  finishLoad(): void {
    this.webContents.emit('did-finish-load');
  }
  close(): void {
    this.destroyed = true;
    this.emit('closed');
  }
  private assertAlive(): void {
    // What Electron does when a destroyed window is used.
    if (this.destroyed) throw new TypeError('Object has been destroyed');
  }
}
