/**
 * src/main/index.ts itself, with a fake 'electron' module and a fake backend client: the wiring of
 * second-instance, open-file and activate to the window manager and the backend.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import type { BackendClientOptions } from '../../src/main/app/backend/backend-client';

const opened: string[] = [];
const clients: { options: BackendClientOptions; started: boolean }[] = [];

vi.mock('electron', async () => await import('../support/fake-electron'));
vi.mock('../../src/main/app/backend/backend-client', () => ({
  createBackendLauncher: (options: unknown) => options,
  BackendClient: class {
    started = false;
    constructor(readonly options: BackendClientOptions) {
      clients.push(this);
    }
    start() {
      this.started = true;
    }
    openChosenFile(path: string) {
      opened.push(path);
    }
    subscribe() {
      return () => undefined;
    }
    recentFiles() {
      return [];
    }
    dispatch() {
      return Promise.resolve({ ok: true, value: null });
    }
    dispose() {
      return Promise.resolve();
    }
  },
}));

describe('Electron main wiring (fake electron)', () => {
  it('second launches, files from the OS and macOS activate reach the right window and the backend', async () => {
    const electron = await import('../support/fake-electron');
    const { app, BrowserWindow } = electron;
    await import('../../src/main/index');
    const dir = mkdtempSync(join(tmpdir(), 'electron-main-'));
    writeFileSync(join(dir, 'first.png'), 'x');
    writeFileSync(join(dir, 'second.jpg'), 'x');

    // A file opened before the app is ready waits for the first window's page.
    app.emit('open-file', { preventDefault: () => undefined }, join(dir, 'first.png'));
    app.becomeReady();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(clients).toHaveLength(1);
    expect(clients[0]!.started).toBe(true);
    expect(clients[0]!.options.launcher).toMatchObject({ env: { ELECTRON_RUN_AS_NODE: '1' } });
    expect(BrowserWindow.created).toHaveLength(1);
    expect(opened).toEqual([]);
    BrowserWindow.created[0]!.finishLoad();
    expect(opened).toEqual([join(dir, 'first.png')]);

    // A second launch from another folder, with a relative path and a file:// URI.
    app.emit(
      'second-instance',
      {},
      ['/usr/bin/instruct-edit', 'second.jpg', pathToFileURL(join(dir, 'first.png')).href],
      dir,
    );
    expect(opened).toEqual([join(dir, 'first.png'), join(dir, 'second.jpg'), join(dir, 'first.png')]);
    expect(BrowserWindow.created[0]!.focusCalls).toBeGreaterThan(0);

    // macOS: the window is closed, the app stays; focusing must not touch the dead window.
    BrowserWindow.created[0]!.close();
    expect(() => app.emit('second-instance', {}, ['/usr/bin/instruct-edit'], dir)).not.toThrow();
    expect(BrowserWindow.created).toHaveLength(2);
    BrowserWindow.created[1]!.close();
    app.emit('activate');
    expect(BrowserWindow.created).toHaveLength(3);
    app.emit('open-file', { preventDefault: () => undefined }, join(dir, 'second.jpg'));
    expect(opened).toHaveLength(3);
    BrowserWindow.created[2]!.finishLoad();
    expect(opened.at(-1)).toBe(join(dir, 'second.jpg'));

    // The backend died: the window reloads (its first calls start a new backend).
    clients[0]!.options.onCrash?.('killed by SIGKILL');
    expect(BrowserWindow.created[2]!.webContents.reloads).toBe(1);
  });
});
