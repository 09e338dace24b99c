/// <reference lib="dom" />
/**
 * Screen truth: what the canvas shows against the document's composite computed on the main side.
 *
 * The composite comes from the server (`export.bytes` PNG: the flattened document as export writes
 * it). In the page it is drawn into a canvas of the stage's size with the view transform the canvas
 * reports (scale and offset, data attributes on the canvas element) and the same image smoothing,
 * i.e. resized to the picture's on-screen rectangle with the same filter; then the mean absolute
 * difference (RGB, 0..255) is taken over the picture's rectangle, one pixel in from its edges.
 */
import type { Page } from 'playwright-core';
import type { AppClient } from '../../../src/shared/contract/client';

export interface ScreenComparison {
  /** Mean absolute difference per channel (0..255); Infinity when nothing could be compared. */
  diff: number;
  /** Pixels compared. */
  pixels: number;
  /** The view the canvas reported. */
  view: { scale: number; x: number; y: number } | null;
  /** The composite's size (the document on the main side). */
  width: number;
  height: number;
}

export async function mainComposite(api: AppClient): Promise<Uint8Array> {
  return (await api.call('export.bytes', { format: 'png' })).bytes;
}

/** Compares the canvas with a PNG of the expected composite (document size). */
export async function compareCanvas(page: Page, png: Uint8Array): Promise<ScreenComparison> {
  const base64 = Buffer.from(png).toString('base64');
  return page.evaluate(async (pngBase64): Promise<ScreenComparison> => {
    const bytes = Uint8Array.from(atob(pngBase64), (c) => c.charCodeAt(0));
    const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
    const empty = { diff: Infinity, pixels: 0, view: null, width: bitmap.width, height: bitmap.height };
    const container = document.querySelector<HTMLElement>('[data-testid=canvas]');
    // The first Konva layer's canvas holds the picture (the brush cursor has its own layer).
    const screen = container?.querySelector<HTMLCanvasElement>('canvas');
    if (!container || !screen || container.dataset.viewScale === undefined) return empty;
    const view = {
      scale: Number(container.dataset.viewScale),
      x: Number(container.dataset.viewX),
      y: Number(container.dataset.viewY),
    };
    const ratio = screen.width / screen.clientWidth || 1;
    const expected = document.createElement('canvas');
    expected.width = screen.width;
    expected.height = screen.height;
    const context = expected.getContext('2d', { willReadFrequently: true })!;
    context.imageSmoothingEnabled = container.dataset.smoothing !== 'off';
    context.setTransform(view.scale * ratio, 0, 0, view.scale * ratio, view.x * ratio, view.y * ratio);
    context.drawImage(bitmap, 0, 0);
    const x0 = Math.max(0, Math.ceil(view.x * ratio) + 1);
    const y0 = Math.max(0, Math.ceil(view.y * ratio) + 1);
    const x1 = Math.min(screen.width, Math.floor((view.x + bitmap.width * view.scale) * ratio) - 1);
    const y1 = Math.min(screen.height, Math.floor((view.y + bitmap.height * view.scale) * ratio) - 1);
    if (x1 <= x0 || y1 <= y0) return { ...empty, view };
    const screenContext = screen.getContext('2d')!;
    const shown = screenContext.getImageData(x0, y0, x1 - x0, y1 - y0).data;
    const wanted = context.getImageData(x0, y0, x1 - x0, y1 - y0).data;
    let sum = 0;
    for (let i = 0; i < shown.length; i += 4) {
      sum +=
        Math.abs(shown[i]! - wanted[i]!) +
        Math.abs(shown[i + 1]! - wanted[i + 1]!) +
        Math.abs(shown[i + 2]! - wanted[i + 2]!);
    }
    const pixels = shown.length / 4;
    return { diff: sum / (pixels * 3), pixels, view, width: bitmap.width, height: bitmap.height };
  }, base64);
}

/**
 * Waits (polling) until the canvas matches the main side's composite within `tolerance`, or the
 * time is up; returns the last comparison either way, so a caller can record every step.
 */
export async function settleScreen(
  page: Page,
  api: AppClient,
  options: { tolerance?: number; timeoutMs?: number } = {},
): Promise<ScreenComparison> {
  const tolerance = options.tolerance ?? 2;
  const deadline = Date.now() + (options.timeoutMs ?? 8000);
  let last: ScreenComparison;
  for (;;) {
    last = await compareCanvas(page, await mainComposite(api));
    if (last.diff <= tolerance || Date.now() > deadline) return last;
    await page.waitForTimeout(150);
  }
}

/** The view the canvas reports, and the canvas element's box on the page. */
export async function canvasView(page: Page): Promise<{
  scale: number;
  x: number;
  y: number;
  width: number;
  height: number;
  left: number;
  top: number;
}> {
  return page.evaluate(() => {
    const container = document.querySelector<HTMLElement>('[data-testid=canvas]')!;
    const box = container.getBoundingClientRect();
    return {
      scale: Number(container.dataset.viewScale),
      x: Number(container.dataset.viewX),
      y: Number(container.dataset.viewY),
      width: box.width,
      height: box.height,
      left: box.left,
      top: box.top,
    };
  });
}

/** RGBA pixels of one of the stage's layer canvases (0: the picture, 1: the brush cursor). */
export async function readCanvas(
  page: Page,
  index: number,
  rect: { x: number; y: number; width: number; height: number },
): Promise<number[]> {
  return page.evaluate(
    ({ index, rect }) => {
      const canvases = document.querySelectorAll<HTMLCanvasElement>('[data-testid=canvas] canvas');
      const canvas = canvases[index];
      if (!canvas) return [];
      const context = canvas.getContext('2d')!;
      return [...context.getImageData(rect.x, rect.y, rect.width, rect.height).data];
    },
    { index, rect },
  );
}
