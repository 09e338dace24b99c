/**
 * A few sharp operations (encode, decode, resize, JPEG), run in a child process by the GLib tests:
 * `plain` requires sharp as usual, `isolated` goes through the app's loader. Prints a checksum of
 * the pixels it read back, so a run that "succeeds" with garbage is caught too.
 */
import { createRequire } from 'node:module';
import type SharpModule from 'sharp';

async function main(mode: string): Promise<void> {
  const sharp: typeof SharpModule =
    mode === 'plain'
      ? (createRequire(__filename)('sharp') as typeof SharpModule)
      : (await import('../../src/main/native/sharp')).default;
  const width = 64;
  const height = 48;
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 7) % 256;
  let sum = 0;
  for (let round = 0; round < 20; round++) {
    const png = await sharp(raw, { raw: { width, height, channels: 3 } })
      .png()
      .toBuffer();
    const back = await sharp(png).raw().toBuffer();
    await sharp(png).resize(32, 24).jpeg().toBuffer();
    sum = back.reduce((total, value) => total + value, 0);
  }
  console.log(JSON.stringify({ sum, expected: raw.reduce((total, value) => total + value, 0) }));
}

void main(process.argv[2] ?? 'isolated');
