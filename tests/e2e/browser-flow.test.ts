/**
 * Browser mode, end to end, through the real UI in Chromium: a wrong model folder shows the
 * loader's message; open an image → "make it red" → progress → a new layer and a history message →
 * re-run with other guidance → a second variant → pick the first → hide the layer → paint a mask →
 * export PSD and PNG (read back) → undo/redo; cancel mid-run; kill the engine process mid-run → an
 * error, and the next edit works. Screenshots of each state go to test-output/e2e/.
 */
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProject } from '../../src/main/document/project-file';
import type { AppClient } from '../../src/shared/contract/client';
import { orderedLayers } from '../../src/shared/document';
import { readPsdPixels } from '../support/psd-reader';
import {
  apiClient,
  buildRenderer,
  CHROMIUM,
  launchBrowser,
  makeModelFolder,
  OUTPUT,
  screenshot,
  startApp,
  tempDir,
  type ModelFolder,
  type RunningApp,
} from './support/harness';

const PHOTO = join(__dirname, 'fixtures/photo.png');
const hasChromium = existsSync(CHROMIUM);

describe.skipIf(!hasChromium)('browser mode end to end', () => {
  let app: RunningApp;
  let rendererDir: string;
  let model: ModelFolder;
  let context: BrowserContext;
  let page: Page;
  let errors: string[];
  let api: AppClient;

  beforeAll(async () => {
    rendererDir = await buildRenderer();
    // The random model: its steps are slow enough for the cancel and crash tests to catch an edit running.
    model = await makeModelFolder(60, 'random');
    if (model.reason) console.warn(model.reason);
    app = await startApp({ rendererDir, engine: model.engine });
    api = apiClient(app);
    ({ context, page, errors } = await launchBrowser());
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    api?.close();
    await app?.stop();
  });

  const layerRows = () => page.getByTestId('layer-row');
  const messages = () => page.getByTestId('message');
  const lastMessage = () => messages().last();

  async function send(instruction: string, options: { steps?: number } = {}) {
    if (options.steps !== undefined) await page.getByTestId('steps').fill(String(options.steps));
    await page.getByTestId('instruction-input').fill(instruction);
    await page.getByTestId('instruction-input').press('Control+Enter');
  }

  it('refuses the page without the token', async () => {
    const bare = await context.newPage();
    await bare.goto(app.baseUrl + '/');
    expect(await bare.getByTestId('toast-error').first().textContent({ timeout: 15_000 })).toContain(
      'refused',
    );
    await bare.close();
  });

  it('shows the model manager on first start and the loader message for a wrong folder', async () => {
    await page.goto(app.url);
    await page.getByTestId('model-dialog').waitFor();
    await screenshot(page, 'first-start-model-dialog');
    await page.getByTestId('model-folder-input').fill(tempDir('not-a-model-'));
    await page.getByTestId('model-folder-use').click();
    const message = page.getByTestId('model-error');
    await message.waitFor();
    expect((await message.textContent())?.length).toBeGreaterThan(10);
    await screenshot(page, 'wrong-model-folder');

    await page.getByTestId('model-folder-input').fill(model.dir);
    await page.getByTestId('model-folder-use').click();
    // A folder that loads closes the dialog; the model pill says it is ready.
    await page.getByTestId('model-dialog').waitFor({ state: 'detached', timeout: 60_000 });
    await expect.poll(() => page.getByTestId('model-pill').textContent()).toContain('ready');
    await screenshot(page, 'model-ready');
    expect(page.url()).not.toContain('token=');
  }, 90_000);

  it('opens an image, runs "make it red" with progress, and adds a layer and a history message', async () => {
    const chooser = page.waitForEvent('filechooser');
    await page.getByTestId('empty-open').click();
    await (await chooser).setFiles(PHOTO);
    await page.locator('[data-testid=canvas] canvas').first().waitFor();
    await expect.poll(() => layerRows().count()).toBe(1);
    await screenshot(page, 'image-opened');

    await send('make it red', { steps: 12 });
    await lastMessage()
      .locator('[data-status=running], [data-testid=job-progress]')
      .first()
      .waitFor({ timeout: 30_000 })
      .catch(() => undefined);
    await screenshot(page, 'edit-running');
    await page.locator('[data-testid=message][data-status=done]').first().waitFor({ timeout: 120_000 });
    await expect.poll(() => layerRows().count()).toBe(2);
    expect(await lastMessage().getByTestId('message-instruction').textContent()).toBe('make it red');
    expect(await lastMessage().getByTestId('settings-chips').textContent()).toContain('text 7.5');
    await screenshot(page, 'edit-done');
  }, 180_000);

  it('re-runs with other guidance into a second variant, then picks the first', async () => {
    await lastMessage().getByTestId('rerun').click();
    await page.getByTestId('rerun-banner').waitFor();
    await page.getByTestId('text-guidance').fill('12');
    await page.getByTestId('image-guidance').fill('1.2');
    await screenshot(page, 'rerun-settings');
    await page.getByTestId('send').click();
    await expect.poll(() => lastMessage().getByTestId('variant').count(), { timeout: 120_000 }).toBe(2);
    await expect.poll(() => lastMessage().getAttribute('data-status'), { timeout: 120_000 }).toBe('done');
    expect(await messages().count()).toBe(1);
    expect(await lastMessage().getByTestId('variant').nth(1).getAttribute('data-picked')).toBe('true');
    expect(await lastMessage().getByTestId('settings-chips').textContent()).toContain('text 12');
    await screenshot(page, 'second-variant');

    await lastMessage().getByTestId('variant').first().click();
    await expect
      .poll(() => lastMessage().getByTestId('variant').first().getAttribute('data-picked'))
      .toBe('true');
    expect(await lastMessage().getByTestId('settings-chips').textContent()).toContain('text 7.5');
    await screenshot(page, 'first-variant-picked');
  }, 240_000);

  it('hides the layer, paints a mask, and exports PSD and PNG that read back with the layers', async () => {
    const editRow = layerRows().first();
    await editRow.getByTestId('layer-visibility').click();
    await expect
      .poll(() => editRow.getByTestId('layer-visibility').getAttribute('aria-pressed'))
      .toBe('false');
    await screenshot(page, 'layer-hidden');

    await editRow.click();
    await page.getByTestId('tool-mask').click();
    await page.getByTestId('brush-size').fill('80');
    const box = (await page.getByTestId('canvas').boundingBox())!;
    const cx = box.x + box.width / 2;
    const cy = box.y + box.height / 2;
    await page.mouse.move(cx - 120, cy - 40);
    await page.mouse.down();
    for (let i = 0; i <= 12; i++) await page.mouse.move(cx - 120 + i * 20, cy - 40 + Math.sin(i / 2) * 40);
    await page.mouse.up();
    await editRow.getByTestId('mask-badge').waitFor({ timeout: 15_000 });
    // Show it again so the mask is visible in the screenshot (the PSD is checked for both states below).
    await editRow.getByTestId('layer-visibility').click();
    await expect
      .poll(() => editRow.getByTestId('layer-visibility').getAttribute('aria-pressed'))
      .toBe('true');
    await screenshot(page, 'mask-painted');
    await editRow.getByTestId('layer-visibility').click();
    await expect
      .poll(() => editRow.getByTestId('layer-visibility').getAttribute('aria-pressed'))
      .toBe('false');
    await page.getByTestId('tool-move').click();

    const psdDownload = page.waitForEvent('download');
    await page.getByTestId('export-psd').click();
    const psdPath = join(OUTPUT, 'export.psd');
    await (await psdDownload).saveAs(psdPath);
    const pngDownload = page.waitForEvent('download');
    await page.getByTestId('export-png').click();
    const pngPath = join(OUTPUT, 'export.png');
    await (await pngDownload).saveAs(pngPath);

    const psd = readPsdPixels(await readFile(psdPath), { skipThumbnail: true });
    expect(psd.width).toBe(320);
    expect(psd.height).toBe(240);
    const names = (psd.children ?? []).map((layer) => layer.name);
    expect(names).toHaveLength(2);
    expect(names[1]).toBe('make it red');
    const edit = psd.children![1]!;
    expect(edit.hidden).toBe(true);
    expect(edit.mask).toBeDefined();
    expect(edit.mask?.imageData).toBeDefined();

    const png = await sharp(await readFile(pngPath)).metadata();
    expect([png.width, png.height]).toEqual([320, 240]);
  }, 120_000);

  it('undoes and redoes with the keyboard', async () => {
    await page
      .locator('body')
      .click({ position: { x: 5, y: 5 } })
      .catch(() => undefined);
    const editRow = layerRows().first();
    const before = await api.call('document.get', {});
    expect(before?.canUndo).toBe(true);
    await page.keyboard.press('Control+z');
    await expect
      .poll(() => editRow.getByTestId('layer-visibility').getAttribute('aria-pressed'))
      .toBe('true');
    await screenshot(page, 'after-undo');
    await page.keyboard.press('Control+Shift+z');
    await expect
      .poll(() => editRow.getByTestId('layer-visibility').getAttribute('aria-pressed'))
      .toBe('false');
    await screenshot(page, 'after-redo');
  }, 60_000);

  it('cancels a running edit with Esc', async () => {
    await send('make it blue', { steps: 150 });
    await expect.poll(() => lastMessage().getAttribute('data-status'), { timeout: 60_000 }).toBe('running');
    await lastMessage().getByTestId('progress-text').filter({ hasText: 'step' }).waitFor({ timeout: 60_000 });
    await screenshot(page, 'running-before-cancel');
    await page.locator('body').press('Escape');
    await expect.poll(() => lastMessage().getAttribute('data-status'), { timeout: 60_000 }).toBe('cancelled');
    await screenshot(page, 'cancelled');
  }, 120_000);

  it('survives an engine crash: the job fails with a message and the next edit works', async () => {
    await send('make it green', { steps: 150 });
    await expect.poll(() => lastMessage().getAttribute('data-status'), { timeout: 60_000 }).toBe('running');
    await lastMessage().getByTestId('progress-text').filter({ hasText: 'step' }).waitFor({ timeout: 60_000 });
    const { pid } = await api.call('engine.status', {});
    expect(pid).toBeGreaterThan(0);
    process.kill(pid!, 'SIGKILL');
    await expect.poll(() => lastMessage().getAttribute('data-status'), { timeout: 60_000 }).toBe('failed');
    expect(await lastMessage().getByTestId('message-error').textContent()).toMatch(/engine stopped/i);
    await screenshot(page, 'engine-crashed');

    const layersBefore = await layerRows().count();
    await send('make it yellow', { steps: 6 });
    await expect.poll(() => lastMessage().getAttribute('data-status'), { timeout: 120_000 }).toBe('done');
    await expect.poll(() => layerRows().count()).toBe(layersBefore + 1);
    const status = await api.call('engine.status', {});
    expect(status.pid).not.toBe(pid);
    await screenshot(page, 'after-crash-next-edit');
  }, 240_000);

  it('compares before and after', async () => {
    await page.getByTestId('compare-split').click();
    await page.getByTestId('split-slider').fill('0.4');
    await screenshot(page, 'compare-split');
    await page.getByTestId('compare-split').click();
    expect(errors.filter((error) => !error.includes('WebSocket'))).toEqual([]);
  });

  it('saves the project, reopens it, and restores autosaved work after a crash', async () => {
    const layersShown = await layerRows().count();
    const messagesShown = await messages().count();
    const download = page.waitForEvent('download');
    await page.getByTestId('save').click();
    const projectPath = join(OUTPUT, 'saved.iedit');
    await (await download).saveAs(projectPath);
    const saved = await loadProject(projectPath);
    // The source shows as a layer too; pending or failed edits show only as messages.
    expect(orderedLayers(saved.doc).filter((layer) => layer.variants.length > 0)).toHaveLength(
      layersShown - 1,
    );
    expect(orderedLayers(saved.doc)).toHaveLength(messagesShown);

    // A second app (as after a restart) opens the saved project.
    const second = await startApp({
      rendererDir,
      engine: model.engine,
      model: model.dir,
      autosaveSeconds: 1,
    });
    const recoveryDir = join(second.configDir, 'recovery');
    try {
      await page.goto(second.url);
      await page.getByTestId('empty-state').waitFor();
      await page.locator('[data-testid=model-pill].state-ready').waitFor({ timeout: 60_000 });
      const chooser = page.waitForEvent('filechooser');
      await page.getByTestId('empty-open').click();
      await (await chooser).setFiles(projectPath);
      await expect.poll(() => layerRows().count(), { timeout: 30_000 }).toBe(layersShown);
      expect(await messages().count()).toBe(messagesShown);
      await page.waitForTimeout(1500); // layer images arrive after the rows
      await screenshot(page, 'project-reopened');

      await send('make it blue', { steps: 2 });
      await expect.poll(() => lastMessage().getAttribute('data-status'), { timeout: 120_000 }).toBe('done');
      await expect
        .poll(() => (existsSync(recoveryDir) ? readdirSync(recoveryDir).length : 0), { timeout: 20_000 })
        .toBeGreaterThan(0);
      await new Promise((resolve) => setTimeout(resolve, 1500)); // the autosave after the last change
    } finally {
      second.process.kill('SIGKILL'); // a crash: nothing gets saved on the way out
    }

    const third = await startApp({
      rendererDir,
      engine: model.engine,
      model: model.dir,
      configDir: second.configDir,
    });
    try {
      await page.goto(third.url);
      const banner = page.getByTestId('recovery-banner');
      await banner.waitFor({ timeout: 30_000 });
      expect(await banner.textContent()).toContain(`(${messagesShown + 1} layers)`);
      await screenshot(page, 'recovery-offered');
      await banner.getByTestId('recovery-restore').click();
      await expect.poll(() => layerRows().count(), { timeout: 30_000 }).toBe(layersShown + 1);
      expect(await lastMessage().getByTestId('message-instruction').textContent()).toBe('make it blue');
      await expect.poll(() => banner.count()).toBe(0);
      await page.waitForTimeout(1500);
      await screenshot(page, 'recovery-restored');
    } finally {
      await third.stop();
    }
  }, 300_000);
});
