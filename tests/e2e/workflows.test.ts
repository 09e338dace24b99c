/**
 * Browser mode, the editing workflows through the real UI in Chromium: the model dialog closes on
 * success and lists the folder; text typed right after Ctrl+Enter stays; a double Ctrl+Enter queues
 * once; tool keys work after clicking the picture; typed slider values, resolution and Karras reach
 * the edit; a re-run keeps the seed; variants compare side by side and flip; a stale layer shows in
 * the history and "Update stale layers" fixes it; cancelled messages can be dismissed; long
 * instructions count tokens and collapse; the shortcuts sheet; unsaved work asks before it is
 * replaced or left; a save clears the unsaved mark; a damaged JPEG opens with a warning; the layout
 * at 900 px. Screenshots of each new piece of UI go to test-output/e2e/.
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
  type ModelFolder,
  type RunningApp,
} from './support/harness';

const PHOTO = join(__dirname, 'fixtures/photo.png');
const DAMAGED = join(__dirname, 'fixtures/damaged.jpg');
const hasChromium = existsSync(CHROMIUM);

describe.skipIf(!hasChromium)('editing workflows in the browser', () => {
  let app: RunningApp;
  let model: ModelFolder;
  let context: BrowserContext;
  let page: Page;
  let api: AppClient;
  let errors: string[];

  beforeAll(async () => {
    const rendererDir = await buildRenderer();
    // The random model: its steps are slow enough for a job to still be running when it is cancelled.
    model = await makeModelFolder(40, 'random');
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

  const messages = () => page.getByTestId('message');
  const lastMessage = () => messages().last();
  const input = () => page.getByTestId('instruction-input');
  const doneCount = () => page.locator('[data-testid=message][data-status=done]').count();
  const currentDoc = async () => (await api.call('document.get', {}))!;

  async function openFile(path: string) {
    const chooser = page.waitForEvent('filechooser');
    await (
      (await page.getByTestId('empty-open').count())
        ? page.getByTestId('empty-open')
        : page.getByTestId('open')
    ).click();
    await (await chooser).setFiles(path);
  }

  it('closes the model dialog once a folder loads, and lists that folder', async () => {
    await page.goto(app.url);
    await page.getByTestId('model-dialog').waitFor();
    await page.getByTestId('model-folder-input').fill(model.dir);
    await page.getByTestId('model-folder-use').click();
    await page.getByTestId('model-dialog').waitFor({ state: 'detached', timeout: 60_000 });
    expect(await page.getByTestId('toast-info').last().textContent()).toContain('Model ready: tiny-ip2p');
    await page.getByTestId('model-pill').click();
    await expect.poll(() => page.getByTestId('model-list').textContent()).toContain('tiny-ip2p');
    await screenshot(page, 'workflows-model-listed');
    await page.getByTestId('modal-close').click();
  }, 90_000);

  it('keeps what is typed right after Ctrl+Enter, and queues a double Ctrl+Enter once', async () => {
    await openFile(PHOTO);
    await page.locator('[data-testid=canvas] canvas').first().waitFor();
    // One layer: "1 layer", not "1 layers".
    await expect.poll(() => page.getByTestId('status-bar').textContent()).toMatch(/· 1 layer(?!s)/);
    await page.getByTestId('steps-value').fill('3');
    await page.getByTestId('steps-value').press('Enter');
    expect(await page.getByTestId('steps').inputValue()).toBe('3');

    await input().fill('make it red');
    await input().press('Control+Enter');
    // Typed at once, before the reply: nothing of it is lost.
    await page.keyboard.type('add snow');
    expect(await input().inputValue()).toBe('add snow');
    await expect.poll(doneCount, { timeout: 120_000 }).toBe(1);
    expect(await input().inputValue()).toBe('add snow');

    await input().press('Control+Enter');
    await input().press('Control+Enter');
    await expect.poll(doneCount, { timeout: 120_000 }).toBe(2);
    expect(await messages().count()).toBe(2);
    expect(await messages().getByTestId('message-instruction').allTextContents()).toEqual([
      'make it red',
      'add snow',
    ]);
  }, 240_000);

  it('lets the tool keys work after the picture is clicked; only one of Paint/Erase is lit', async () => {
    await input().focus();
    const box = (await page.getByTestId('canvas').boundingBox())!;
    await page.mouse.click(box.x + 10, box.y + 10);
    expect(await page.evaluate('document.activeElement?.tagName')).not.toBe('TEXTAREA');
    await page.keyboard.press('b');
    await expect.poll(() => page.getByTestId('tool-brush').getAttribute('aria-pressed')).toBe('true');
    expect(await page.getByTestId('tool-mask').getAttribute('aria-pressed')).toBe('true');
    expect(await page.getByTestId('mask-erase').getAttribute('aria-pressed')).toBe('false');
    const before = Number(await page.getByTestId('brush-size').inputValue());
    await page.keyboard.press(']');
    await expect
      .poll(async () => Number(await page.getByTestId('brush-size').inputValue()))
      .toBeGreaterThan(before);

    // A stroke makes a mask, shown beside the layer's thumbnail.
    const cx = box.x + box.width / 2;
    const cy = box.y + box.height / 2;
    await page.mouse.move(cx - 80, cy);
    await page.mouse.down();
    for (let i = 0; i <= 8; i++) await page.mouse.move(cx - 80 + i * 20, cy + 10);
    await page.mouse.up();
    await page.getByTestId('mask-thumb').first().waitFor({ timeout: 15_000 });

    await page.keyboard.press('e');
    await expect.poll(() => page.getByTestId('mask-erase').getAttribute('aria-pressed')).toBe('true');
    expect(await page.getByTestId('tool-mask').getAttribute('aria-pressed')).toBe('false');
    await page.waitForTimeout(500);
    await screenshot(page, 'workflows-mask-thumb-erase');
    await page.getByTestId('mask-erase').click();
    expect(await page.getByTestId('mask-erase').getAttribute('aria-pressed')).toBe('false');
    expect(await page.getByTestId('tool-mask').getAttribute('aria-pressed')).toBe('false');
    await page.getByTestId('tool-move').click();
  }, 60_000);

  it('re-runs with the same seed by default into a variant, and compares the variants', async () => {
    const first = messages().first();
    await first.getByTestId('rerun').click();
    await page.getByTestId('rerun-banner').waitFor();
    expect(await page.getByTestId('rerun-new-seed').isChecked()).toBe(false);
    const seed = (await currentDoc()).messages[0]!.settings.seed;
    expect(await page.getByTestId('seed').inputValue()).toBe(String(seed));
    // Typed values, the resolution and Karras reach the edit.
    await page.getByTestId('text-guidance-value').fill('11');
    await page.getByTestId('text-guidance-value').press('Enter');
    await page.getByTestId('scheduler').selectOption('dpmpp-2m');
    await page.getByTestId('karras').check();
    await page.getByTestId('resolution').selectOption('native');
    await screenshot(page, 'workflows-rerun-settings');
    await page.getByTestId('send').click();
    await expect.poll(() => first.getByTestId('variant').count(), { timeout: 120_000 }).toBe(2);
    await expect.poll(() => first.getAttribute('data-status'), { timeout: 120_000 }).toBe('done');
    const variants = (await currentDoc()).messages[0]!.variants;
    expect(variants.map((v) => v.settings.seed)).toEqual([seed, seed]);
    expect(variants[1]!.settings).toMatchObject({
      textGuidance: 11,
      scheduler: 'dpmpp-2m',
      karrasSigmas: true,
      resolution: 'native',
    });

    await first.getByTestId('compare-variants').click();
    const compare = page.getByTestId('variant-compare');
    await compare.waitFor();
    await expect.poll(() => compare.getByTestId('compare-pane').count()).toBe(2);
    await page.waitForTimeout(800);
    await screenshot(page, 'workflows-compare-side-by-side');
    // One zoom for all: wheel over the first pane, both images get the same transform.
    const pane = (await compare.getByTestId('compare-pane').first().boundingBox())!;
    await page.mouse.move(pane.x + pane.width / 2, pane.y + pane.height / 2);
    await page.mouse.wheel(0, -400);
    const transforms = () =>
      compare
        .locator('.compare-image')
        .evaluateAll((nodes) =>
          nodes.map((n) => (n as unknown as { style: { transform: string } }).style.transform),
        );
    await expect.poll(async () => new Set(await transforms()).size).toBe(1);
    const [zoomed] = await transforms();
    expect(zoomed).toMatch(/scale\(/);
    await page.mouse.move(pane.x + 50, pane.y + 50);
    await page.mouse.down();
    await page.mouse.move(pane.x + 120, pane.y + 90);
    await page.mouse.up();
    const [panned, other] = await transforms();
    expect(panned).not.toBe(zoomed);
    expect(other).toBe(panned);

    // A/B flip: one pane, F shows the other variant in the same place.
    await compare.getByTestId('compare-flip').click();
    await expect.poll(() => compare.getByTestId('compare-pane').count()).toBe(1);
    const shown = await compare.getByTestId('compare-pane').getAttribute('data-variant-id');
    await page.keyboard.press('f');
    await expect
      .poll(() => compare.getByTestId('compare-pane').getAttribute('data-variant-id'))
      .not.toBe(shown);
    await screenshot(page, 'workflows-compare-flip');
    await page.keyboard.press('Escape');
    await compare.waitFor({ state: 'detached' });
  }, 300_000);

  it('shows a stale edit in the history and updates it, bottom first', async () => {
    // Hiding the bottom edit changes what the one above was made from.
    const bottomRow = page.locator('[data-testid=layer-row]').nth(1);
    await bottomRow.getByTestId('layer-visibility').click();
    await messages().nth(1).getByTestId('message-stale').waitFor({ timeout: 15_000 });
    await page.getByTestId('update-stale').waitFor();
    expect(await page.getByTestId('update-stale').textContent()).toBe('Update 1 stale layer');
    await screenshot(page, 'workflows-stale-in-history');
    const variantsBefore = (await currentDoc()).messages[1]!.variants.length;
    await page.getByTestId('update-stale').click();
    await page.getByTestId('update-stale').waitFor({ state: 'detached', timeout: 120_000 });
    await expect.poll(() => messages().nth(1).getAttribute('data-status'), { timeout: 120_000 }).toBe('done');
    const after = (await currentDoc()).messages[1]!;
    expect(after.variants.length).toBe(variantsBefore + 1);
    expect(after.variants.at(-1)!.settings.seed).toBe(after.variants[0]!.settings.seed);
    expect(await page.getByTestId('message-stale').count()).toBe(0);
  }, 240_000);

  it('lets a cancelled instruction be dismissed', async () => {
    await input().fill('turn it into a slow watercolour');
    await page.getByTestId('steps-value').fill('100');
    await page.getByTestId('steps-value').press('Enter');
    await input().press('Control+Enter');
    await input().fill('never mind');
    await input().press('Control+Enter');
    await expect.poll(() => messages().count()).toBe(4);
    await lastMessage().getByTestId('cancel-job').click();
    await expect.poll(() => lastMessage().getAttribute('data-status'), { timeout: 60_000 }).toBe('cancelled');
    await page.locator('body').press('Escape');
    await expect
      .poll(() => messages().nth(2).getAttribute('data-status'), { timeout: 60_000 })
      .toMatch(/cancelled|done/);
    await screenshot(page, 'workflows-cancelled-dismissable');
    await lastMessage().getByTestId('dismiss').click();
    await expect.poll(() => messages().count()).toBe(3);
    expect(await messages().getByTestId('message-instruction').allTextContents()).not.toContain('never mind');
    await page.getByTestId('steps-value').fill('3');
    await page.getByTestId('steps-value').press('Enter');
  }, 120_000);

  it('counts tokens against the 77-token window, names the cut words, and collapses long messages', async () => {
    expect(await input().getAttribute('maxlength')).toBe('2000');
    await input().fill('make it red');
    await expect.poll(() => page.getByTestId('token-count').textContent()).toMatch(/^\d+ \/ 75 tokens$/);
    const long = `${Array.from({ length: 100 }, (_, i) => ['red', 'sky', 'snow', 'night'][i % 4]).join(' ')} finale`;
    await input().fill(long);
    await page.getByTestId('token-cut').waitFor();
    // The cut words are named from the first one the model will not see.
    expect(await page.getByTestId('token-cut').textContent()).toMatch(
      /the model will not see: “(red|sky|snow|night) (red|sky|snow|night) /,
    );
    await screenshot(page, 'workflows-token-counter');
    await input().press('Control+Enter');
    const message = lastMessage();
    await message.getByTestId('message-expand').waitFor();
    const collapsed = (await message.getByTestId('message-instruction').boundingBox())!.height;
    await message.getByTestId('message-expand').click();
    const expanded = (await message.getByTestId('message-instruction').boundingBox())!.height;
    expect(expanded).toBeGreaterThan(collapsed * 1.5);
    await expect.poll(() => message.getAttribute('data-status'), { timeout: 120_000 }).toBe('done');
  }, 180_000);

  it('opens the shortcuts sheet with ? and F1', async () => {
    await page.mouse.click(10, 300);
    await page.locator('body').press('?');
    await page.getByTestId('shortcuts-sheet').waitFor();
    expect(await page.getByTestId('shortcuts-sheet').textContent()).toContain('Mask brush');
    await screenshot(page, 'workflows-shortcuts-sheet');
    await page.keyboard.press('Escape');
    await page.getByTestId('shortcuts-sheet').waitFor({ state: 'detached' });
    await input().focus();
    await page.keyboard.press('F1');
    await page.getByTestId('shortcuts-sheet').waitFor();
    await page.keyboard.press('Escape');
  }, 30_000);

  it('stays usable at 900 px wide and at 900×600', async () => {
    for (const [width, height] of [
      [900, 860],
      [900, 600],
    ] as const) {
      await page.setViewportSize({ width, height });
      await page.waitForTimeout(300);
      const pill = (await page.getByTestId('model-pill').boundingBox())!;
      expect(pill.x).toBeGreaterThanOrEqual(0);
      expect(pill.x + pill.width).toBeLessThanOrEqual(width);
      expect(pill.y + pill.height).toBeLessThanOrEqual(height);
      expect(await page.getByTestId('model-pill').isVisible()).toBe(true);
      // Every top-bar button stays on screen (the bar wraps instead of cutting them off).
      for (const id of ['open', 'save', 'export-psd', 'undo', 'zoom-fit', 'compare-split', 'settings']) {
        const button = (await page.getByTestId(id).boundingBox())!;
        expect(button.x + button.width, id).toBeLessThanOrEqual(width);
      }
      const list = (await page.locator('.history-panel .messages').boundingBox())!;
      expect(list.height).toBeGreaterThanOrEqual(90);
      const sampler = page.getByTestId('scheduler');
      const samplerBox = (await sampler.boundingBox())!;
      expect(await sampler.evaluate((el) => el.scrollWidth <= el.clientWidth + 1)).toBe(true);
      expect(samplerBox.x + samplerBox.width).toBeLessThanOrEqual(width);
      await screenshot(page, `workflows-layout-${width}x${height}`);
    }
    // Folding the edit settings gives the history most of the side bar.
    await page.getByTestId('settings-toggle').click();
    await page.getByTestId('settings-summary').waitFor();
    const roomy = (await page.locator('.history-panel .messages').boundingBox())!;
    expect(roomy.height).toBeGreaterThanOrEqual(200);
    await screenshot(page, 'workflows-layout-900x600-settings-folded');
    await page.getByTestId('settings-toggle').click();
    await page.setViewportSize({ width: 1400, height: 860 });
  }, 60_000);

  it('a save clears the unsaved mark; unsaved work is asked about before it is replaced or left', async () => {
    await expect.poll(() => page.locator('.doc-title').textContent()).toMatch(/•$/);
    const download = page.waitForEvent('download');
    await page.getByTestId('save').click();
    await download;
    await expect.poll(() => page.locator('.doc-title').textContent()).not.toMatch(/•$/);
    expect((await currentDoc()).dirty).toBe(false);

    // A change makes it unsaved again; leaving the page asks.
    await page.locator('[data-testid=layer-row]').first().getByTestId('layer-visibility').click();
    await expect.poll(() => page.locator('.doc-title').textContent()).toMatch(/•$/);
    const dialogs: string[] = [];
    page.once('dialog', (dialog) => {
      dialogs.push(dialog.type());
      void dialog.accept();
    });
    await page.reload();
    await page.locator('[data-testid=canvas] canvas').first().waitFor({ timeout: 30_000 });
    expect(dialogs).toEqual(['beforeunload']);

    // Opening another picture asks: cancel keeps this one.
    const before = (await currentDoc()).id;
    await openFile(DAMAGED);
    await page.getByTestId('unsaved-dialog').waitFor();
    await screenshot(page, 'workflows-unsaved-dialog');
    await page.getByTestId('unsaved-cancel').click();
    await page.getByTestId('unsaved-dialog').waitFor({ state: 'detached' });
    expect((await currentDoc()).id).toBe(before);

    // Discard opens it; the damaged JPEG opens with a warning, not silently.
    await openFile(DAMAGED);
    await page.getByTestId('unsaved-discard').click();
    await expect.poll(async () => (await currentDoc()).name).toBe('damaged.jpg');
    const warning = page.getByTestId('toast-error').filter({ hasText: 'is damaged' });
    await warning.waitFor({ timeout: 15_000 });
    expect(await warning.textContent()).toMatch(
      /damaged\.jpg is damaged: the decoder reported “Corrupt JPEG data/,
    );
    // What was discarded is not offered back as an autosave.
    await page.waitForTimeout(1000);
    expect(await page.getByTestId('recovery-banner').count()).toBe(0);
    await screenshot(page, 'workflows-damaged-jpeg-warning');
  }, 120_000);

  it('raised no errors in the page', () => {
    expect(errors.filter((error) => !/Failed to load resource/.test(error))).toEqual([]);
  });
});
