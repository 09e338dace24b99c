/**
 * Screen truth, in browser mode through the real UI in Chromium: after every step of an editing
 * session (open, edit, chain a second edit, re-run, pick variants, mask paint/invert/clear, undo and
 * redo, hide/show, reorder, delete, open a second picture, restore an autosave, reload) the canvas's
 * pixels, read back from the page, match the document's composite computed on the main side at the
 * same view (mean absolute difference ≤ 2 levels). Every step is recorded (test-output/e2e/
 * screen-truth.json) and checked at the end, so one wrong step does not hide the others.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppClient } from '../../src/shared/contract/client';
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
import { settleScreen, type ScreenComparison } from './support/screen';

const PHOTO = join(__dirname, 'fixtures/photo.png');
const hasChromium = existsSync(CHROMIUM);
const TOLERANCE = 2;

/** A second picture, unlike the first in size and content. */
async function makeSecondPicture(): Promise<string> {
  const width = 400;
  const height = 260;
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = Math.round((x / width) * 255);
      data[i + 1] = (Math.floor(x / 20) + Math.floor(y / 20)) % 2 ? 200 : 40;
      data[i + 2] = Math.round((y / height) * 255);
    }
  }
  const path = join(tempDir('e2e-second-'), 'second.png');
  await sharp(data, { raw: { width, height, channels: 3 } })
    .png()
    .toFile(path);
  return path;
}

describe.skipIf(!hasChromium)('screen truth: the canvas shows the document', () => {
  let app: RunningApp;
  let model: ModelFolder;
  let context: BrowserContext;
  let page: Page;
  let api: AppClient;
  const steps: { step: string; diff: number; pixels: number; view: ScreenComparison['view'] }[] = [];

  beforeAll(async () => {
    const rendererDir = await buildRenderer();
    model = await makeModelFolder(20);
    if (model.reason) console.warn(model.reason);
    app = await startApp({ rendererDir, engine: model.engine, model: model.dir, autosaveSeconds: 1 });
    api = apiClient(app);
    ({ context, page } = await launchBrowser());
  }, 180_000);

  afterAll(async () => {
    mkdirSync(OUTPUT, { recursive: true });
    writeFileSync(join(OUTPUT, 'screen-truth.json'), JSON.stringify(steps, null, 2));
    await context?.close();
    api?.close();
    await app?.stop();
  });

  const layerRows = () => page.getByTestId('layer-row');
  const lastMessage = () => page.getByTestId('message').last();

  /** Records how the screen compares after a step (and a screenshot of it). */
  async function check(step: string): Promise<void> {
    const result = await settleScreen(page, api, { tolerance: TOLERANCE });
    steps.push({ step, diff: Number(result.diff.toFixed(3)), pixels: result.pixels, view: result.view });
    await screenshot(page, `truth-${step}`);
  }

  async function send(instruction: string, steps = 3) {
    await page.getByTestId('steps').fill(String(steps));
    await page.getByTestId('instruction-input').fill(instruction);
    await page.getByTestId('instruction-input').press('Control+Enter');
  }

  async function waitDone(count: number) {
    await expect
      .poll(() => page.locator('[data-testid=message][data-status=done]').count(), { timeout: 120_000 })
      .toBe(count);
  }

  async function paintStroke() {
    const box = (await page.getByTestId('canvas').boundingBox())!;
    const cx = box.x + box.width / 2;
    const cy = box.y + box.height / 2;
    await page.mouse.move(cx - 150, cy - 30);
    await page.mouse.down();
    for (let i = 0; i <= 15; i++) await page.mouse.move(cx - 150 + i * 20, cy - 30 + Math.sin(i / 2) * 50);
    await page.mouse.up();
  }

  it('shows the document after every step of a session', async () => {
    await page.goto(app.url);
    await page.locator('[data-testid=model-pill].state-ready').waitFor({ timeout: 60_000 });

    const chooser = page.waitForEvent('filechooser');
    await page.getByTestId('empty-open').click();
    await (await chooser).setFiles(PHOTO);
    await expect.poll(() => layerRows().count()).toBe(1);
    await check('open');

    await send('make it red');
    await waitDone(1);
    await expect.poll(() => layerRows().count()).toBe(2);
    await check('edit');

    await send('add snow');
    await waitDone(2);
    await expect.poll(() => layerRows().count()).toBe(3);
    await check('chain-second-edit');

    await lastMessage().getByTestId('rerun').click();
    await page.getByTestId('text-guidance').fill('12');
    await page.getByTestId('send').click();
    await expect.poll(() => lastMessage().getByTestId('variant').count(), { timeout: 120_000 }).toBe(2);
    await expect.poll(() => lastMessage().getAttribute('data-status'), { timeout: 120_000 }).toBe('done');
    await check('rerun');

    await lastMessage().getByTestId('variant').first().click();
    await expect
      .poll(() => lastMessage().getByTestId('variant').first().getAttribute('data-picked'))
      .toBe('true');
    await check('pick-variant-1');
    await lastMessage().getByTestId('variant').nth(1).click();
    await expect
      .poll(() => lastMessage().getByTestId('variant').nth(1).getAttribute('data-picked'))
      .toBe('true');
    await check('pick-variant-2');

    // Mask the top layer ("add snow"): paint, invert, clear.
    const topRow = layerRows().first();
    await topRow.click();
    await page.getByTestId('tool-mask').click();
    await page.getByTestId('brush-size').fill('70');
    await paintStroke();
    await topRow.getByTestId('mask-badge').waitFor({ timeout: 15_000 });
    await check('mask-paint');
    await page.getByTestId('mask-invert').click();
    await check('mask-invert');
    await page.getByTestId('mask-clear').click();
    await expect.poll(() => topRow.getByTestId('mask-badge').count()).toBe(0);
    await check('mask-clear');
    await page.getByTestId('tool-move').click();

    // Undo ×3 (clear, invert, paint), then redo ×3.
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    for (let i = 1; i <= 3; i++) {
      await page.keyboard.press('Control+z');
      await check(`undo-${i}`);
    }
    for (let i = 1; i <= 3; i++) {
      await page.keyboard.press('Control+Shift+z');
      await check(`redo-${i}`);
    }

    const middleRow = layerRows().nth(1);
    await middleRow.getByTestId('layer-visibility').click();
    await expect
      .poll(() => middleRow.getByTestId('layer-visibility').getAttribute('aria-pressed'))
      .toBe('false');
    await check('hide');
    await middleRow.getByTestId('layer-visibility').click();
    await expect
      .poll(() => middleRow.getByTestId('layer-visibility').getAttribute('aria-pressed'))
      .toBe('true');
    await check('show');

    // Reorder: drag the top layer onto the one below it.
    const topName = await layerRows().first().getAttribute('data-layer-name');
    await layerRows().first().dragTo(layerRows().nth(1));
    await expect.poll(() => layerRows().nth(1).getAttribute('data-layer-name')).toBe(topName);
    await check('reorder');

    await layerRows().first().getByTestId('layer-delete').click();
    await expect.poll(() => layerRows().count()).toBe(2);
    await check('delete');

    // A second picture replaces the first (whose unsaved work is autosaved on the way out).
    const second = await makeSecondPicture();
    const secondChooser = page.waitForEvent('filechooser');
    await page.getByTestId('open').click();
    await (await secondChooser).setFiles(second);
    await expect.poll(() => layerRows().count()).toBe(1);
    await check('open-second-picture');

    const banner = page.getByTestId('recovery-banner');
    await banner.waitFor({ timeout: 30_000 });
    await banner.getByTestId('recovery-restore').click();
    await expect.poll(() => layerRows().count(), { timeout: 30_000 }).toBe(2);
    await check('restore-recovery');

    await page.reload();
    await expect.poll(() => layerRows().count(), { timeout: 30_000 }).toBe(2);
    await check('reload');

    const failed = steps.filter((entry) => !(entry.diff <= TOLERANCE));
    expect(failed, JSON.stringify(steps, null, 1)).toEqual([]);
  }, 600_000);
});
