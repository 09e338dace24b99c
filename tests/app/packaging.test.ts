/**
 * The packaged Linux app, built as `npm run dist` builds it (electron-vite build, then
 * electron-builder with this project's configuration; `--dir` because the AppImage/deb tools are
 * downloaded and this machine is offline) against a stub Electron distribution. Checks what ships:
 * only this platform's native binaries, unpacked; the engine worker where the main process looks
 * for it; the size; the Electron fuses; and that the packaged engine worker, run under Node, edits
 * a generated model exactly as the development worker does.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appIconPath } from '../../src/main/app/app-icon';
import { EngineHost } from '../../src/main/app/engine-host';
import { createNodeLauncher } from '../../src/main/app/engine/node-launcher';
import { makeTinyModel } from '../../src/main/engine/tiny-model/tiny-model';
import type { EditSettings, RgbImage } from '../../src/shared/engine-types';
import { makeStubElectronDist } from '../support/stub-electron-dist';

const ROOT = join(__dirname, '../..');
const require = createRequire(__filename);
const asar = require('@electron/asar') as {
  listPackage(archive: string, options: { isPack: boolean }): string[];
  extractFile(archive: string, file: string): Buffer;
  extractAll(archive: string, dest: string): void;
};
const { getCurrentFuseWire, FuseV1Options } = require('@electron/fuses') as {
  getCurrentFuseWire(binary: string): Promise<Record<number, number>>;
  FuseV1Options: Record<string, number>;
};
const ELECTRON_VERSION = (require('electron/package.json') as { version: string }).version;

/** The whole payload (app.asar and what is unpacked beside it) must stay under this; measured 79 MB. */
const PAYLOAD_BUDGET_BYTES = 100 * 1024 * 1024;

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((done, fail) => {
    const childEnv = { ...process.env, ...env };
    delete childEnv.NODE_ENV; // vitest's 'test' would give a development build
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', fail);
    child.on('close', (code) =>
      code === 0 ? done(output) : fail(new Error(`${args.join(' ')} exited with ${code}:\n${output}`)),
    );
  });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)));
}

function sizeOf(dir: string): number {
  return filesUnder(dir).reduce((total, file) => total + statSync(join(dir, file)).size, 0);
}

const source: RgbImage = {
  width: 64,
  height: 64,
  data: Uint8Array.from({ length: 64 * 64 * 3 }, (_, index) => (index * 37) % 256),
};
const settings: EditSettings = {
  instruction: 'make it red',
  steps: 3,
  textGuidance: 7.5,
  imageGuidance: 1.5,
  seed: 42,
  scheduler: 'euler-ancestral',
  resolution: 'native',
};

const onLinuxX64 = process.platform === 'linux' && process.arch === 'x64';

describe.skipIf(!onLinuxX64)('packaged Linux x64 app (electron-builder --dir, stub Electron)', () => {
  let work: string;
  let appDir: string;
  let resources: string;
  let archive: string;
  let asarFiles: string[];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'packaging-'));
    appDir = join(work, 'dist', 'linux-unpacked');
    resources = join(appDir, 'resources');
    archive = join(resources, 'app.asar');
    // out/ was built by `electron-vite build` once for the whole run (tests/global-build.ts).
    const stub = makeStubElectronDist(join(work, 'electron-dist'), ELECTRON_VERSION);
    await run([
      join(ROOT, 'node_modules/electron-builder/cli.js'),
      '--linux',
      '--x64',
      '--dir',
      `-c.electronDist=${stub}`,
      `-c.directories.output=${join(work, 'dist')}`,
    ]);
    asarFiles = asar.listPackage(archive, { isPack: false }).map((file) => file.replace(/\\/g, '/'));
  }, 300_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('unpacks the Linux x64 native binaries and ships no other platform’s', () => {
    const unpacked = join(resources, 'app.asar.unpacked');
    const onnxBin = join(unpacked, 'node_modules/onnxruntime-node/bin/napi-v6');
    expect(readdirSync(onnxBin)).toEqual(['linux']);
    expect(readdirSync(join(onnxBin, 'linux'))).toEqual(['x64']);
    expect(readdirSync(join(onnxBin, 'linux/x64')).sort()).toEqual([
      'libonnxruntime.so.1',
      'onnxruntime_binding.node',
    ]);
    expect(readdirSync(join(unpacked, 'node_modules/@img')).sort()).toEqual([
      'colour',
      'sharp-libvips-linux-x64',
      'sharp-linux-x64',
    ]);
    const everything = filesUnder(resources);
    expect(everything.filter((file) => /\.(dll|dylib|exe)$|darwin|win32/.test(file))).toEqual([]);
    // ag-psd stays inside the asar, without its V8 code cache.
    expect(existsSync(join(unpacked, 'node_modules/ag-psd'))).toBe(false);
    expect(asarFiles).toContain('/node_modules/ag-psd/package.json');
    expect(asarFiles.filter((file) => file.includes('.v8-cache'))).toEqual([]);
  });

  it('packs only the built app, its icon, package.json and the production dependencies', () => {
    const topLevel = [...new Set(asarFiles.map((file) => file.split('/')[1]))].sort();
    expect(topLevel).toEqual(['node_modules', 'out', 'package.json', 'resources']);
    expect(asarFiles.filter((file) => file.startsWith('/resources/'))).toEqual(['/resources/icon.png']);
  });

  it('puts the backend and the engine worker beside the main bundle, where the code looks for them', () => {
    const pkg = JSON.parse(asar.extractFile(archive, 'package.json').toString()) as { main: string };
    expect(pkg.main).toBe('out/main/index.js');
    const mainDir = dirname(`/${pkg.main}`);
    expect(asarFiles).toContain(`${mainDir}/index.js`);
    expect(asarFiles).toContain(`${mainDir}/backend.js`);
    expect(asarFiles).toContain(`${mainDir}/engine-worker.js`);
    expect(asarFiles).toContain(`${mainDir}/document-worker.js`);
    expect(asar.extractFile(archive, 'out/main/index.js').toString()).toContain('backend.js');
    expect(asar.extractFile(archive, 'out/main/backend.js').toString()).toContain('engine-worker.js');
    expect(asar.extractFile(archive, 'out/main/backend.js').toString()).toContain('document-worker.js');
    // The window icon, at the path appIconPath computes from the main bundle's directory.
    expect(asarFiles).toContain(appIconPath(mainDir));
    const icon = asar.extractFile(archive, 'resources/icon.png');
    expect(icon.subarray(1, 4).toString()).toBe('PNG');
  });

  it('keeps the payload under its budget', () => {
    const payload = sizeOf(resources);
    console.info(
      `packaged payload: ${(payload / 1024 / 1024).toFixed(1)} MB (app.asar ${(statSync(archive).size / 1024 / 1024).toFixed(1)} MB)`,
    );
    expect(payload).toBeLessThan(PAYLOAD_BUDGET_BYTES);
  });

  it('sets the Electron fuses in the packaged executable', async () => {
    const wire = await getCurrentFuseWire(join(appDir, 'instruct-edit'));
    const off = '0'.charCodeAt(0);
    const on = '1'.charCodeAt(0);
    expect(wire[FuseV1Options.RunAsNode!]).toBe(on);
    expect(wire[FuseV1Options.EnableNodeOptionsEnvironmentVariable!]).toBe(off);
    expect(wire[FuseV1Options.EnableNodeCliInspectArguments!]).toBe(off);
    expect(wire[FuseV1Options.EnableEmbeddedAsarIntegrityValidation!]).toBe(on);
    expect(wire[FuseV1Options.OnlyLoadAppFromAsar!]).toBe(on);
    expect(wire[FuseV1Options.GrantFileProtocolExtraPrivileges!]).toBe(off);
  });

  it('runs the packaged engine worker under Node and edits like the development worker', async () => {
    const extracted = join(work, 'extracted');
    asar.extractAll(archive, extracted); // unpacked files are copied from app.asar.unpacked
    const model = join(work, 'model');
    mkdirSync(model);
    await makeTinyModel(model, { flavor: 'optimum' });

    const edit = async (entry?: string) => {
      const host = new EngineHost({ launcher: createNodeLauncher({ entry }) });
      try {
        const info = await host.loadModel(model, 'cpu');
        expect(info.provider).toBe('cpu');
        return (await host.edit(source, settings)).image;
      } finally {
        await host.dispose();
      }
    };
    const packaged = await edit(join(extracted, 'out/main/engine-worker.js'));
    expect([packaged.width, packaged.height]).toEqual([64, 64]);
    expect(packaged.data.length).toBe(64 * 64 * 3);
    expect(new Set(packaged.data).size).toBeGreaterThan(16); // an image, not a constant fill
    const development = await edit();
    expect(Buffer.from(packaged.data).equals(Buffer.from(development.data))).toBe(true);

    // sharp loads from the packaged node_modules and converts an image (libvips resolved beside it).
    const sharpCheck = await run([
      '-e',
      `require(${JSON.stringify(join(extracted, 'node_modules/sharp'))})` +
        `({create:{width:3,height:2,channels:3,background:'#ff0000'}}).png().toBuffer()` +
        `.then(b=>require(${JSON.stringify(join(extracted, 'node_modules/sharp'))})(b).metadata())` +
        `.then(m=>console.log(m.format,m.width,m.height))`,
    ]);
    expect(sharpCheck.trim()).toBe('png 3 2');
  }, 180_000);
});

describe('dist refuses a target whose native packages are absent', () => {
  const check = (...args: string[]) =>
    run([join(ROOT, 'scripts/check-dist-target.mjs'), ...args]).then(
      (output) => ({ ok: true, output }),
      (error: Error) => ({ ok: false, output: error.message }),
    );

  it.skipIf(!onLinuxX64)('accepts this machine (Linux x64)', async () => {
    expect(await check('--linux', '--x64')).toEqual({
      ok: true,
      output: 'Native packages for Linux x64 are installed.\n',
    });
  });

  it.skipIf(process.platform !== 'linux')(
    'refuses Windows and macOS builds on Linux, naming what is missing',
    async () => {
      const windows = await check('--win');
      expect(windows.ok).toBe(false);
      expect(windows.output).toContain('Cannot build the Windows x64 app: missing');
      expect(windows.output).toContain('node_modules/@img/sharp-win32-x64/package.json');
      expect(windows.output).toContain('build Windows installers on Windows');
      const mac = await check('--mac', '--x64');
      expect(mac.output).toContain(
        'node_modules/onnxruntime-node/bin/napi-v6/darwin/x64/onnxruntime_binding.node',
      );
      expect(mac.output).toContain('macOS builds are arm64 (Apple silicon) only');
      expect(mac.output).toContain('build macOS installers on macOS');
    },
  );

  it.skipIf(process.platform !== 'linux')(
    'stops electron-builder itself (beforePack) for Windows on Linux',
    async () => {
      const stub = makeStubElectronDist(mkdtempSync(join(tmpdir(), 'stub-electron-')), ELECTRON_VERSION);
      const output = mkdtempSync(join(tmpdir(), 'packaging-win-'));
      try {
        const result = await run([
          join(ROOT, 'node_modules/electron-builder/cli.js'),
          '--win',
          '--dir',
          `-c.electronDist=${stub}`,
          `-c.directories.output=${output}`,
        ]).then(
          () => 'built',
          (error: Error) => error.message,
        );
        expect(result).toContain('Cannot build the Windows x64 app: missing');
        expect(existsSync(join(output, 'win-unpacked/resources/app.asar'))).toBe(false);
      } finally {
        rmSync(stub, { recursive: true, force: true });
        rmSync(output, { recursive: true, force: true });
      }
    },
    120_000,
  );
});
