/**
 * Electron's main process (which has Chromium's GTK and the system GLib) must not load native
 * image code: sharp and onnxruntime run in the backend and engine processes only. Checked on the
 * built bundle, following every require from out/main/index.js.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

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

describe('the built main process', () => {
  beforeAll(async () => {
    const { build } = await import('electron-vite');
    await build({ root: ROOT, logLevel: 'warn' });
  }, 120_000);

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
});
