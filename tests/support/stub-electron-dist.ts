/**
 * A stand-in for Electron's unpacked Linux distribution, for `electron-builder --dir -c.electronDist=…`
 * where Electron's binary cannot be downloaded. Its `electron` is a shell script that carries a fuse
 * wire (the sentinel @electron/fuses looks for, then version 1, 8 fuses in Electron's default
 * states), so electron-builder can flip the fuses and a test can read them back.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const FUSE_SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
/** Electron's defaults: RunAsNode on, cookie encryption off, NODE_OPTIONS on, --inspect on, asar integrity off, only-asar off, browser snapshot off, file:// privileges on. */
const DEFAULT_FUSE_STATES = '10110001';

export function makeStubElectronDist(dir: string, version: string): string {
  mkdirSync(join(dir, 'locales'), { recursive: true });
  mkdirSync(join(dir, 'resources'), { recursive: true });
  const executable = Buffer.concat([
    Buffer.from(`#!/bin/sh\nexit 0\n# ${FUSE_SENTINEL}`),
    Buffer.from([1, DEFAULT_FUSE_STATES.length]),
    Buffer.from(`${DEFAULT_FUSE_STATES}\n`),
  ]);
  writeFileSync(join(dir, 'electron'), executable);
  chmodSync(join(dir, 'electron'), 0o755);
  writeFileSync(join(dir, 'version'), version);
  writeFileSync(join(dir, 'LICENSE'), 'MIT (stub)\n');
  writeFileSync(join(dir, 'LICENSES.chromium.html'), '<html></html>\n');
  writeFileSync(join(dir, 'resources.pak'), 'stub');
  writeFileSync(join(dir, 'locales', 'en-US.pak'), 'stub');
  return dir;
}
