/**
 * A loopback stand-in for Electron's release server, and a throwaway copy of the project to run
 * `npm start` in. Electron's package downloads its binary into its own folder (dist/, path.txt), so
 * the copy gets its own `electron` and `electron-vite` packages (electron-vite finds Electron
 * relative to itself); every other package is a symlink into the real node_modules.
 */
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, symlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { zipSync } from 'fflate';

/** Where Electron's zip keeps its executable, per platform (as in electron's install.js). */
export function electronExecutableInZip(platform: NodeJS.Platform = process.platform): string {
  if (platform === 'darwin') return 'Electron.app/Contents/MacOS/Electron';
  if (platform === 'win32') return 'electron.exe';
  return 'electron';
}

/**
 * A zip shaped like Electron's release: the executable is a shell script that writes its working
 * directory, the dev server's URL (if any) and its arguments, one per line, to the file named by
 * $FAKE_ELECTRON_MARKER, and exits 0.
 */
export function fakeElectronZip(version: string): Uint8Array {
  const script = [
    '#!/bin/sh',
    '{ echo "cwd=$(pwd -P)"; echo "renderer=$ELECTRON_RENDERER_URL"; for arg in "$@"; do echo "arg=$arg"; done; } > "$FAKE_ELECTRON_MARKER"',
    'exit 0',
    '',
  ].join('\n');
  const executableMode = 0o100755 << 16; // Unix mode in the zip entry's external attributes
  return zipSync({
    [electronExecutableInZip()]: [new TextEncoder().encode(script), { os: 3, attrs: executableMode }],
    version: new TextEncoder().encode(version),
  });
}

export interface FakeMirror {
  /** For ELECTRON_MIRROR: ends with a slash; @electron/get appends `v<version>/<file>`. */
  url: string;
  /** Paths requested so far. */
  requests: string[];
  close(): Promise<void>;
}

/** Serves `electron-v<version>-<platform>-<arch>.zip` and SHASUMS256.txt; `missing` answers 404 to all. */
export async function startFakeMirror(
  version: string,
  options: { missing?: boolean } = {},
): Promise<FakeMirror> {
  const zipName = `electron-v${version}-${process.platform}-${process.arch}.zip`;
  const zip = Buffer.from(fakeElectronZip(version));
  const sha256 = createHash('sha256').update(zip).digest('hex');
  const files = new Map<string, Buffer>([
    [`/v${version}/${zipName}`, zip],
    [`/v${version}/SHASUMS256.txt`, Buffer.from(`${sha256} *${zipName}\n`)],
  ]);
  const requests: string[] = [];
  const server: Server = createServer((request, response) => {
    const path = request.url ?? '/';
    requests.push(path);
    const body = options.missing ? undefined : files.get(path);
    if (!body) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    response.writeHead(200, { 'content-type': 'application/zip', 'content-length': body.length }).end(body);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}

/** Packages copied (not linked) into the throwaway project, so that nothing is written into the real ones. */
const COPIED_PACKAGES = ['electron', 'electron-vite'];
const PROJECT_FILES = ['package.json', 'electron.vite.config.ts', 'src', 'scripts', 'resources'];

/** A copy of the project at `root` whose node_modules links to the real one except for Electron's packages. */
export function throwawayProject(root: string): string {
  const project = mkdtempSync(join(tmpdir(), 'start-path-'));
  for (const entry of readdirSync(root)) {
    if (PROJECT_FILES.includes(entry) || /^tsconfig.*\.json$/.test(entry))
      cpSync(join(root, entry), join(project, entry), { recursive: true });
  }
  const realModules = join(root, 'node_modules');
  const modules = join(project, 'node_modules');
  mkdirSync(join(modules, '.bin'), { recursive: true });
  for (const entry of readdirSync(realModules)) {
    if (entry === '.bin') continue;
    if (COPIED_PACKAGES.includes(entry))
      cpSync(join(realModules, entry), join(modules, entry), {
        recursive: true,
        // electron's own node_modules holds only type packages; its downloader comes from the top level.
        filter: (source) => !source.startsWith(join(realModules, 'electron', 'node_modules')),
      });
    else symlinkSync(join(realModules, entry), join(modules, entry));
  }
  // The command shims: npm runs node_modules/.bin/electron-vite, which must be the copy.
  const realBin = join(realModules, '.bin');
  for (const entry of readdirSync(realBin)) {
    const target = resolve(realBin, readlinkSync(join(realBin, entry)));
    const copied = COPIED_PACKAGES.find((name) => target.startsWith(join(realModules, name) + '/'));
    symlinkSync(copied ? target.replace(realModules, modules) : target, join(modules, '.bin', entry));
  }
  return project;
}
