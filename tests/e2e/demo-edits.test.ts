/**
 * Browser mode with the demo model (edits tint the picture towards the instruction's colour word):
 * what an edit does is visible on the screen. The canvas's own pixels, read back from the page, turn
 * red after "make it red" and blue after a chained "make it blue", and match the main side's
 * composite each time. Screenshots (test-output/e2e/demo-*.png) can be judged by eye.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppClient } from '../../src/shared/contract/client';
import {
  apiClient,
  buildRenderer,
  CHROMIUM,
  launchBrowser,
  makeModelFolder,
  screenshot,
  startApp,
  type RunningApp,
} from './support/harness';
import { canvasView, readCanvas, settleScreen } from './support/screen';

const PHOTO = join(__dirname, 'fixtures/photo.png');
const hasChromium = existsSync(CHROMIUM);

describe.skipIf(!hasChromium)('demo model: edits show on the screen', () => {
  let app: RunningApp;
  let context: BrowserContext;
  let page: Page;
  let api: AppClient;

  beforeAll(async () => {
    const rendererDir = await buildRenderer();
    const model = await makeModelFolder(20, 'demo');
    if (model.reason) console.warn(model.reason);
    app = await startApp({ rendererDir, engine: model.engine, model: model.dir });
    api = apiClient(app);
    ({ context, page } = await launchBrowser());
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    api?.close();
    await app?.stop();
  });

  /** Mean R, G, B of the picture as drawn on the canvas (a 4-pixel margin left out). */
  async function screenMeans(): Promise<[number, number, number]> {
    const view = await canvasView(page);
    const doc = (await api.call('document.get', {}))!;
    const rect = {
      x: Math.ceil(view.x) + 4,
      y: Math.ceil(view.y) + 4,
      width: Math.floor(doc.width * view.scale) - 8,
      height: Math.floor(doc.height * view.scale) - 8,
    };
    const pixels = await readCanvas(page, 0, rect);
    const sums = [0, 0, 0];
    for (let i = 0; i < pixels.length; i += 4) for (let c = 0; c < 3; c++) sums[c]! += pixels[i + c]!;
    const count = pixels.length / 4;
    return [sums[0]! / count, sums[1]! / count, sums[2]! / count];
  }

  async function edit(instruction: string, done: number): Promise<void> {
    await page.getByTestId('steps').fill('10');
    await page.getByTestId('instruction-input').fill(instruction);
    await page.getByTestId('instruction-input').press('Control+Enter');
    await expect
      .poll(() => page.locator('[data-testid=message][data-status=done]').count(), { timeout: 120_000 })
      .toBe(done);
    expect((await settleScreen(page, api)).diff).toBeLessThanOrEqual(2);
  }

  it('turns the picture on the screen red, then blue', async () => {
    await page.goto(app.url);
    await page.locator('[data-testid=model-pill].state-ready').waitFor({ timeout: 60_000 });
    const chooser = page.waitForEvent('filechooser');
    await page.getByTestId('empty-open').click();
    await (await chooser).setFiles(PHOTO);
    await expect.poll(() => page.getByTestId('layer-row').count()).toBe(1);
    expect((await settleScreen(page, api)).diff).toBeLessThanOrEqual(2);
    const source = await screenMeans();
    await screenshot(page, 'demo-source');

    await edit('make it red', 1);
    const red = await screenMeans();
    await screenshot(page, 'demo-make-it-red');
    expect(red[0] - source[0]).toBeGreaterThan(15);
    expect(source[2] - red[2]).toBeGreaterThan(15);

    await edit('now make it blue', 2);
    const blue = await screenMeans();
    await screenshot(page, 'demo-make-it-blue');
    expect(blue[2] - red[2]).toBeGreaterThan(15);
    expect(red[0] - blue[0]).toBeGreaterThan(15);
  }, 300_000);
});
