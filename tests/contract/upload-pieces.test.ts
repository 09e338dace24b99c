/**
 * Uploads larger than one WebSocket piece through browser mode's real server (`serve.ts` in its own
 * process, the real document code): a picture and a project go up in pieces and come back byte for
 * byte, read by an independent decoder (sharp) and unzipper (fflate).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppClient } from '../../src/shared/contract/client';
import { LIMITS } from '../../src/shared/contract/limits';
import { connectClient, startBrowserServer, type BrowserServer } from '../support/browser-server';

const WIDTH = 2000;
const HEIGHT = 1800;

async function rawPixels(png: Uint8Array): Promise<Buffer> {
  return sharp(png).removeAlpha().raw().toBuffer();
}

describe('uploads larger than one piece through the real server', () => {
  let work: string;
  let server: BrowserServer;
  let client: AppClient;
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'upload-pieces-'));
    server = await startBrowserServer(work);
    client = connectClient(server.port, server.token);
  }, 60_000);
  afterAll(async () => {
    client?.close();
    await server?.close();
    rmSync(work, { recursive: true, force: true });
  }, 30_000);

  it('a picture and then its project go up in pieces and come back byte for byte', async () => {
    // Noise, so the PNG stays about as large as its pixels (several pieces).
    const pixels = randomBytes(WIDTH * HEIGHT * 3);
    const png = new Uint8Array(
      await sharp(pixels, { raw: { width: WIDTH, height: HEIGHT, channels: 3 } })
        .png({ compressionLevel: 1 })
        .toBuffer(),
    );
    expect(png.length).toBeGreaterThan(2 * LIMITS.wirePieceBytes);

    const view = await client.call('document.openBytes', { name: 'noise.png', bytes: png });
    expect([view.name, view.width, view.height]).toEqual(['noise.png', WIDTH, HEIGHT]);
    const base = view.layers[0]!.id;
    const shown = await client.call('document.layerImage', { layerId: base, what: 'pixels' });
    expect(Buffer.compare(await rawPixels(shown.png), pixels)).toBe(0);

    const saved = await client.call('project.saveBytes', {});
    expect(saved.bytes.length).toBeGreaterThan(2 * LIMITS.wirePieceBytes);
    const reopened = await client.call('document.openBytes', { name: 'noise.iedit', bytes: saved.bytes });
    expect([reopened.width, reopened.height, reopened.layers.length]).toEqual([WIDTH, HEIGHT, 1]);
    const again = await client.call('document.layerImage', {
      layerId: reopened.layers[0]!.id,
      what: 'pixels',
    });
    expect(Buffer.compare(await rawPixels(again.png), pixels)).toBe(0);

    // Saved again, the project holds the very same picture files.
    const resaved = await client.call('project.saveBytes', {});
    const before = unzipSync(saved.bytes);
    const after = unzipSync(resaved.bytes);
    const pictures = Object.keys(before).filter((name) => name.endsWith('.png'));
    expect(pictures.length).toBeGreaterThan(0);
    expect(Object.keys(after).filter((name) => name.endsWith('.png'))).toEqual(pictures);
    for (const name of pictures)
      expect([name, Buffer.compare(after[name]!, before[name]!)]).toEqual([name, 0]);
  }, 120_000);
});
