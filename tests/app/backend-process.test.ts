/**
 * The backend process (everything behind the contract, out of Electron's main) driven through
 * main's BackendClient, in plain Node. On Linux it runs with the system's libgobject preloaded and
 * G_DEBUG=fatal-criticals: the situation of a process started from Electron's binary, where sharp's
 * bundled GLib meets the system's (electron#46323). A single GLib-GObject-CRITICAL would abort it.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { BackendClient, createBackendLauncher } from '../../src/main/app/backend/backend-client';
import type { Dialogs } from '../../src/main/app/dialogs';
import { readPsdPixels } from '../support/psd-reader';

const ROOT = resolve(__dirname, '../..');
const PHOTO = join(ROOT, 'tests/e2e/fixtures/photo.png');
const SYSTEM_GOBJECT = [
  '/usr/lib/x86_64-linux-gnu/libgobject-2.0.so.0',
  '/usr/lib/aarch64-linux-gnu/libgobject-2.0.so.0',
].find((path) => existsSync(path));
const glibEnv: NodeJS.ProcessEnv = SYSTEM_GOBJECT
  ? { LD_PRELOAD: SYSTEM_GOBJECT, G_DEBUG: 'fatal-criticals' }
  : {};
if (!SYSTEM_GOBJECT) console.warn('Backend runs without the preloaded system libgobject: not installed here');

function client(options: { env?: NodeJS.ProcessEnv; dialogs?: Dialogs | null } = {}) {
  const recent: (string | null)[] = [];
  const events: string[] = [];
  const crashes: string[] = [];
  const backend = new BackendClient({
    launcher: createBackendLauncher({
      entry: join(ROOT, 'src/main/app/backend/backend-process.ts'),
      config: { version: '9.8.7', configDir: mkdtempSync(join(tmpdir(), 'backend-config-')), engine: 'fake' },
      env: { ...glibEnv, ...options.env },
    }),
    dialogs: options.dialogs ?? null,
    onRecent: (added) => recent.push(added),
    onCrash: (reason) => crashes.push(reason),
  });
  backend.subscribe((name) => events.push(name));
  return { backend, recent, events, crashes };
}

async function call<T>(backend: BackendClient, name: string, payload: unknown): Promise<T> {
  const result = await backend.dispatch(name, payload);
  if (!result.ok) throw new Error(`${name} failed: ${result.error.code}: ${result.error.message}`);
  return result.value as T;
}

async function rgba(png: Uint8Array) {
  const { data, info } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data };
}

describe('backend process behind the BackendClient', () => {
  let running: BackendClient | undefined;
  afterEach(async () => {
    await running?.dispose();
    running = undefined;
  });

  it(`opens, shows and exports pictures${SYSTEM_GOBJECT ? ' with the system GLib preloaded, without a GLib critical' : ''}`, async () => {
    const dialogs: Dialogs = {
      openFile: async () => PHOTO,
      chooseModelFolder: async () => null,
      saveProject: async () => null,
      saveExport: async () => null,
    };
    const { backend, recent, events } = client({ dialogs });
    running = backend;
    const info = await call<{ mode: string; version: string; nativeDialogs: boolean }>(
      backend,
      'app.info',
      {},
    );
    expect(info).toMatchObject({ mode: 'electron', version: '9.8.7', nativeDialogs: true });
    expect(backend.pid).not.toBe(process.pid);

    // A native dialog asked of main, the picked file granted and opened in the backend.
    const view = await call<{ name: string; width: number; height: number; layers: { id: string }[] }>(
      backend,
      'document.openDialog',
      {},
    );
    const original = await rgba(readFileSync(PHOTO));
    expect(view).toMatchObject({ name: 'photo.png', width: original.width, height: original.height });
    expect(recent).toContain(PHOTO);
    expect(backend.recentFiles()).toEqual([PHOTO]);

    const layer = await call<{ width: number; png: Uint8Array }>(backend, 'document.layerImage', {
      layerId: view.layers[0]!.id,
      what: 'pixels',
    });
    expect((await rgba(layer.png)).data.equals(original.data)).toBe(true);

    const png = await call<{ bytes: Uint8Array }>(backend, 'export.bytes', { format: 'png' });
    const exported = await rgba(png.bytes);
    expect(exported.width).toBe(original.width);
    expect(exported.data.equals(original.data)).toBe(true);

    const psd = await call<{ bytes: Uint8Array }>(backend, 'export.bytes', { format: 'psd' });
    const read = readPsdPixels(psd.bytes);
    expect([read.width, read.height]).toEqual([original.width, original.height]);

    // Opening from the OS (a file the user chose outside the app) goes through the backend too.
    backend.openChosenFile(PHOTO);
    const unknown = await backend.dispatch('fs.readFile', {});
    expect(unknown).toMatchObject({ ok: false, error: { code: 'unknown-call' } });
    expect(events).toContain('document.changed');
  });

  it.runIf(SYSTEM_GOBJECT)(
    'the same backend without the GLib isolation dies on the first picture (the guard is what keeps it clean)',
    async () => {
      const { backend } = client({ env: { INSTRUCT_EDIT_SHARP_DEEPBIND: '0' } });
      running = backend;
      await call(backend, 'app.info', {});
      const opened = await backend.dispatch('document.openBytes', {
        name: 'photo.png',
        bytes: new Uint8Array(readFileSync(PHOTO)),
      });
      expect(opened).toMatchObject({
        ok: false,
        error: { message: expect.stringMatching(/backend process stopped \(killed by SIGTRAP\)/) },
      });
    },
  );

  it('a backend that dies fails the calls in flight readably and restarts with the next call', async () => {
    const { backend, crashes } = client();
    running = backend;
    await call(backend, 'app.info', {});
    const first = backend.pid!;
    expect(crashes).toEqual([]);
    process.kill(first, 'SIGKILL');
    const during = await backend.dispatch('app.info', {});
    // Either the call raced the kill and failed, or it already went to a new backend.
    if (!during.ok) expect(during.error.message).toMatch(/backend process stopped \(killed by SIGKILL\)/);
    const after = await call<{ version: string }>(backend, 'app.info', {});
    expect(after.version).toBe('9.8.7');
    expect(backend.pid).not.toBe(first);
    expect(crashes).toEqual(['killed by SIGKILL']);
    await backend.dispose();
    expect(crashes).toHaveLength(1);
  });
});
