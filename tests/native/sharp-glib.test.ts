/**
 * sharp next to the system's GLib (what every process of Electron's binary has on Linux,
 * electron#46323): reproduced in plain Node by preloading Debian's libgobject, with
 * G_DEBUG=fatal-criticals so the first GLib-GObject-CRITICAL aborts the process.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EngineHost } from '../../src/main/app/engine-host';
import { createNodeLauncher } from '../../src/main/app/engine/node-launcher';
import { makeTinyModel } from '../../src/main/engine/tiny-model/tiny-model';

const ROOT = resolve(__dirname, '../..');
const SYSTEM_GOBJECT = [
  '/usr/lib/x86_64-linux-gnu/libgobject-2.0.so.0',
  '/usr/lib/aarch64-linux-gnu/libgobject-2.0.so.0',
].find((path) => existsSync(path));
const skipReason =
  process.platform !== 'linux'
    ? 'the GLib clash is a Linux problem'
    : !SYSTEM_GOBJECT
      ? 'the system libgobject-2.0.so.0 is not installed (apt-get install libglib2.0-0)'
      : '';

function runWorkload(mode: 'plain' | 'isolated') {
  return spawnSync(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'tests/support/sharp-workload.ts'), mode],
    {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, LD_PRELOAD: SYSTEM_GOBJECT, G_DEBUG: 'fatal-criticals' },
    },
  );
}

describe.skipIf(skipReason !== '')(
  `sharp with the system GLib loaded${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    it('plain sharp aborts on a GLib-GObject-CRITICAL (the problem this guards against)', () => {
      const run = runWorkload('plain');
      expect(run.signal ?? run.status).not.toBe(0);
      expect(run.stderr).toMatch(/GLib-GObject-CRITICAL/);
    });

    it('sharp through the app’s loader (RTLD_DEEPBIND) stays clean and reads its pixels back', () => {
      const run = runWorkload('isolated');
      expect(run.stderr).not.toMatch(/CRITICAL|WARNING/);
      expect(run.status).toBe(0);
      const result = JSON.parse(run.stdout.trim()) as { sum: number; expected: number };
      expect(result.sum).toBe(result.expected);
    });

    it('the engine worker (onnxruntime, and sharp resizing) edits a picture without a GLib critical', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'glib-engine-'));
      await makeTinyModel(join(dir, 'model'), { flavor: 'optimum' });
      const host = new EngineHost({
        launcher: createNodeLauncher({
          engine: 'onnx',
          env: { LD_PRELOAD: SYSTEM_GOBJECT, G_DEBUG: 'fatal-criticals' },
        }),
      });
      try {
        await host.loadModel(join(dir, 'model'), 'auto');
        // 100×70 is processed at 64×64: sharp resizes in the worker before inference.
        const data = Uint8Array.from({ length: 100 * 70 * 3 }, (_, i) => (i * 13) % 256);
        const result = await host.edit(
          { width: 100, height: 70, data },
          {
            instruction: 'make it red',
            steps: 2,
            textGuidance: 7.5,
            imageGuidance: 1.5,
            seed: 3,
            scheduler: 'euler',
            resolution: 'native',
          },
        );
        expect([result.processedSource.width, result.processedSource.height]).toEqual([64, 64]);
        expect(result.image.data.length).toBe(result.image.width * result.image.height * 3);
        expect(host.status().state).toBe('ready');
      } finally {
        await host.dispose();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  },
);
