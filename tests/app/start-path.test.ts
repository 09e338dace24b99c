/**
 * `npm start` on a fresh clone: Electron's binary is downloaded before electron-vite looks for it,
 * and the app is launched. Runs the real `npm start` in a throwaway copy of the project against a
 * loopback mirror serving a fake Electron (a shell script that records how it was launched).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeMirror, throwawayProject, type FakeMirror } from '../support/fake-electron-mirror';

const ROOT = join(__dirname, '../..');
const ELECTRON_VERSION = (
  JSON.parse(readFileSync(join(ROOT, 'node_modules/electron/package.json'), 'utf8')) as { version: string }
).version;
const REAL_ELECTRON = join(ROOT, 'node_modules/electron');

/** The environment of a fresh machine: no Electron settings inherited from CI (ELECTRON_SKIP_BINARY_DOWNLOAD=1) or npm. */
function freshEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(electron_|npm_config_electron|npm_package_config_electron)/i.test(key)) continue;
    if (/^(node_env|http_proxy|https_proxy|vitest.*)$/i.test(key)) continue;
    env[key] = value;
  }
  return { ...env, ELECTRON_GET_NO_PROGRESS: '1', NO_PROXY: '127.0.0.1,localhost', ...extra };
}

const onPosix = process.platform !== 'win32';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** `npm start` (or `npm run dev`) in `cwd`, asynchronously: the loopback mirror answers from this process. */
function npmStart(cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number, script = 'start'): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn('npm', ['run', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', fail);
    child.on('close', (status) => {
      clearTimeout(timer);
      done({ status, stdout, stderr });
    });
  });
}

describe.skipIf(!onPosix)('npm start on a fresh clone (fake Electron from a loopback mirror)', () => {
  const cleanup: string[] = [];
  let realElectronState: string[];
  const electronState = () => ['path.txt', 'dist'].filter((name) => existsSync(join(REAL_ELECTRON, name)));
  beforeAll(() => {
    realElectronState = electronState();
  });
  afterAll(() => {
    for (const dir of cleanup) rmSync(dir, { recursive: true, force: true });
    // The real node_modules/electron is left as it was.
    expect(electronState()).toEqual(realElectronState);
  });

  function tempDir(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    cleanup.push(dir);
    return dir;
  }

  /** A fresh machine's environment pointed at the loopback mirror, with an empty download cache. */
  function mirrorEnv(mirror: FakeMirror, marker: string): NodeJS.ProcessEnv {
    return freshEnv({
      ELECTRON_MIRROR: mirror.url,
      electron_use_remote_checksums: '1',
      electron_config_cache: tempDir('electron-cache-'),
      FAKE_ELECTRON_MARKER: marker,
    });
  }

  it.each(['start', 'dev'])(
    'npm run %s downloads Electron, builds the app and launches Electron with the project root',
    async (script) => {
      const project = throwawayProject(ROOT);
      cleanup.push(project);
      const marker = join(tempDir('marker-'), 'launched.txt');
      const mirror: FakeMirror = await startFakeMirror(ELECTRON_VERSION);
      try {
        const run = await npmStart(project, mirrorEnv(mirror, marker), 180_000, script);
        expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
        expect(mirror.requests).toContain(
          `/v${ELECTRON_VERSION}/electron-v${ELECTRON_VERSION}-${process.platform}-${process.arch}.zip`,
        );
        // electron's downloader wrote the pointer electron-vite reads, in the copy's package.
        expect(readFileSync(join(project, 'node_modules/electron/path.txt'), 'utf8')).toBe(
          process.platform === 'darwin' ? 'Electron.app/Contents/MacOS/Electron' : 'electron',
        );
        const launch = readFileSync(marker, 'utf8').trim().split('\n');
        expect(launch[0]).toBe(`cwd=${realpathSync(project)}`);
        // Launched with the project root ('.'), whose package.json names the built main entry.
        expect(launch.slice(2)).toContain('arg=.');
        const main = (JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as { main: string })
          .main;
        expect(existsSync(join(project, main))).toBe(true);
        expect(existsSync(join(project, 'out/main/engine-worker.js'))).toBe(true);
        expect(existsSync(join(project, 'out/preload/index.js'))).toBe(true);
        if (script === 'start') {
          // The built renderer, loaded from the app protocol.
          expect(launch[1]).toBe('renderer=');
          expect(existsSync(join(project, 'out/renderer/index.html'))).toBe(true);
        } else {
          // Development: the renderer comes from Vite's dev server.
          expect(launch[1]).toMatch(/^renderer=http:\/\/(localhost|127\.0\.0\.1|\[::1\]):\d+/);
        }
      } finally {
        await mirror.close();
      }
    },
    240_000,
  );

  it('stops with advice (mirror, proxy, what to do) when the download fails', async () => {
    const project = throwawayProject(ROOT);
    cleanup.push(project);
    const mirror = await startFakeMirror(ELECTRON_VERSION, { missing: true });
    try {
      const run = await npmStart(
        project,
        mirrorEnv(mirror, join(tempDir('marker-'), 'launched.txt')),
        120_000,
      );
      expect(run.status).not.toBe(0);
      expect(mirror.requests.length).toBeGreaterThan(0);
      const output = run.stderr;
      expect(output).toContain('404');
      expect(output).toContain(`could not download Electron ${ELECTRON_VERSION}`);
      expect(output).toContain(`ELECTRON_MIRROR=${mirror.url}`);
      expect(output).toContain('HTTPS_PROXY');
      // It stopped before electron-vite (whose own message would be "Electron uninstall").
      expect(`${run.stdout}${run.stderr}`).not.toContain('Electron uninstall');
      expect(existsSync(join(project, 'out'))).toBe(false);
      expect(existsSync(join(project, 'node_modules/electron/path.txt'))).toBe(false);
    } finally {
      await mirror.close();
    }
  }, 180_000);
});

describe('Node.js version check before start', () => {
  const check = (version: string) =>
    spawnSync(
      process.execPath,
      [
        '--import',
        `data:text/javascript,Object.defineProperty(process.versions,"node",{value:"${version}"})`,
        join(ROOT, 'scripts/ensure-electron.mjs'),
      ],
      // ELECTRON_EXEC_PATH: a supported Node goes no further than the check (nothing to download).
      { encoding: 'utf8', env: { ...freshEnv({}), ELECTRON_EXEC_PATH: process.execPath } },
    );

  it.each(['18.20.4', '20.18.1', '21.7.3', '22.12.0'])(
    'refuses Node %s with a readable message',
    (version) => {
      const run = check(version);
      expect(run.status).toBe(1);
      expect(run.stderr).toContain(
        `Instruct Edit needs Node.js ^20.19.0 || >=22.13.0; this is Node.js ${version}.`,
      );
      expect(run.stderr).not.toContain(' at '); // a message, not a stack trace
    },
  );

  it.each(['20.19.0', '22.13.0', '24.1.0'])('accepts Node %s', (version) => {
    const run = check(version);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  it('matches package.json engines and runs before start and dev', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      engines: { node: string };
      scripts: Record<string, string>;
    };
    expect(pkg.engines.node).toBe('^20.19.0 || >=22.13.0');
    expect(pkg.scripts.prestart).toBe('node scripts/ensure-electron.mjs');
    expect(pkg.scripts.predev).toBe('node scripts/ensure-electron.mjs');
  });
});
