/**
 * Browser mode, through the real UI in Chromium: a picture larger than one WebSocket piece, opened
 * with the file input, goes up as pieces (no message over what the server takes in one) and opens
 * with every pixel as it was.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppClient } from '../../src/shared/contract/client';
import { largestMessageBytes, WIRE_LIMITS } from '../../src/shared/contract/wire';
import {
  apiClient,
  buildRenderer,
  CHROMIUM,
  launchBrowser,
  screenshot,
  startApp,
  tempDir,
  type RunningApp,
} from './support/harness';

const hasChromium = existsSync(CHROMIUM);
const WIDTH = 2000;
const HEIGHT = 1500;

describe.skipIf(!hasChromium)('a large upload from the page', () => {
  let app: RunningApp;
  let context: BrowserContext;
  let page: Page;
  let errors: string[];
  let api: AppClient;

  beforeAll(async () => {
    const rendererDir = await buildRenderer();
    const model = join(tempDir('e2e-model-'), 'fake');
    mkdirSync(model);
    writeFileSync(join(model, 'fake-engine.json'), JSON.stringify({ stepDelayMs: 5 }));
    app = await startApp({ rendererDir, engine: 'fake', model });
    api = apiClient(app);
    ({ context, page, errors } = await launchBrowser());
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    api?.close();
    await app?.stop();
  });

  it('opens a picture larger than one piece, sent in pieces, pixel for pixel', async () => {
    // Noise: the PNG stays about as large as its pixels (9 MB, three pieces).
    const pixels = randomBytes(WIDTH * HEIGHT * 3);
    const path = join(tempDir('e2e-big-'), 'noise.png');
    await sharp(pixels, { raw: { width: WIDTH, height: HEIGHT, channels: 3 } })
      .png({ compressionLevel: 1 })
      .toFile(path);

    const sent: { length: number; magic: string }[] = [];
    page.on('websocket', (socket) =>
      socket.on('framesent', ({ payload }) => {
        if (typeof payload !== 'string')
          sent.push({ length: payload.length, magic: payload.subarray(0, 4).toString('latin1') });
      }),
    );
    await page.goto(app.url);
    const chooser = page.waitForEvent('filechooser');
    await page.getByTestId('empty-open').click();
    await (await chooser).setFiles(path);
    await page.locator('[data-testid=canvas] canvas').first().waitFor({ timeout: 60_000 });
    await expect.poll(() => page.getByTestId('layer-row').count(), { timeout: 60_000 }).toBe(1);
    await screenshot(page, 'big-upload-opened');

    const pieces = sent.filter((frame) => frame.magic === 'IEP1');
    expect(pieces.length).toBeGreaterThanOrEqual(2);
    expect(Math.max(...sent.map((frame) => frame.length))).toBeLessThanOrEqual(
      largestMessageBytes(WIRE_LIMITS),
    );

    const doc = (await api.call('document.get', {}))!;
    expect([doc.name, doc.width, doc.height]).toEqual(['noise.png', WIDTH, HEIGHT]);
    const image = await api.call('document.layerImage', { layerId: doc.layers[0]!.id, what: 'pixels' });
    const shown = await sharp(image.png).removeAlpha().raw().toBuffer();
    expect(Buffer.compare(shown, pixels)).toBe(0);
    expect(errors).toEqual([]);
  }, 120_000);
});
