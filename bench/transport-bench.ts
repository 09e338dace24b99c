/**
 * Browser-mode transport benchmark: save (project.saveBytes) and PSD export (export.bytes) of a big
 * project through the WebSocket, against the CLI's way of making and writing the same file (encode
 * and write in one process, no transport). Prints times, the server's peak RSS, and how long
 * another client (its own process, calls every 10 ms on a fixed schedule) waited for `app.info`
 * while each ran. Not a test. Traffic stays on 127.0.0.1.
 *
 *   npm run bench:transport                       24 MP picture with 3 edit layers
 *   npm run bench:transport -- --megapixels 6 --layers 1
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { connectClient, startFakeServer } from './support/fake-server';
import { exportPsd } from '../src/main/document/export';
import { encodeProject, loadProject } from '../src/main/document/project-file';
import { writeFileAtomic } from '../src/main/util/atomic-write';

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

/** A photo-like picture: smooth gradients with a little noise (compresses like a photo, not like noise). */
async function makePicture(): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 3);
  let seed = 12345;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const noise = (seed >> 16) & 7;
      const i = (y * width + x) * 3;
      data[i] = ((x * 255) / width + noise) & 255;
      data[i + 1] = ((y * 255) / height + noise) & 255;
      data[i + 2] = (((x + y) * 127) / (width + height) + 64 + noise) & 255;
    }
  }
  return sharp(data, { raw: { width, height, channels: 3 } })
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

/**
 * The other client, in its own process (tests/support/app-info-probe.ts) so that receiving the
 * big answers here cannot delay it: app.info every 10 ms on a fixed schedule between start and stop.
 */
function startProbe(port: number, token: string) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'tests/support/app-info-probe.ts', String(port), token],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const lines: string[] = [];
  const waiters: ((line: string) => void)[] = [];
  let pending = '';
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      const waiter = waiters.shift();
      if (waiter) waiter(line);
      else lines.push(line);
    }
  });
  const nextLine = () =>
    new Promise<string>((resolve) => {
      const line = lines.shift();
      if (line !== undefined) resolve(line);
      else waiters.push(resolve);
    });
  return {
    ready: nextLine(),
    start: () => child.stdin.write('start\n'),
    async stop(): Promise<number[]> {
      child.stdin.write('stop\n');
      return JSON.parse(await nextLine()) as number[];
    },
    quit: () => child.stdin.write('quit\n'),
  };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function main(): Promise<void> {
  console.log(`picture ${width}×${height} (${megapixels} MP), ${editLayers} edit layers`);
  const picture = await makePicture();
  const { process: server, port, token } = await startFakeServer(work, { loadModel: true });
  const client = connectClient(port, token);
  const prober = startProbe(port, token);
  await prober.ready;
  try {
    let started = performance.now();
    await client.call('document.openBytes', { name: 'photo.png', bytes: picture });
    console.log(
      `upload + open of a ${mb(picture.length)} PNG: ${(performance.now() - started).toFixed(0)} ms`,
    );
    while ((await client.call('model.status', {})).state !== 'ready')
      await new Promise((r) => setTimeout(r, 50));
    started = performance.now();
    for (let layer = 0; layer < editLayers; layer++) {
      const done = new Promise<void>((finished, failed) => {
        const off = client.on('job.updated', (event) => {
          if (event.status === 'done') {
            off();
            finished();
          } else if (event.status === 'failed' || event.status === 'cancelled') {
            off();
            failed(new Error(event.error ?? event.status));
          }
        });
      });
      await client.call('edit.enqueue', {
        settings: {
          instruction: ['make it red', 'make it blue', 'make it green'][layer % 3]!,
          steps: 2,
          textGuidance: 7.5,
          imageGuidance: 1.5,
          seed: layer,
          scheduler: 'euler-ancestral',
          resolution: 'native',
        },
      });
      await done;
    }
    console.log(`${editLayers} edits: ${(performance.now() - started).toFixed(0)} ms`);

    const rows: string[][] = [];
    const measure = async (label: string, call: () => Promise<Uint8Array>) => {
      resetPeakRss(server.pid!);
      const rssBefore = peakRssBytes(server.pid!);
      prober.start();
      const t0 = performance.now();
      const bytes = await call();
      const received = performance.now() - t0;
      const file = join(work, `browser-${label}`);
      writeFileSync(file, bytes);
      const total = performance.now() - t0;
      const latencies = await prober.stop();
      rows.push([
        label,
        mb(bytes.length),
        `${received.toFixed(0)} ms`,
        `${total.toFixed(0)} ms`,
        mb(peakRssBytes(server.pid!)),
        mb(rssBefore),
        `${latencies.length}`,
        `${percentile(latencies, 50).toFixed(1)} ms`,
        `${percentile(latencies, 99).toFixed(1)} ms`,
        `${Math.max(...latencies).toFixed(1)} ms`,
      ]);
      return bytes;
    };
    const saved = await measure('save', async () => (await client.call('project.saveBytes', {})).bytes);
    // Again: layer PNGs are encoded by now, so this is mostly zip + transport.
    await measure('save again', async () => (await client.call('project.saveBytes', {})).bytes);
    await measure('psd', async () => (await client.call('export.bytes', { format: 'psd' })).bytes);

    // The CLI's way: the same document, encoded and written in one process with no transport.
    const projectPath = join(work, 'cli.iedit');
    writeFileSync(projectPath, saved);
    const loaded = await loadProject(projectPath);
    let t0 = performance.now();
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
        'call | size | received | +written | server peak RSS | RSS before | app.info calls | p50 | p99 | max',
    );
    for (const row of rows) console.log(row.join(' | '));
    console.log('\nCLI way (the saved project loaded, then encoded + written atomically, one process)');
    console.log(
      `save: ${cliSave.toFixed(0)} ms (${mb(projectBytes.length)}), psd: ${cliPsd.toFixed(0)} ms (${mb(psd.length)})`,
    );
    console.log(`atomic write of the project bytes alone: ${rawWrite.toFixed(0)} ms`);
    console.log(`project file on disk: ${mb(statSync(projectPath).size)}`);
  } finally {
    client.close();
    prober.quit();
    server.kill('SIGTERM');
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  rmSync(work, { recursive: true, force: true });
  process.exit(1);
});
