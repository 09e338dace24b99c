/**
 * UI benchmark: how soon the screen shows the truth, in browser mode through the real UI in Chromium
 * with the generated tiny model. Not a test: it prints a table (and writes bench-output/ui-bench.json).
 *
 *   - open → first correct pixels (from choosing the file to the picture on the canvas)
 *   - "Done" → correct pixels (from the message turning Done to the new layer on the canvas)
 *   - reload → correct composite (from reloading the page to all layers on the canvas)
 *   - renderer frame time p95 while an edit runs (requestAnimationFrame deltas)
 *
 * Times come from the page's clock: a MutationObserver stamps when a message turns Done and when the
 * canvas presents a complete frame (it presents a document state only once all its layers' pixels
 * are there). Each presented state is then checked against the main side's composite, resized to
 * the picture's on-screen size (mean absolute difference of 8×8 block means, 0..255: a wrong picture
 * is tens of levels off, a different resampling filter a fraction of one).
 *
 *   npm run bench:ui                       3000×2000 and 8000×6000
 *   npm run bench:ui -- --sizes 3000x2000  other sizes
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import type { AppClient } from '../src/shared/contract/client';
import {
  apiClient,
  buildRenderer,
  launchBrowser,
  makeModelFolder,
  ROOT,
  startApp,
  tempDir,
} from '../tests/e2e/support/harness';

const { values } = parseArgs({
  options: { sizes: { type: 'string' }, steps: { type: 'string' } },
  allowPositionals: false,
});
const SIZES = (values.sizes ?? '3000x2000,8000x6000').split(',').map((size) => {
  const [width, height] = size.split('x').map(Number);
  if (!width || !height) throw new Error(`bad size ${size}`);
  return { width, height };
});

/** A smooth photo-like picture (gradients and soft shapes), as JPEG. */
async function makePhoto(width: number, height: number): Promise<string> {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const u = x / width;
      const v = y / height;
      data[i] = 40 + 180 * u;
      data[i + 1] = 60 + 150 * v * (0.6 + 0.4 * Math.sin(u * 9));
      data[i + 2] = 200 - 150 * Math.hypot(u - 0.6, v - 0.4);
    }
  }
  const path = join(tempDir('ui-bench-'), `photo-${width}x${height}.jpg`);
  await sharp(data, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 92 })
    .toFile(path);
  return path;
}

/**
 * Stamps (page clock) when messages turn Done and when the canvas presents a complete frame; runs
 * in every page from its start (an init script), so a reload is measured from navigation.
 */
function probeScript(): void {
  const probe = {
    done: [] as { at: number; count: number }[],
    frames: [] as { at: number; layers: number; loading: boolean }[],
    rafs: [] as number[],
    recordRaf: false,
  };
  (window as unknown as { __bench: typeof probe }).__bench = probe;
  let doneCount = 0;
  const observer = new MutationObserver(() => {
    const now = performance.now();
    const count = document.querySelectorAll('[data-testid=message][data-status=done]').length;
    if (count !== doneCount) probe.done.push({ at: now, count });
    doneCount = count;
    const canvas = document.querySelector<HTMLElement>('[data-testid=canvas]');
    if (canvas) {
      const layers = Number(canvas.dataset.frameLayers ?? 0);
      const loading = canvas.dataset.loading === 'true';
      const last = probe.frames.at(-1);
      if (!last || last.layers !== layers || last.loading !== loading)
        probe.frames.push({ at: now, layers, loading });
    }
  });
  observer.observe(document, {
    subtree: true,
    childList: true,
    attributes: true,
    attributeFilter: ['data-status', 'data-loading', 'data-frame-layers'],
  });
  const tick = (time: number) => {
    if (probe.recordRaf) probe.rafs.push(time);
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}

interface Probe {
  done: { at: number; count: number }[];
  frames: { at: number; layers: number; loading: boolean }[];
  rafs: number[];
}

const probe = (page: Page) => page.evaluate(() => (window as unknown as { __bench: Probe }).__bench);
const now = (page: Page) => page.evaluate(() => performance.now());

/** When the canvas first presented a complete frame of `layers` layers after `since` (page clock). */
async function presentedAt(page: Page, layers: number, since: number, timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { frames } = await probe(page);
    const frame = frames.find((entry) => entry.at >= since && entry.layers === layers && !entry.loading);
    if (frame) return frame.at;
    if (Date.now() > deadline) throw new Error(`no frame with ${layers} layers: ${JSON.stringify(frames)}`);
    await page.waitForTimeout(50);
  }
}

/**
 * Mean absolute difference between the picture on the canvas and the main side's composite resized
 * (by sharp) to the picture's on-screen size.
 */
async function screenError(page: Page, api: AppClient): Promise<number> {
  const view = await page.evaluate(() => {
    const canvas = document.querySelector<HTMLElement>('[data-testid=canvas]')!;
    return {
      scale: Number(canvas.dataset.viewScale),
      x: Number(canvas.dataset.viewX),
      y: Number(canvas.dataset.viewY),
    };
  });
  const { bytes } = await api.call('export.bytes', { format: 'png' });
  const meta = await sharp(bytes).metadata();
  const width = Math.round(meta.width! * view.scale);
  const height = Math.round(meta.height! * view.scale);
  const expected = await sharp(bytes).resize(width, height, { fit: 'fill' }).png().toBuffer();
  return page.evaluate(
    async ({ png, x, y }) => {
      const bitmap = await createImageBitmap(
        new Blob([Uint8Array.from(atob(png), (c) => c.charCodeAt(0))], { type: 'image/png' }),
      );
      const screen = document.querySelector<HTMLCanvasElement>('[data-testid=canvas] canvas')!;
      const left = Math.ceil(x) + 1;
      const top = Math.ceil(y) + 1;
      const width = Math.min(screen.width - left, bitmap.width - 3);
      const height = Math.min(screen.height - top, bitmap.height - 3);
      const wanted = document.createElement('canvas');
      wanted.width = screen.width;
      wanted.height = screen.height;
      const context = wanted.getContext('2d')!;
      context.drawImage(bitmap, Math.round(x), Math.round(y));
      const a = screen.getContext('2d')!.getImageData(left, top, width, height).data;
      const b = context.getImageData(left, top, width, height).data;
      // Means over 8×8 blocks: the two resizes (sharp's, and the screen's own) filter differently,
      // which shows in noise-like detail but not in what the picture is.
      const block = 8;
      let sum = 0;
      let count = 0;
      for (let by = 0; by + block <= height; by += block) {
        for (let bx = 0; bx + block <= width; bx += block) {
          for (let c = 0; c < 3; c++) {
            let sa = 0;
            let sb = 0;
            for (let y = by; y < by + block; y++) {
              for (let x = bx; x < bx + block; x++) {
                const i = (y * width + x) * 4 + c;
                sa += a[i]!;
                sb += b[i]!;
              }
            }
            sum += Math.abs(sa - sb) / (block * block);
            count++;
          }
        }
      }
      return sum / count;
    },
    { png: expected.toString('base64'), x: view.x, y: view.y },
  );
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

interface Row {
  size: string;
  openMs: number;
  doneToPixelsMs: number;
  reloadMs: number;
  frameP95Ms: number;
  frameMaxMs: number;
  errors: { open: number; edit: number; reload: number };
}

async function main(): Promise<void> {
  const rendererDir = await buildRenderer();
  const model = await makeModelFolder(20);
  if (model.reason) throw new Error(model.reason);
  const app = await startApp({ rendererDir, engine: model.engine, model: model.dir });
  const api = apiClient(app);
  const { context, page } = await launchBrowser();
  // tsx keeps function names with a `__name` helper that pages do not have.
  const nameShim = 'window.__name = (fn) => fn;';
  await page.addInitScript(nameShim);
  await page.addInitScript(probeScript);
  if (process.env.UI_BENCH_TRACE) {
    // Each WebSocket message with its time and size: where the waiting is.
    const started = Date.now();
    page.on('websocket', (socket) => {
      const log = (way: string) => (frame: { payload: string | Buffer }) =>
        console.error(
          `${way} ${Date.now() - started} ms ${frame.payload.length} B ${String(frame.payload).slice(0, 90)}`,
        );
      socket.on('framesent', log('→'));
      socket.on('framereceived', log('←'));
    });
  }
  const rows: Row[] = [];
  try {
    await page.goto(app.url);
    await page.evaluate(nameShim);
    await page.locator('[data-testid=model-pill].state-ready').waitFor({ timeout: 120_000 });
    for (const { width, height } of SIZES) {
      const photo = await makePhoto(width, height);
      await page.evaluate(probeScript);

      // Open → first correct pixels.
      const chooser = page.waitForEvent('filechooser');
      await page.getByTestId(rows.length === 0 ? 'empty-open' : 'open').click();
      let openStart = await now(page);
      await (await chooser).setFiles(photo);
      if (rows.length > 0) {
        // The previous picture has unsaved work: the app asks first; the clock starts at "Don't save".
        const discard = page.getByTestId('unsaved-discard');
        await discard.waitFor();
        openStart = await now(page);
        await discard.click();
      }
      const opened = await presentedAt(page, 1, openStart);
      console.error(`${width}×${height}: opened`);
      const openError = await screenError(page, api);

      // Done → correct pixels, and frame times while the edit runs.
      await page.getByTestId('steps').fill(values.steps ?? '20');
      await page.getByTestId('instruction-input').fill('make it look like a watercolor');
      await page.evaluate(() => {
        const bench = (window as unknown as { __bench: Probe & { recordRaf: boolean } }).__bench;
        bench.rafs.length = 0;
        bench.recordRaf = true;
      });
      const sent = await now(page);
      await page.getByTestId('instruction-input').press('Control+Enter');
      const shown = await presentedAt(page, 2, sent, 300_000);
      console.error(`${width}×${height}: edited`);
      const { done, rafs } = await probe(page);
      await page.evaluate(() => {
        (window as unknown as { __bench: { recordRaf: boolean } }).__bench.recordRaf = false;
      });
      const doneAt = done.find((entry) => entry.at >= sent)?.at ?? NaN;
      const running = rafs.filter((time) => time <= doneAt);
      const deltas = running.slice(1).map((time, i) => time - running[i]!);
      const editError = await screenError(page, api);

      // Reload → correct composite (the page clock starts at navigation).
      await page.reload();
      const reloaded = await presentedAt(page, 2, 0);
      console.error(`${width}×${height}: reloaded`);
      const reloadError = await screenError(page, api);

      rows.push({
        size: `${width}×${height}`,
        openMs: opened - openStart,
        doneToPixelsMs: shown - doneAt,
        reloadMs: reloaded,
        frameP95Ms: percentile(deltas, 95),
        frameMaxMs: Math.max(...deltas),
        errors: { open: openError, edit: editError, reload: reloadError },
      });
      console.log(JSON.stringify(rows.at(-1)));
    }
  } catch (error) {
    await page
      .screenshot({ path: join(ROOT, 'bench-output', 'ui-bench-failure.png') })
      .catch(() => undefined);
    console.error(app.output.join('').slice(-3000));
    throw error;
  } finally {
    await context.close();
    api.close();
    await app.stop();
  }

  const fixed = (value: number) => (Number.isFinite(value) ? value.toFixed(0).padStart(8) : '       –');
  console.log(
    `\nload average ${loadavg()
      .map((value) => value.toFixed(1))
      .join(
        ' ',
      )}; machine: ${cpus()[0]?.model ?? 'unknown CPU'} ×${cpus().length}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, Chromium headless (software)`,
  );
  console.log(
    'size        open→pixels  Done→pixels  reload→pixels  frame p95  frame max   (ms)   screen error',
  );
  for (const row of rows) {
    console.log(
      `${row.size.padEnd(12)}${fixed(row.openMs)}     ${fixed(row.doneToPixelsMs)}     ${fixed(row.reloadMs)}       ${fixed(row.frameP95Ms)}   ${fixed(row.frameMaxMs)}          ` +
        `${row.errors.open.toFixed(2)} / ${row.errors.edit.toFixed(2)} / ${row.errors.reload.toFixed(2)}`,
    );
  }
  const out = join(ROOT, 'bench-output');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'ui-bench.json'), JSON.stringify({ cpus: cpus().length, rows }, null, 2));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
