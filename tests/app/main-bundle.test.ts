/**
 * Electron's main process (which has Chromium's GTK and the system GLib) must not load native
 * image code: sharp and onnxruntime run in the backend and engine processes only. Checked on the
 * built bundle, following every require from out/main/index.js.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BackendClient, createBackendLauncher } from '../../src/main/app/backend/backend-client';
import { FAKE_ENGINE_FILE } from '../../src/main/app/engine/fake-engine';

const ROOT = resolve(__dirname, '../..');
const NATIVE = /["'](sharp|onnxruntime-node|@img\/sharp-[^"']*)["']|RTLD_DEEPBIND|\.node["']/g;

/** Every file reachable from `entry` through relative requires, and the bare modules they require. */
function requireGraph(entry: string): { files: string[]; modules: Set<string>; native: Set<string> } {
  const files: string[] = [];
  const modules = new Set<string>();
  const native = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.shift()!;
    if (files.includes(file)) continue;
    files.push(file);
    const code = readFileSync(file, 'utf8');
    for (const match of code.matchAll(/require\(["']([^"']+)["']\)/g)) {
      const target = match[1]!;
      if (target.startsWith('.')) queue.push(resolve(dirname(file), target));
      else modules.add(target);
    }
    for (const match of code.matchAll(NATIVE)) native.add(match[1] ?? match[0]);
  }
  return { files, modules, native };
}

// out/ is built once for the whole run by tests/global-build.ts.
describe('the built main process', () => {
  it('index.js reaches neither sharp nor onnxruntime, nor any addon', () => {
    const main = requireGraph(join(ROOT, 'out/main/index.js'));
    expect(main.modules).toContain('electron');
    expect([...main.native]).toEqual([]);
    expect([...main.modules].filter((name) => !name.startsWith('node:'))).toEqual(
      expect.not.arrayContaining(['sharp', 'onnxruntime-node', 'ag-psd']),
    );
  });

  it('the backend and the engine worker are where they are (so the check above can fail)', () => {
    const backend = requireGraph(join(ROOT, 'out/main/backend.js'));
    expect(backend.native).toContain('sharp');
    expect(backend.modules).not.toContain('electron');
    const worker = requireGraph(join(ROOT, 'out/main/engine-worker.js'));
    expect([...worker.modules, ...worker.native]).toContain('onnxruntime-node');
  });

  it('the built backend.js runs as a plain Node process: opens a picture and starts its engine worker', async () => {
    const gobject = '/usr/lib/x86_64-linux-gnu/libgobject-2.0.so.0';
    const fakeModel = mkdtempSync(join(tmpdir(), 'built-backend-model-'));
    writeFileSync(join(fakeModel, FAKE_ENGINE_FILE), JSON.stringify({ stepDelayMs: 1 }));
    const backend = new BackendClient({
      launcher: createBackendLauncher({
        entry: join(ROOT, 'out/main/backend.js'),
        config: {
          version: '1.2.3',
          configDir: mkdtempSync(join(tmpdir(), 'built-backend-')),
          engine: 'fake',
        },
        env: existsSync(gobject) ? { LD_PRELOAD: gobject, G_DEBUG: 'fatal-criticals' } : {},
      }),
      // In the app a model folder is only usable when the user picked it in a dialog.
      dialogs: {
        openFile: async () => null,
        chooseModelFolder: async () => fakeModel,
        saveProject: async () => null,
        saveExport: async () => null,
      },
    });
    try {
      const photo = new Uint8Array(readFileSync(join(ROOT, 'tests/e2e/fixtures/photo.png')));
      const opened = await backend.dispatch('document.openBytes', { name: 'photo.png', bytes: photo });
      expect(opened).toMatchObject({ ok: true, value: { name: 'photo.png' } });
      const exported = await backend.dispatch('export.bytes', { format: 'png' });
      expect(exported).toMatchObject({ ok: true, value: { mime: 'image/png' } });
      // The engine worker is found beside backend.js (out/main/engine-worker.js) and answers.
      const model = await backend.dispatch('model.chooseFolder', {});
      expect(model).toMatchObject({ ok: true });
      let status = await backend.dispatch('model.status', {});
      for (let i = 0; i < 100 && status.ok && (status.value as { state: string }).state === 'loading'; i++) {
        await new Promise((done) => setTimeout(done, 100));
        status = await backend.dispatch('model.status', {});
      }
      expect(status).toMatchObject({ ok: true, value: { state: 'ready' } });
    } finally {
      await backend.dispose();
    }
  });
});
