/**
 * Screen truth, in browser mode through the real UI in Chromium: after every step of an editing
 * session (open, edit, chain a second edit, re-run, pick variants, mask paint/invert/clear, undo and
 * redo, hide/show, reorder, delete, open a second picture, restore an autosave, reload) the canvas's
 * pixels, read back from the page, match the document's composite computed on the main side at the
 * same view (mean absolute difference ≤ 2 levels). Every step is recorded (test-output/e2e/
 * screen-truth.json) and checked at the end, so one wrong step does not hide the others.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
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
import {
  canvasView,
  compareCanvas,
  mainComposite,
  readCanvas,
  settleScreen,
  type ScreenComparison,
} from './support/screen';

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

  let rendererDir: string;

  beforeAll(async () => {
    rendererDir = await buildRenderer();
    model = await makeModelFolder(20, 'random');
    if (model.reason) console.warn(model.reason);
    app = await startApp({ rendererDir, engine: model.engine, model: model.dir, autosaveSeconds: 1 });
    api = apiClient(app);
    ({ context, page } = await launchBrowser());
    // Reloading with unsaved work asks first (beforeunload): leave.
    page.on('dialog', (dialog) => void dialog.accept());
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

    // A second picture replaces the first: the unsaved-work question is answered "Don't save".
    const second = await makeSecondPicture();
    const secondChooser = page.waitForEvent('filechooser');
    await page.getByTestId('open').click();
    await (await secondChooser).setFiles(second);
    await page.getByTestId('unsaved-discard').click();
    await expect.poll(() => layerRows().count()).toBe(1);
    await check('open-second-picture');

    await send('make it red');
    await waitDone(1);
    await expect.poll(() => layerRows().count()).toBe(2);
    await check('edit-second-picture');

    // A crash with unsaved work: the server is killed once the work is autosaved, a new one starts
    // on the same settings folder, and its banner restores the work.
    const recoveryDir = join(app.configDir, 'recovery');
    await expect
      .poll(() => (existsSync(recoveryDir) ? readdirSync(recoveryDir).length : 0), { timeout: 20_000 })
      .toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 1500)); // the autosave after the last change
    app.process.kill('SIGKILL');
    api.close();
    app = await startApp({
      rendererDir,
      engine: model.engine,
      model: model.dir,
      autosaveSeconds: 1,
      configDir: app.configDir,
    });
    api = apiClient(app);
    await page.goto(app.url);
    const banner = page.getByTestId('recovery-banner');
    await banner.waitFor({ timeout: 30_000 });
    await banner.getByTestId('recovery-restore').click();
    await expect.poll(() => layerRows().count(), { timeout: 30_000 }).toBe(2);
    await check('restore-recovery');

    // After a reload no part of the document is drawn as if it were all of it: every frame the
    // canvas presents has all the document's layers (a lower layer alone once showed for seconds).
    await page.addInitScript(() => {
      const seen: string[] = [];
      (window as unknown as { __framesSeen: string[] }).__framesSeen = seen;
      new MutationObserver(() => {
        const canvas = document.querySelector<HTMLElement>('[data-testid=canvas]');
        if (canvas?.dataset.docId) seen.push(`${canvas.dataset.frameLayers}/${canvas.dataset.docId}`);
      }).observe(document, {
        subtree: true,
        attributes: true,
        attributeFilter: ['data-frame-layers', 'data-doc-id'],
      });
    });
    await page.reload();
    await expect.poll(() => layerRows().count(), { timeout: 30_000 }).toBe(2);
    await check('reload');
    const framesSeen = await page.evaluate(
      () => (window as unknown as { __framesSeen: string[] }).__framesSeen,
    );
    expect(framesSeen.length).toBeGreaterThan(0);
    expect(new Set(framesSeen.map((frame) => frame.split('/')[0]))).toEqual(new Set(['2']));

    const failed = steps.filter((entry) => !(entry.diff <= TOLERANCE));
    expect(failed, JSON.stringify(steps, null, 1)).toEqual([]);
  }, 600_000);

  it('zooms with crisp pixels, re-fits on resize, lines the split slider up, rings the brush, tints the mask', async () => {
    const doc = (await api.call('document.get', {}))!;
    // Crisp pixels above 100 %: every screen pixel inside one picture pixel has its colour.
    await page.getByTestId('zoom-100').click();
    const start = await canvasView(page);
    await page.mouse.move(start.left + start.width / 2, start.top + start.height / 2);
    for (let i = 0; i < 9; i++) await page.mouse.wheel(0, -100);
    await expect.poll(async () => (await canvasView(page)).scale).toBeGreaterThan(3.5);
    const zoomed = await canvasView(page);
    expect((await settleScreen(page, api)).diff).toBeLessThanOrEqual(TOLERANCE);
    const region = {
      x: Math.round(zoomed.width / 2) - 60,
      y: Math.round(zoomed.height / 2) - 60,
      width: 120,
      height: 120,
    };
    const pixels = await readCanvas(page, 0, region);
    let uniform = 0;
    let groups = 0;
    for (let py = 0; py < region.height; py++) {
      const docY = (region.y + py + 0.5 - zoomed.y) / zoomed.scale;
      if (docY - Math.floor(docY) < 0.1 || docY - Math.floor(docY) > 0.9) continue;
      for (let px = 1; px < region.width; px++) {
        const a = (region.x + px - 0.5 - zoomed.x) / zoomed.scale;
        const b = (region.x + px + 0.5 - zoomed.x) / zoomed.scale;
        if (Math.floor(a) !== Math.floor(b)) continue; // neighbours in different picture pixels
        groups++;
        const i = (py * region.width + px) * 4;
        const j = i - 4;
        if (pixels[i] === pixels[j] && pixels[i + 1] === pixels[j + 1] && pixels[i + 2] === pixels[j + 2])
          uniform++;
      }
    }
    expect(groups).toBeGreaterThan(5000);
    expect(uniform / groups).toBeGreaterThan(0.99);
    await screenshot(page, 'zoom-crisp');

    // "Fit" re-fits when the window changes size.
    await page.getByTestId('zoom-fit').click();
    await page.setViewportSize({ width: 1100, height: 700 });
    const fits = async () => {
      const view = await canvasView(page);
      const shownWidth = doc.width * view.scale;
      const shownHeight = doc.height * view.scale;
      const fitsInside = shownWidth <= view.width - 47 && shownHeight <= view.height - 47;
      const touches =
        Math.abs(shownWidth - (view.width - 48)) < 1 || Math.abs(shownHeight - (view.height - 48)) < 1;
      return fitsInside && touches;
    };
    await expect.poll(fits).toBe(true);
    expect((await settleScreen(page, api)).diff).toBeLessThanOrEqual(TOLERANCE);
    await screenshot(page, 'fit-after-resize');
    await page.setViewportSize({ width: 1400, height: 860 });
    await expect.poll(fits).toBe(true);

    // The split slider spans the picture on screen and its thumb sits on the split line.
    await page.getByTestId('compare-split').click();
    const slider = page.getByTestId('split-slider');
    await slider.fill('0.3');
    const view = await canvasView(page);
    const box = (await slider.boundingBox())!;
    const thumb = 7;
    expect(Math.abs(box.x + thumb - (view.left + view.x))).toBeLessThanOrEqual(1);
    expect(
      Math.abs(box.x + box.width - thumb - (view.left + view.x + doc.width * view.scale)),
    ).toBeLessThanOrEqual(1);
    const thumbCentre = box.x + thumb + 0.3 * (box.width - 2 * thumb) - view.left;
    // The line's colour (#f5c542) in a row at mid-height; the picture may have yellows of its own,
    // so the line is the run of that colour in the same column of three rows.
    const lineColumns = (pixels: number[]) =>
      new Set(
        Array.from({ length: pixels.length / 4 }, (_, x) => x).filter((x) => {
          const [r, g, b] = [pixels[x * 4]!, pixels[x * 4 + 1]!, pixels[x * 4 + 2]!];
          return Math.abs(r - 245) < 14 && Math.abs(g - 197) < 16 && Math.abs(b - 66) < 30;
        }),
      );
    const rowAt = (fraction: number) =>
      readCanvas(page, 0, {
        x: 0,
        y: Math.round(view.y + doc.height * view.scale * fraction),
        width: Math.floor(view.width),
        height: 1,
      });
    const [a, b, c] = [
      lineColumns(await rowAt(0.1)),
      lineColumns(await rowAt(0.5)),
      lineColumns(await rowAt(0.9)),
    ];
    const yellow = [...a].filter((x) => b.has(x) && c.has(x));
    expect(yellow.length).toBeGreaterThan(0);
    const line = yellow.reduce((sum, x) => sum + x, 0) / yellow.length;
    expect(Math.abs(line + 0.5 - thumbCentre)).toBeLessThanOrEqual(1.5);
    await screenshot(page, 'split-slider');
    await page.getByTestId('compare-split').click();

    // The brush cursor: a black and a white ring, so it shows on light and dark pixels.
    const editRow = layerRows().first();
    await editRow.click();
    await page.getByTestId('tool-mask').click();
    await page.getByTestId('brush-size').fill('40');
    const cursorAt = { x: view.left + view.width / 2, y: view.top + view.height / 2 };
    await page.mouse.move(cursorAt.x - 5, cursorAt.y);
    await page.mouse.move(cursorAt.x, cursorAt.y);
    const radius = 20 * view.scale;
    const ringBox = {
      x: Math.round(view.width / 2 - radius - 6),
      y: Math.round(view.height / 2 - radius - 6),
      width: Math.round(2 * radius + 12),
      height: Math.round(2 * radius + 12),
    };
    let dark = 0;
    let light = 0;
    await expect
      .poll(async () => {
        const ring = await readCanvas(page, 1, ringBox);
        dark = 0;
        light = 0;
        for (let i = 0; i < ring.length; i += 4) {
          if (ring[i + 3]! < 200) continue;
          const max = Math.max(ring[i]!, ring[i + 1]!, ring[i + 2]!);
          const min = Math.min(ring[i]!, ring[i + 1]!, ring[i + 2]!);
          if (max < 50) dark++;
          if (min > 205) light++;
        }
        return Math.min(dark, light);
      })
      .toBeGreaterThan(30);
    await screenshot(page, 'brush-ring');

    // Quick mask: paint, then the overlay tints the hidden parts red; off again, the screen is the document.
    await paintStroke();
    await editRow.getByTestId('mask-badge').waitFor({ timeout: 15_000 });
    expect((await settleScreen(page, api)).diff).toBeLessThanOrEqual(TOLERANCE);
    await page.getByTestId('tool-move').click();
    await page.getByTestId('mask-overlay').click();
    const composite = await mainComposite(api);
    await expect.poll(async () => (await compareCanvas(page, composite)).diff).toBeGreaterThan(10);
    // Away from the stroke (hidden by the new mask) the picture is tinted towards red.
    const corner = { x: Math.round(view.x + 10), y: Math.round(view.y + 10), width: 20, height: 20 };
    const tinted = await readCanvas(page, 0, corner);
    await page.getByTestId('mask-overlay').click();
    expect((await settleScreen(page, api)).diff).toBeLessThanOrEqual(TOLERANCE);
    const plain = await readCanvas(page, 0, corner);
    let redder = 0;
    for (let i = 0; i < plain.length; i += 4)
      if (tinted[i]! - tinted[i + 1]! > plain[i]! - plain[i + 1]! + 40) redder++;
    expect(redder).toBeGreaterThan(0.9 * (plain.length / 4));
  }, 180_000);
});
