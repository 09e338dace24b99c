/**
 * Browser mode, end to end through the real UI in Chromium: the model dialog offers "Optimise for
 * speed and memory" for the tiny ONNX model and, once run, says the optimised copy is in use; the
 * settings dialog sets "Memory for edits" and "Threads"; an edit over that budget fails with the
 * engine's message naming the largest size that fits, in the history; "Export training pairs…"
 * downloads a zip. Screenshots go to test-output/e2e/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTinyModel } from '../../src/main/engine/tiny-model/tiny-model';
import type { AppClient } from '../../src/shared/contract/client';
import {
  apiClient,
  buildRenderer,
  CHROMIUM,
  launchBrowser,
  makeModelFolder,
  screenshot,
  startApp,
  tempDir,
  type ModelFolder,
  type RunningApp,
} from './support/harness';

const PHOTO = join(__dirname, 'fixtures/photo.png');
const hasChromium = existsSync(CHROMIUM);

describe.skipIf(!hasChromium)('memory, threads, the optimiser and training pairs in the app', () => {
  let app: RunningApp;
  let model: ModelFolder;
  let context: BrowserContext;
  let page: Page;
  let errors: string[];
  let api: AppClient;

  beforeAll(async () => {
    const rendererDir = await buildRenderer();
    model = await makeModelFolder(10, 'demo');
    // The demo model has no attention to fuse: the optimiser gets the generated diffusers export.
    if (model.engine === 'onnx') {
      model = { ...model, dir: join(tempDir('e2e-model-'), 'tiny-diffusers') };
      await makeTinyModel(model.dir, { flavor: 'diffusers', seed: 9 });
    }
    app = await startApp({ rendererDir, engine: model.engine, model: model.dir });
    api = apiClient(app);
    ({ context, page, errors } = await launchBrowser());
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    api?.close();
    await app?.stop();
  });

  it('offers the optimiser for the loaded model and uses the optimised copy', async () => {
    await page.goto(app.url);
    // The fake engine's folder has no UNet to optimise (the harness says why it fell back to it).
    if (model.engine !== 'onnx') return console.warn(`optimiser not offered: ${model.reason}`);
    await expect
      .poll(() => page.getByTestId('model-pill').textContent(), { timeout: 60_000 })
      .toContain('ready');
    await page.getByTestId('model-pill').click();
    const offer = page.getByTestId('optimize-offer');
    await expect.poll(() => offer.getAttribute('data-state'), { timeout: 30_000 }).toBe('available');
    expect(await offer.textContent()).toContain('Optimise for speed and memory');
    await screenshot(page, 'optimise-offer');
    await page.getByTestId('optimize-run').click();
    await expect.poll(() => offer.getAttribute('data-state'), { timeout: 120_000 }).toBe('cached');
    expect(await page.getByTestId('optimize-note').textContent()).toMatch(
      /Optimised: \d+ attention blocks fused; this copy is used from now on/,
    );
    await screenshot(page, 'optimise-done');
    const optimized = join(app.configDir, 'optimized');
    expect(readdirSync(optimized).filter((name) => /^[0-9a-f]{64}$/.test(name))).toHaveLength(1);
    await page.getByTestId('modal-close').click();
  }, 180_000);

  it('sets memory for edits and threads; an edit over the budget says the largest size that fits', async () => {
    if (page.url() === 'about:blank') await page.goto(app.url);
    await page.getByTestId('settings').click();
    const section = page.getByTestId('engine-options');
    await section.waitFor();
    expect(await section.textContent()).toMatch(/Memory for edits.*Automatic \(\d+\.\d GB free now\)/);
    await page.getByTestId('memory-mode').selectOption('fixed');
    await page.getByTestId('memory-gb').fill('0.3');
    await page.getByTestId('memory-gb').press('Enter');
    await page.getByTestId('threads-select').selectOption('1');
    await expect.poll(async () => (await api.call('settings.get', {})).threads).toBe(1);
    expect((await api.call('settings.get', {})).memoryBudgetGb).toBe(0.3);
    await screenshot(page, 'memory-and-threads-settings');
    await page.getByTestId('modal-close').click();
    await expect
      .poll(() => page.getByTestId('model-pill').textContent(), { timeout: 60_000 })
      .toContain('ready');

    const chooser = page.waitForEvent('filechooser');
    await page.getByTestId('empty-open').click();
    await (await chooser).setFiles(PHOTO);
    await page.getByTestId('steps').fill('2');
    await page.getByTestId('instruction-input').fill('make it red');
    await page.getByTestId('instruction-input').press('Control+Enter');
    const error = page.getByTestId('message-error');
    await error.waitFor({ timeout: 60_000 });
    const refusal =
      /A 512×384 edit needs about .* of memory but the budget is 307 MB; the largest size that fits is (\d+)×(\d+)/.exec(
        (await error.textContent()) ?? '',
      );
    expect(refusal, 'the refusal names the largest size that fits').not.toBeNull();
    // Smaller than the refused size, in the model's 64-pixel steps, the picture's shape kept.
    const [fitsWidth, fitsHeight] = [Number(refusal![1]), Number(refusal![2])];
    expect(fitsWidth * fitsHeight).toBeLessThan(512 * 384);
    expect([fitsWidth % 64, fitsHeight % 64]).toEqual([0, 0]);
    expect(fitsWidth).toBeGreaterThan(fitsHeight);
    await screenshot(page, 'edit-over-memory-budget');
  }, 180_000);

  it('exports training pairs as a zip download', async () => {
    await page.getByTestId('settings').click();
    await page.getByTestId('memory-mode').selectOption('auto');
    await expect.poll(async () => (await api.call('settings.get', {})).memoryBudgetGb).toBeNull();
    await page.getByTestId('modal-close').click();
    await expect
      .poll(() => page.getByTestId('model-pill').textContent(), { timeout: 60_000 })
      .toContain('ready');
    await page.getByTestId('instruction-input').fill('make it blue');
    await page.getByTestId('instruction-input').press('Control+Enter');
    await page.locator('[data-testid=message][data-status=done]').first().waitFor({ timeout: 120_000 });

    const downloading = page.waitForEvent('download');
    await page.getByTestId('export-pairs').click();
    const download = await downloading;
    expect(download.suggestedFilename()).toBe('photo-training-pairs.zip');
    const out = tempDir('e2e-pairs-');
    const zip = join(out, 'pairs.zip');
    await download.saveAs(zip);
    execFileSync('unzip', ['-q', zip, '-d', out]);
    const dir = join(out, 'photo-training-pairs');
    expect(readFileSync(join(dir, 'metadata.jsonl'), 'utf8')).toContain('"edit_prompt":"make it blue"');
    expect(JSON.parse(readFileSync(join(dir, '0000000', 'prompt.json'), 'utf8'))).toEqual({
      edit: 'make it blue',
    });
    expect(errors).toEqual([]);
  }, 240_000);
});
