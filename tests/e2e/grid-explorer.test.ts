/**
 * The guidance explorer in Chromium: open a picture, run an edit, "Explore guidance…" with a 2 × 2
 * grid and few steps, the cells fill in, a cell's screen pixels match grid.cellImage, the plot links
 * to the cells, arrow keys move the selection, a click compares, Keep adds a variant and undo removes
 * it, Cancel keeps the finished cells, and reopening shows the last grid. Screenshots go to
 * test-output/e2e/.
 *
 * Two runs of the same story:
 * - against a stand-in for the main side's grid.* / clip.* calls spliced into the page's WebSocket
 *   (support/fake-grid.ts; everything else is the real server), so the UI is proven now;
 * - against the real main side, skipped while that build refuses grid.* as 'unsupported' (the host
 *   side is built on another branch); it runs once both are merged. There the project is then saved
 *   (a download) and opened again: the last grid shows from its stored thumbnails and numbers, and
 *   Keep is off with its reason.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppClient } from '../../src/shared/contract/client';
import { ContractError } from '../../src/shared/contract/errors';
import { routeFakeGrid, type FakeGrid } from './support/fake-grid';
import {
  apiClient,
  buildRenderer,
  CHROMIUM,
  launchBrowser,
  makeModelFolder,
  screenshot,
  startApp,
  tempDir,
  type RunningApp,
} from './support/harness';

const PHOTO = join(__dirname, 'fixtures/photo.png');
/** The size the grid asks cell thumbnails at (CELL_THUMB_SIDE in the renderer's grid-logic.ts). */
const CELL_THUMB_SIDE = 256;
const hasChromium = existsSync(CHROMIUM);

/** Mean absolute difference (RGB, 0..255) between a cell's canvas on screen and a PNG, and their sizes. */
async function compareCell(
  page: Page,
  cellIndex: number,
  png: Uint8Array,
): Promise<{ diff: number; screen: [number, number]; expected: [number, number] }> {
  return page.evaluate(
    async ({ cellIndex, base64 }) => {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
      const canvas = document.querySelector<HTMLCanvasElement>(
        `[data-testid=grid-cell][data-index="${cellIndex}"] canvas`,
      )!;
      const expected = document.createElement('canvas');
      expected.width = bitmap.width;
      expected.height = bitmap.height;
      const context = expected.getContext('2d')!;
      context.drawImage(bitmap, 0, 0);
      const wanted = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
      const shown = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      const sizes = {
        screen: [canvas.width, canvas.height] as [number, number],
        expected: [bitmap.width, bitmap.height] as [number, number],
      };
      if (shown.length !== wanted.length) return { diff: Infinity, ...sizes };
      let sum = 0;
      for (let i = 0; i < shown.length; i += 4)
        for (let c = 0; c < 3; c++) sum += Math.abs(shown[i + c]! - wanted[i + c]!);
      return { diff: sum / ((shown.length / 4) * 3), ...sizes };
    },
    { cellIndex, base64: Buffer.from(png).toString('base64') },
  );
}

describe.skipIf(!hasChromium)('guidance explorer in the browser', () => {
  let app: RunningApp;
  let context: BrowserContext;
  let page: Page;
  let errors: string[];
  let api: AppClient;
  /** Whether the main side answers grid.* (the host branch merged), else why not. */
  let gridUnavailable: string | null = null;

  beforeAll(async () => {
    const rendererDir = await buildRenderer();
    const model = await makeModelFolder(20, 'demo');
    if (model.reason) console.warn(model.reason);
    app = await startApp({ rendererDir, engine: model.engine, model: model.dir });
    api = apiClient(app);
    try {
      // grid.get already answers null in that build; grid.start is refused (or, once wired, not-found).
      await api.call('grid.start', { messageId: 'probe', textScales: [1], imageScales: [1] });
    } catch (error) {
      if (error instanceof ContractError && error.code === 'unsupported') gridUnavailable = error.message;
    }
    ({ context, page, errors } = await launchBrowser());
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    api?.close();
    await app?.stop();
  });

  const lastMessage = () => page.getByTestId('message').last();
  const cells = () => page.getByTestId('grid-cell');
  const variantCount = async () => (await api.call('document.get', {}))!.messages.at(-1)!.variants.length;

  async function openPictureAndEdit() {
    await page.getByTestId('model-pill').waitFor();
    await expect
      .poll(() => page.getByTestId('model-pill').textContent(), { timeout: 60_000 })
      .toContain('ready');
    const chooser = page.waitForEvent('filechooser');
    await page.getByTestId('empty-open').click();
    await (await chooser).setFiles(PHOTO);
    await page.locator('[data-testid=canvas] canvas').first().waitFor();
    await page.getByTestId('steps').fill('4');
    await page.getByTestId('instruction-input').fill('make it red');
    await page.getByTestId('instruction-input').press('Control+Enter');
    await page.locator('[data-testid=message][data-status=done]').first().waitFor({ timeout: 120_000 });
  }

  /** Explore guidance… → a 2 × 2 grid with 3 steps and both captions. */
  async function startSmallGrid() {
    await lastMessage().getByTestId('explore-guidance').click();
    await page.getByTestId('grid-setup').waitFor();
    await page.getByTestId('grid-text-scales').fill('3, 7.5');
    await page.getByTestId('grid-image-scales').fill('1.5, 1');
    await page.getByTestId('grid-steps').fill('3');
    await page.getByTestId('grid-caption-before').fill('a photo of a house');
    await page.getByTestId('grid-caption-after').fill('a photo of a red house');
    // The estimate comes from a step time this page has seen, or else from the edit's own time.
    expect(await page.getByTestId('grid-expected').textContent()).toMatch(
      /^4 cells × 3 steps · expected: [\w ]+ \(at the last measured \d+ ms per step\)$/,
    );
    await screenshot(page, 'grid-setup');
    await page.getByTestId('grid-start').click();
  }

  async function waitForCells(count: number) {
    await expect.poll(() => cells().count(), { timeout: 30_000 }).toBe(count);
    await expect
      .poll(() => page.locator('[data-testid=grid-cell][data-loaded=true]').count(), { timeout: 180_000 })
      .toBe(count);
  }

  it('[stand-in grid calls] fills the grid in, matches its pixels, links the plot, moves with keys, keeps and undoes', async () => {
    const fake: FakeGrid = await routeFakeGrid(page, api);
    await page.goto(app.url);
    await openPictureAndEdit();

    // The setup form starts from the paper's 5 × 5 and the message's settings; the presets fill the lists.
    await lastMessage().getByTestId('explore-guidance').click();
    expect(await page.getByTestId('grid-text-scales').inputValue()).toBe('3, 5, 7.5, 10, 12.5');
    expect(await page.getByTestId('grid-image-scales').inputValue()).toBe('1, 1.2, 1.5, 1.8, 2.2');
    expect(await page.getByTestId('grid-steps').inputValue()).toBe('4');
    await page.getByTestId('grid-preset-quick').click();
    expect(await page.getByTestId('grid-text-scales').inputValue()).toBe('3, 7.5, 12.5');
    await page.getByTestId('grid-text-scales').fill('3, x');
    expect(await page.getByTestId('grid-start').isDisabled()).toBe(true);
    await page.keyboard.press('Escape');
    await page.getByTestId('grid-explorer').waitFor({ state: 'detached' });

    await startSmallGrid();
    const start = fake.calls.find((call) => call.name === 'grid.start')!;
    expect(start.payload).toMatchObject({
      textScales: [3, 7.5],
      imageScales: [1, 1.5],
      steps: 3,
      captionBefore: 'a photo of a house',
      captionAfter: 'a photo of a red house',
    });
    await page.locator('[data-testid=grid-cell][data-state=pending]').first().waitFor();
    await screenshot(page, 'grid-filling-in');
    await waitForCells(4);
    expect(await page.getByTestId('grid-axis-text').allTextContents()).toEqual(['3', '7.5']);
    expect(await page.getByTestId('grid-axis-image').allTextContents()).toEqual(['1', '1.5']);
    expect(await page.getByTestId('grid-state').getAttribute('data-state')).toBe('done');

    // What the screen shows is what grid.cellImage sent, pixel for pixel.
    for (const index of [0, 3]) {
      const comparison = await compareCell(page, index, await fake.cellPng('', index, CELL_THUMB_SIDE));
      expect(comparison.screen).toEqual([96, 64]);
      expect(comparison.diff).toBeLessThan(1);
    }
    // Different cells differ on screen (the comparison can fail).
    expect((await compareCell(page, 0, await fake.cellPng('', 3, CELL_THUMB_SIDE))).diff).toBeGreaterThan(20);

    // The plot: x is directional similarity (both captions given), a line per s_I, each point tied to a cell.
    const plot = page.getByTestId('grid-plot');
    expect(await plot.getAttribute('data-x-axis')).toBe('directional');
    expect(await page.getByTestId('plot-series').count()).toBe(2);
    expect(await page.getByTestId('plot-point').count()).toBe(4);
    await page.locator('[data-testid=plot-point][data-cell-index="2"]').hover();
    await expect
      .poll(() => page.locator('[data-testid=grid-cell][data-index="2"]').getAttribute('class'))
      .toContain('highlighted');
    await cells().nth(1).hover();
    await expect
      .poll(() =>
        page.locator('[data-testid=plot-point][data-cell-index="1"]').getAttribute('data-highlighted'),
      )
      .toBe('true');
    await screenshot(page, 'grid-done-with-plot');

    // Keys: the first arrow selects cell 0, then right → 1, down → 3, left → 2.
    await page.mouse.move(5, 5);
    const selected = () =>
      page.locator('[data-testid=grid-cell][data-selected=true]').getAttribute('data-index');
    await page.keyboard.press('ArrowRight');
    expect(await selected()).toBe('0');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowDown');
    expect(await selected()).toBe('3');
    await page.keyboard.press('ArrowLeft');
    expect(await selected()).toBe('2');

    // A click compares a cell with the current result; Esc goes back to the grid.
    await cells().nth(2).click();
    await page.getByTestId('cell-compare').waitFor();
    await page.locator('[data-testid=cell-compare-cell][data-loaded=true]').waitFor();
    await page.locator('[data-testid=cell-compare-current][data-loaded=true]').waitFor();
    await screenshot(page, 'grid-cell-compare');
    await page.keyboard.press('Escape');
    await page.getByTestId('cell-compare').waitFor({ state: 'detached' });
    expect(await page.getByTestId('grid-explorer').isVisible()).toBe(true);

    // Enter keeps the selected cell (2: text 3, image 1.5) as a new variant; undo removes it.
    const before = await variantCount();
    await page.keyboard.press('Enter');
    await expect.poll(variantCount, { timeout: 120_000 }).toBe(before + 1);
    expect(
      fake.calls.filter((call) => call.name === 'grid.keep').map((call) => call.payload.cellIndex),
    ).toEqual([2]);
    await page.locator('[data-testid=grid-cell][data-index="2"][data-kept=true]').waitFor();
    await page.keyboard.press('Escape');
    await page.getByTestId('grid-explorer').waitFor({ state: 'detached' });
    await expect.poll(() => lastMessage().getByTestId('variant').count()).toBe(before + 1);
    await expect.poll(() => lastMessage().getByTestId('settings-chips').textContent()).toContain('text 3');
    await screenshot(page, 'grid-cell-kept');
    await page.locator('body').press('Control+z');
    await expect.poll(variantCount).toBe(before);
    await expect.poll(() => lastMessage().getByTestId('variant').count()).toBe(before > 1 ? before : 0);

    // G reopens the explorer for the selected edit, with its last grid (grid.get), not the form.
    await page.locator('body').press('g');
    await waitForCells(4);
    expect(await page.getByTestId('grid-setup').count()).toBe(0);

    // A slow grid cancelled midway keeps its finished cells.
    fake.cellDelayMs = 1500;
    await page.getByTestId('grid-new').click();
    await page.getByTestId('grid-text-scales').fill('3, 5, 7.5');
    await page.getByTestId('grid-start').click();
    await page.locator('[data-testid=grid-cell][data-state=done]').first().waitFor({ timeout: 30_000 });
    // The running cell shows the live preview grid.progress carries (flat grey from the stand-in).
    const preview = page.getByTestId('grid-cell-preview');
    await preview.waitFor();
    expect(
      await preview.evaluate((canvas: HTMLCanvasElement) => [
        canvas.width,
        canvas.height,
        ...canvas.getContext('2d')!.getImageData(5, 5, 1, 1).data,
      ]),
    ).toEqual([24, 16, 128, 128, 128, 255]);
    await screenshot(page, 'grid-running-preview');
    await page.getByTestId('grid-cancel').click();
    await expect.poll(() => page.getByTestId('grid-state').getAttribute('data-state')).toBe('cancelled');
    const done = await page.locator('[data-testid=grid-cell][data-state=done]').count();
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThan(6);
    expect(await page.getByTestId('grid-state').textContent()).toBe(`Cancelled: ${done} of 6 cells finished`);
    // Cells that will not run any more say so, without a spinner.
    const unfinished = page.locator('[data-testid=grid-cell]:not([data-state=done])').first();
    expect(await unfinished.textContent()).toBe('not run');
    expect(await unfinished.locator('.spinner').count()).toBe(0);
    await screenshot(page, 'grid-cancelled');
    await page.keyboard.press('Escape');

    // The CLIP model line in the model dialog.
    await page.getByTestId('model-pill').click();
    await expect.poll(() => page.getByTestId('clip-status').getAttribute('data-state')).toBe('ready');
    await page.getByTestId('clip-folder-input').fill('/models/other-clip');
    await page.getByTestId('clip-folder-use').click();
    await expect.poll(() => page.getByTestId('clip-status').textContent()).toContain('/models/other-clip');
    expect(fake.calls.at(-1)).toEqual({ name: 'clip.useFolder', payload: { path: '/models/other-clip' } });
    await screenshot(page, 'model-dialog-clip');
    await page.keyboard.press('Escape');
    expect(errors).toEqual([]);
  }, 300_000);

  it('[real main side] runs a 2 × 2 grid, matches grid.cellImage on screen, keeps a cell and undoes it', async (test) => {
    if (gridUnavailable)
      test.skip(
        `the main side refuses grid.* as 'unsupported' (${gridUnavailable}); the host branch wires it`,
      );
    const fresh = await context.newPage();
    page = fresh;
    await page.goto(app.url);
    await page.getByTestId('message').first().waitFor({ timeout: 30_000 });

    // The generated tiny CLIP model, chosen by path in the model dialog (browser mode).
    const { makeTinyClipModel } = await import('../../src/main/engine/tiny-model/tiny-clip');
    const clipDir = join(tempDir('e2e-clip-'), 'tiny-clip');
    await makeTinyClipModel(clipDir, { layout: 'split', kind: 'analytic' });
    await page.getByTestId('model-pill').click();
    await page.getByTestId('clip-folder-input').fill(clipDir);
    await page.getByTestId('clip-folder-use').click();
    await expect.poll(() => page.getByTestId('clip-status').getAttribute('data-state')).toBe('ready');
    expect(await page.getByTestId('clip-status').textContent()).toContain(clipDir);
    await screenshot(page, 'real-clip-chosen');
    await page.keyboard.press('Escape');

    await startSmallGrid();
    await waitForCells(4);
    const messageId = (await api.call('document.get', {}))!.messages.at(-1)!.id;
    const grid = (await api.call('grid.get', { messageId })).grid!;
    expect(grid.cells.map((cell) => [cell.textGuidance, cell.imageGuidance])).toEqual([
      [3, 1],
      [7.5, 1],
      [3, 1.5],
      [7.5, 1.5],
    ]);
    for (const index of [0, 3]) {
      const png = (
        await api.call('grid.cellImage', { gridId: grid.gridId, cellIndex: index, maxSide: CELL_THUMB_SIDE })
      ).png;
      expect((await compareCell(page, index, png)).diff).toBeLessThan(1);
    }
    // The two corners are different pictures, so the comparison above could fail.
    const other = (
      await api.call('grid.cellImage', { gridId: grid.gridId, cellIndex: 3, maxSide: CELL_THUMB_SIDE })
    ).png;
    expect((await compareCell(page, 0, other)).diff).toBeGreaterThan(0.5);
    // The plot shows each cell's numbers as the main side computed them.
    await expect.poll(() => page.getByTestId('plot-point').count(), { timeout: 60_000 }).toBe(4);
    expect(await page.getByTestId('grid-plot').getAttribute('data-x-axis')).toBe('directional');
    const measured = (await api.call('grid.get', { messageId })).grid!;
    for (const cell of measured.cells) {
      const title = await page
        .locator(`[data-testid=plot-point][data-cell-index="${cell.index}"] title`)
        .textContent();
      expect(title).toContain(`directional similarity ${cell.metrics!.directionalSimilarity!.toFixed(3)}`);
      expect(title).toContain(`image similarity ${cell.metrics!.imageSimilarity!.toFixed(3)}`);
    }
    await screenshot(page, 'real-grid-done');

    const before = await variantCount();
    await cells().nth(1).hover();
    await cells().nth(1).getByTestId('grid-keep').click();
    await expect.poll(variantCount, { timeout: 60_000 }).toBe(before + 1);
    // Cell 1 is text 7.5 × image 1 with the grid's seed and steps: the variant records those settings.
    const kept = (await api.call('document.get', {}))!.messages.at(-1)!.variants.at(-1)!.settings;
    expect([kept.textGuidance, kept.imageGuidance, kept.seed, kept.steps]).toEqual([7.5, 1, grid.seed, 3]);
    await page.keyboard.press('Escape');
    await expect.poll(() => lastMessage().getByTestId('variant').count()).toBe(before + 1);
    await expect.poll(() => lastMessage().getByTestId('settings-chips').textContent()).toContain('3 steps');
    await screenshot(page, 'real-grid-cell-kept');
    await page.locator('body').press('Control+z');
    await expect.poll(variantCount).toBe(before);
    expect(errors).toEqual([]);
  }, 300_000);

  it('[real main side] saves the project with its grid and reopens it: the last grid shows, not run again, and cannot be kept', async (test) => {
    if (gridUnavailable)
      test.skip(
        `the main side refuses grid.* as 'unsupported' (${gridUnavailable}); the host branch wires it`,
      );
    // launchBrowser's list follows the first page only; this one is the real-main-side test's page.
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(`console: ${message.text()}`);
    });
    const messageId = (await api.call('document.get', {}))!.messages.at(-1)!.id;
    const saved = (await api.call('grid.get', { messageId })).grid!;
    expect(saved.state).toBe('done');
    expect(saved.cells.every((cell) => cell.keepable)).toBe(true);
    const savedPngs: Uint8Array[] = [];
    for (const cell of saved.cells) {
      savedPngs.push(
        (
          await api.call('grid.cellImage', {
            gridId: saved.gridId,
            cellIndex: cell.index,
            maxSide: CELL_THUMB_SIDE,
          })
        ).png,
      );
    }

    // Save in browser mode: the project comes down as a download.
    const download = page.waitForEvent('download');
    await page.getByTestId('save').click();
    const projectPath = join(tempDir('e2e-grid-reopen-'), 'grid.iedit');
    await (await download).saveAs(projectPath);
    await expect.poll(async () => (await api.call('document.get', {}))!.dirty).toBe(false);

    // A reloaded page (no cell pictures cached from the live grid) opens the saved project.
    await page.reload();
    await page.getByTestId('message').first().waitFor({ timeout: 30_000 });
    const chooser = page.waitForEvent('filechooser');
    await page.getByTestId('open').click();
    await (await chooser).setFiles(projectPath);
    // The grid now comes from the file: only thumbnails, so no cell is keepable.
    await expect
      .poll(
        async () => (await api.call('grid.get', { messageId })).grid?.cells.some((cell) => cell.keepable),
        {
          timeout: 30_000,
        },
      )
      .toBe(false);
    await page.getByTestId('message').first().waitFor({ timeout: 30_000 });

    await lastMessage().getByTestId('explore-guidance').click();
    await waitForCells(4);
    // The last grid, not the setup form and not a new run: same id, scales, settings and state.
    expect(await page.getByTestId('grid-setup').count()).toBe(0);
    expect(await page.getByTestId('grid-state').getAttribute('data-state')).toBe('done');
    expect(await page.getByTestId('grid-state').textContent()).toBe('Done: 4 cells');
    expect(await page.getByTestId('grid-axis-text').allTextContents()).toEqual(['3', '7.5']);
    expect(await page.getByTestId('grid-axis-image').allTextContents()).toEqual(['1', '1.5']);
    const reopened = (await api.call('grid.get', { messageId })).grid!;
    expect(reopened.gridId).toBe(saved.gridId);
    expect(reopened.createdAt).toBe(saved.createdAt);
    expect([reopened.seed, reopened.steps, reopened.captionBefore, reopened.captionAfter]).toEqual([
      saved.seed,
      3,
      'a photo of a house',
      'a photo of a red house',
    ]);
    expect(reopened.cells.map((cell) => [cell.state, cell.textGuidance, cell.imageGuidance])).toEqual(
      saved.cells.map((cell) => ['done', cell.textGuidance, cell.imageGuidance]),
    );

    // On screen: the stored thumbnails exactly, and the live grid's pictures within resampling error.
    for (const cell of reopened.cells) {
      const stored = (
        await api.call('grid.cellImage', {
          gridId: reopened.gridId,
          cellIndex: cell.index,
          maxSide: CELL_THUMB_SIDE,
        })
      ).png;
      expect((await compareCell(page, cell.index, stored)).diff).toBeLessThan(1);
      const live = await compareCell(page, cell.index, savedPngs[cell.index]!);
      expect(live.screen).toEqual(live.expected);
      expect(Math.max(...live.screen)).toBeLessThanOrEqual(CELL_THUMB_SIDE);
      expect(live.diff).toBeLessThan(3);
    }
    expect((await compareCell(page, 0, savedPngs[3]!)).diff).toBeGreaterThan(0.5);

    // The numbers are the ones measured before saving, in the plot and in each cell's title.
    await expect.poll(() => page.getByTestId('plot-point').count()).toBe(4);
    expect(await page.getByTestId('grid-plot').getAttribute('data-x-axis')).toBe('directional');
    for (const cell of saved.cells) {
      const directional = cell.metrics!.directionalSimilarity!.toFixed(3);
      const image = cell.metrics!.imageSimilarity!.toFixed(3);
      expect(reopened.cells[cell.index]!.metrics!.directionalSimilarity!.toFixed(3)).toBe(directional);
      expect(reopened.cells[cell.index]!.metrics!.imageSimilarity!.toFixed(3)).toBe(image);
      const point = await page
        .locator(`[data-testid=plot-point][data-cell-index="${cell.index}"] title`)
        .textContent();
      expect(point).toContain(`directional similarity ${directional}`);
      expect(point).toContain(`image similarity ${image}`);
      const tile = await page
        .locator(`[data-testid=grid-cell][data-index="${cell.index}"]`)
        .getAttribute('title');
      expect(tile).toContain(`directional similarity ${directional}`);
      expect(tile).toContain(`image similarity ${image}`);
    }

    // Keep is off and says why; Enter says so too; the main side refuses it as well.
    const reason = 'Run the grid again to keep a cell: a reopened project holds only thumbnails';
    expect(await page.getByTestId('grid-thumbnails-only').textContent()).toBe(`${reason}.`);
    const variants = await variantCount();
    await cells().nth(1).hover();
    const keepButton = cells().nth(1).getByTestId('grid-keep');
    expect(await keepButton.isVisible()).toBe(true);
    expect(await keepButton.isDisabled()).toBe(true);
    expect(await keepButton.getAttribute('title')).toBe(reason);
    await screenshot(page, 'grid-reopened');
    await page.mouse.move(5, 5);
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('Enter');
    const refusal = page.getByTestId('toast-error').filter({ hasText: reason });
    await refusal.waitFor({ timeout: 10_000 });
    await expect(api.call('grid.keep', { gridId: reopened.gridId, cellIndex: 1 })).rejects.toThrow(
      /holds only thumbnails of its cells: run the grid again to keep one/,
    );
    expect(await variantCount()).toBe(variants);
    await page.keyboard.press('Escape');
    expect(pageErrors).toEqual([]);
  }, 300_000);
});
