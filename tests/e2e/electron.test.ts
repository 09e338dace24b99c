/**
 * Electron-only checks with Playwright's _electron: the window's security settings, the preload's
 * exact API, CSP, denied navigation and new windows, and a call through IPC. They need Electron's
 * binary; where it is not installed (as in CI here) they are skipped with that reason.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { _electron, type ElectronApplication, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUTPUT, ROOT, tempDir } from './support/harness';
import { virtualDisplayIfNeeded, type VirtualDisplay } from './support/virtual-display';

/**
 * Where `require('electron')` would point, found without requiring it: Electron 45's index.js
 * starts a download when the binary is missing, and tests must not reach the network.
 */
function findElectron(): { path: string | null; reason: string } {
  let packageDir: string;
  try {
    packageDir = dirname(createRequire(__filename).resolve('electron/package.json'));
  } catch {
    return { path: null, reason: 'the electron package is not installed' };
  }
  const pathFile = join(packageDir, 'path.txt');
  if (!existsSync(pathFile))
    return { path: null, reason: `the Electron binary is not installed (${pathFile} is missing)` };
  const relative = readFileSync(pathFile, 'utf8').trim();
  const override = process.env.ELECTRON_OVERRIDE_DIST_PATH;
  const binary = override ? join(override, relative) : join(packageDir, 'dist', relative);
  if (!existsSync(binary)) return { path: null, reason: `the Electron binary is missing at ${binary}` };
  return { path: binary, reason: '' };
}

const electron = findElectron();

if (!electron.path) {
  console.warn(`Electron tests skipped: ${electron.reason}`);
  describe('Electron app', () => {
    it.skip(`skipped: ${electron.reason}`, () => undefined);
  });
} else {
  describe('Electron app', () => {
    let app: ElectronApplication;
    let page: Page;
    let display: VirtualDisplay | null = null;

    beforeAll(async () => {
      const { build } = await import('electron-vite');
      await build({ root: ROOT, logLevel: 'warn' });
      // Linux without a display (CI): an Xvfb server, as xvfb-run would give.
      display = await virtualDisplayIfNeeded();
      // The project root, as `electron .` runs it: Electron reads package.json there, so the app's
      // name and version are ours (a bare script path would give Electron's own).
      app = await _electron.launch({
        executablePath: electron.path!,
        args: [ROOT, `--user-data-dir=${tempDir('electron-user-')}`],
        env: {
          ...process.env,
          INSTRUCT_EDIT_ENGINE: 'fake',
          ...(display ? { DISPLAY: display.display } : {}),
        },
      });
      page = await app.firstWindow();
      await page.waitForLoadState('domcontentloaded');
    }, 120_000);

    afterAll(async () => {
      await app?.close();
      display?.close();
    });

    it("runs as this project: our name and version, not Electron's", async () => {
      const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
        version: string;
        productName: string;
      };
      const seen = await app.evaluate(({ app: electronApp }) => ({
        name: electronApp.getName(),
        version: electronApp.getVersion(),
      }));
      expect(seen).toEqual({ name: pkg.productName, version: pkg.version });
      const info = await page.evaluate(`window.instructEdit.call('app.info', {})`);
      expect(info).toMatchObject({ ok: true, value: { version: pkg.version } });
    });

    it('exposes exactly the contract API and nothing of Node', async () => {
      const seen = await page.evaluate(`({
        keys: Object.keys(window.instructEdit ?? {}).sort(),
        require: typeof window.require,
        process: typeof window.process,
      })`);
      expect(seen).toEqual({
        keys: ['call', 'onEvent', 'platform'],
        require: 'undefined',
        process: 'undefined',
      });
      const info = await page.evaluate(`window.instructEdit.call('app.info', {})`);
      expect(info).toMatchObject({ ok: true, value: { mode: 'electron', nativeDialogs: true } });
      const refused = await page.evaluate(`window.instructEdit.call('fs.readFile', {})`);
      expect(refused).toMatchObject({ ok: false, error: { code: 'unknown-call' } });
    });

    it('denies new windows and navigation, and has a CSP', async () => {
      const opened = await page.evaluate(`window.open('https://example.com') === null`);
      expect(opened).toBe(true);
      expect(app.windows()).toHaveLength(1);
      const before = page.url();
      await page.evaluate(`window.location.href = 'https://example.com'`);
      await page.waitForTimeout(500);
      expect(page.url()).toBe(before);
      const csp = await page.evaluate(
        `fetch(location.href).then((response) => response.headers.get('content-security-policy'))`,
      );
      expect(csp).toContain("default-src 'self'");
      await page.screenshot({ path: join(OUTPUT, 'electron-window.png') });
    });
  });
}
