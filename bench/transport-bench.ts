/**
 * Browser-mode transport benchmark: save (project.saveBytes) and PSD export (export.bytes) of a big
 * project through the WebSocket, against the CLI's way of making and writing the same file (encode
 * and write in one process, no transport). Prints times, the server's peak RSS, how long
 * another client (its own process, calls every 10 ms on a fixed schedule) waited for `app.info`
 * while each ran, and how long the server's event loop was held (as the liveness tests measure it),
 * then each figure against issue #9's targets. The first save comes right after the edits, so it is
 * compared with the CLI saving right after its edits (their PNGs encoded in the save); the second
 * with the CLI saving a loaded project (PNGs ready). Not a test. Traffic stays on 127.0.0.1.
 *
 *   npm run bench:transport                       24 MP picture with 3 edit layers
 *   npm run bench:transport -- --megapixels 6 --layers 1
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { exportPsd } from '../src/main/document/export';
import { PixelStore } from '../src/main/document/pixel-store';
import { encodeProject, loadProject } from '../src/main/document/project-file';
import { referencedPixels } from '../src/shared/document/records';
import { writeFileAtomic } from '../src/main/util/atomic-write';
import {
  connectClient,
  photoLikePixels,
  runEdit,
  startBrowserServer,
  waitForModel,
} from '../tests/support/browser-server';
import { percentile, startProbe } from '../tests/support/liveness';

const { values } = parseArgs({
  options: {
    megapixels: { type: 'string', default: '24' },
    layers: { type: 'string', default: '3' },
  },
});
const megapixels = Number(values.megapixels);
const editLayers = Number(values.layers);
const width = Math.round(Math.sqrt((megapixels * 1e6 * 3) / 2));
const height = Math.round((width * 2) / 3);

const work = mkdtempSync(join(tmpdir(), 'transport-bench-'));
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/** A photo-like picture as PNG (compresses like a photo, not like noise). */
async function makePicture(): Promise<Buffer> {
  return sharp(photoLikePixels(width, height, 12345), { raw: { width, height, channels: 3 } })
    .png({ compressionLevel: 3 })
    .toBuffer();
}

function peakRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmHWM:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) * 1024 : NaN;
}

function resetPeakRss(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    /* not allowed here: the peak then counts from the start */
  }
}

async function main(): Promise<void> {
  console.log(`picture ${width}×${height} (${megapixels} MP), ${editLayers} edit layers`);
  const picture = await makePicture();
  const server = await startBrowserServer(work, { loadModel: true, measureLoopDelay: true });
  const client = connectClient(server.port, server.token);
  // The other client, in its own process so that receiving the big answers here cannot delay it.
  const prober = await startProbe(server.port, server.token);
  try {
    let started = performance.now();
    await client.call('document.openBytes', { name: 'photo.png', bytes: picture });
    console.log(
      `upload + open of a ${mb(picture.length)} PNG: ${(performance.now() - started).toFixed(0)} ms`,
    );
    await waitForModel(client);
    started = performance.now();
    for (let layer = 0; layer < editLayers; layer++) {
      await runEdit(client, ['make it red', 'make it blue', 'make it green'][layer % 3]!, layer);
    }
    console.log(`${editLayers} edits: ${(performance.now() - started).toFixed(0)} ms`);

    const rows: string[][] = [];
    const measure = async (label: string, call: () => Promise<Uint8Array>) => {
      resetPeakRss(server.process.pid!);
      const rssBefore = peakRssBytes(server.process.pid!);
      await server.startLoopDelay();
      prober.start();
      const t0 = performance.now();
      const bytes = await call();
      const received = performance.now() - t0;
      const file = join(work, `browser-${label}`);
      writeFileSync(file, bytes);
      const total = performance.now() - t0;
      const latencies = await prober.stop();
      const held = (await server.stopLoopDelay()).busy;
      rows.push([
        label,
        mb(bytes.length),
        `${received.toFixed(0)} ms`,
        `${total.toFixed(0)} ms`,
        mb(peakRssBytes(server.process.pid!)),
        mb(rssBefore),
        `${latencies.length}`,
        `${percentile(latencies, 50).toFixed(1)} ms`,
        `${percentile(latencies, 99).toFixed(1)} ms`,
        `${Math.max(...latencies).toFixed(1)} ms`,
        `${held.p99.toFixed(1)} ms`,
        `${held.max.toFixed(1)} ms`,
      ]);
      return bytes;
    };
    const saved = await measure('save', async () => (await client.call('project.saveBytes', {})).bytes);
    // Again, three times: layer PNGs are encoded by now, so this is mostly zip + transport.
    for (let again = 1; again <= 3; again++) {
      await measure(`save again #${again}`, async () => (await client.call('project.saveBytes', {})).bytes);
    }
    await measure('psd', async () => (await client.call('export.bytes', { format: 'psd' })).bytes);

    // The CLI's way: the same document, encoded and written in one process with no transport.
    const projectPath = join(work, 'cli.iedit');
    writeFileSync(projectPath, saved);
    const loaded = await loadProject(projectPath);
    // Right after its edits the CLI holds their pixels raw, as the server did at the first save:
    // its save encodes them (the picture the user opened stays the PNG it came as).
    const fresh = new PixelStore();
    for (const ref of referencedPixels(loaded.doc)) {
      if (ref === loaded.doc.base.pixels) {
        fresh.addPng(ref, loaded.store.info(ref)!, await loaded.store.png(ref));
      } else {
        const image = await loaded.store.get(ref);
        fresh.put(image.kind, image);
      }
    }
    let t0 = performance.now();
    await writeFileAtomic(join(work, 'cli-save-fresh.iedit'), await encodeProject(loaded.doc, fresh));
    const cliSaveFresh = performance.now() - t0;
    t0 = performance.now();
    const projectBytes = await encodeProject(loaded.doc, loaded.store);
    await writeFileAtomic(join(work, 'cli-save.iedit'), projectBytes);
    const cliSave = performance.now() - t0;
    t0 = performance.now();
    const psd = await exportPsd(loaded.doc, loaded.store);
    await writeFileAtomic(join(work, 'cli-export.psd'), psd);
    const cliPsd = performance.now() - t0;
    t0 = performance.now();
    await writeFileAtomic(join(work, 'raw.bin'), projectBytes);
    const rawWrite = performance.now() - t0;

    console.log(
      '\nbrowser mode (server in its own process; client receives, then writes the file)\n' +
        'call | size | received | +written | server peak RSS | RSS before | app.info calls | p50 | p99 | max | ' +
        'server loop held p99 | held max\n' +
        "(app.info: another client's waits, which on a loaded machine include waiting for a core; held: the\n" +
        " server's main thread busy without a turn, in its own CPU time, as the liveness tests measure)",
    );
    for (const row of rows) console.log(row.join(' | '));
    console.log('\nCLI way (the same document encoded + written atomically in one process, no transport)');
    console.log(
      `save right after the edits (their PNGs encoded in the save): ${cliSaveFresh.toFixed(0)} ms\n` +
        `save of the loaded project (PNGs ready): ${cliSave.toFixed(0)} ms (${mb(projectBytes.length)})\n` +
        `psd: ${cliPsd.toFixed(0)} ms (${mb(psd.length)})`,
    );
    /** Against the CLI: the row `label`, or the median of the rows `label #n`. */
    const ratio = (label: string, cli: number) => {
      const matching = rows
        .filter((r) => r[0] === label || r[0]!.startsWith(`${label} #`))
        .sort((a, b) => Number.parseFloat(a[3]!) - Number.parseFloat(b[3]!));
      const row = matching[Math.floor(matching.length / 2)]!;
      const browser = Number.parseFloat(row[3]!);
      const extra = Number.parseFloat(row[4]!) - Number.parseFloat(row[5]!);
      const size = Number.parseFloat(row[1]!);
      return (
        `${row[0]}: ${(browser / cli).toFixed(2)} × the CLI's time (target ≤ 1.5), ` +
        `server memory +${extra.toFixed(0)} MB = ${(extra / size).toFixed(2)} × the file (target ≤ 2)`
      );
    };
    console.log(
      '\n' + [ratio('save', cliSaveFresh), ratio('save again', cliSave), ratio('psd', cliPsd)].join('\n'),
    );
    console.log(`atomic write of the project bytes alone: ${rawWrite.toFixed(0)} ms`);
    console.log(`project file on disk: ${mb(statSync(projectPath).size)}`);
  } finally {
    client.close();
    await prober.close();
    await server.close();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  rmSync(work, { recursive: true, force: true });
  process.exit(1);
});
