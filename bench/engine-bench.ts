/**
 * Engine benchmark: per-stage times, UNet rows, pipeline overhead over raw session.run, the cost of
 * a re-run with cached conditioning, and peak RSS, for generated tiny and realistic-width models.
 * Not a test: it prints a table (and writes bench-output/engine-bench.json).
 *
 *   npm run bench                 tiny + realistic widths, 256² and 512²
 *   npm run bench -- --quick      tiny model only
 *   npm run bench -- --steps 10   UNet steps per edit (default 20 tiny, 4 realistic)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { EditSettings, EditTimings, RgbImage } from '../src/shared/engine-types';
import { InstructPix2PixPipeline } from '../src/main/engine/pipeline';
import { makeTinyModel, REALISTIC_WIDTHS } from '../src/main/engine/tiny-model/tiny-model';

interface Row {
  model: string;
  size: number;
  steps: number;
  loadMs: number;
  first: EditTimings;
  rerun: EditTimings;
  rerunTwoRows: EditTimings;
  overheadPercent: number;
  peakRssMb: number;
}

const { values } = parseArgs({
  options: { quick: { type: 'boolean' }, steps: { type: 'string' } },
  allowPositionals: false,
});

function testImage(size: number): RgbImage {
  const data = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 3;
      data[i] = (x * 255) / size;
      data[i + 1] = (y * 255) / size;
      data[i + 2] = ((x ^ y) & 16) * 8;
    }
  }
  return { width: size, height: size, data };
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

async function benchModel(name: string, dir: string, size: number, steps: number): Promise<Row> {
  const loadStarted = performance.now();
  const pipeline = await InstructPix2PixPipeline.load(dir, { provider: 'cpu' });
  const loadMs = performance.now() - loadStarted;
  try {
    const image = testImage(size);
    const settings: EditSettings = {
      instruction: 'make it look like a watercolor painting',
      steps,
      textGuidance: 7.5,
      imageGuidance: 1.5,
      seed: 1,
      scheduler: 'euler-ancestral',
      resolution: 'native',
    };
    const runBefore = pipeline.sessionRunMs();
    const first = (await pipeline.edit(image, settings)).timings;
    const runDuring = pipeline.sessionRunMs() - runBefore;
    // Overhead: everything the pipeline does beyond onnxruntime's own run calls.
    const overheadPercent = ((first.totalMs - runDuring) / first.totalMs) * 100;
    const rerun = (await pipeline.edit(image, { ...settings, textGuidance: 5, seed: 2 })).timings;
    const rerunTwoRows = (await pipeline.edit(image, { ...settings, imageGuidance: 1, seed: 3 })).timings;
    return {
      model: name,
      size,
      steps,
      loadMs,
      first,
      rerun,
      rerunTwoRows,
      overheadPercent,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
    };
  } finally {
    await pipeline.dispose();
  }
}

function formatRow(row: Row): string {
  const step = (t: EditTimings) => sum(t.unetStepMs) / Math.max(1, t.unetStepMs.length);
  const cells = [
    row.model,
    `${row.size}²`,
    String(row.steps),
    row.loadMs.toFixed(0),
    row.first.tokenizeMs.toFixed(2),
    row.first.textEncoderMs.toFixed(1),
    row.first.vaeEncoderMs.toFixed(1),
    `${step(row.first).toFixed(1)} (${row.first.unetRows} rows)`,
    `${step(row.rerunTwoRows).toFixed(1)} (${row.rerunTwoRows.unetRows} rows)`,
    row.first.vaeDecoderMs.toFixed(1),
    row.first.totalMs.toFixed(0),
    `${row.rerun.totalMs.toFixed(0)} (TE ${row.rerun.textEncoderRuns}, VAE-E ${row.rerun.vaeEncoderRuns})`,
    `${row.overheadPercent.toFixed(2)} %`,
    row.peakRssMb.toFixed(0),
  ];
  return `| ${cells.join(' | ')} |`;
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'ip2p-bench-'));
  const rows: Row[] = [];
  const stepsOverride = values.steps === undefined ? undefined : Number(values.steps);
  try {
    const models: { name: string; realistic: boolean; steps: number }[] = [
      { name: 'tiny', realistic: false, steps: stepsOverride ?? 20 },
    ];
    if (!values.quick) models.push({ name: 'realistic widths', realistic: true, steps: stepsOverride ?? 4 });
    for (const model of models) {
      const dir = join(root, model.name.replace(/\W+/g, '-'));
      const started = performance.now();
      await makeTinyModel(dir, {
        flavor: 'optimum',
        ...(model.realistic ? { widths: REALISTIC_WIDTHS } : {}),
      });
      process.stderr.write(
        `generated ${model.name} model in ${(performance.now() - started).toFixed(0)} ms\n`,
      );
      for (const size of [256, 512]) {
        process.stderr.write(`benchmarking ${model.name} at ${size}²…\n`);
        rows.push(await benchModel(model.name, dir, size, model.steps));
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }

  const header =
    '| model | size | steps | load ms | tokenize ms | text enc ms | VAE enc ms | UNet step ms | UNet step ms at s_I=1 | VAE dec ms | edit ms | re-run ms (encoder runs) | overhead | peak RSS MB |';
  const rule = `|${header
    .split('|')
    .slice(1, -1)
    .map(() => '---')
    .join('|')}|`;
  const table = [header, rule, ...rows.map(formatRow)].join('\n');
  process.stdout.write(
    `${table}\n\noverhead = (edit time − time inside onnxruntime's session.run) / edit time; target ≤ 2 %.\n`,
  );
  mkdirSync('bench-output', { recursive: true });
  writeFileSync(join('bench-output', 'engine-bench.json'), JSON.stringify(rows, null, 2));
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
