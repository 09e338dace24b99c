/**
 * Guidance grid benchmark (issue #11): a 3 × 3 grid (s_T 3, 7.5, 12 × s_I 1, 1.5, 2; one seed) on
 * the CPU, per batch size: the UNet rows it ran against 9 single edits' rows minus the shared
 * step-0 rows, and its wall time per cell over a single edit's wall time (the mean of the cells run
 * alone, from one edit with 2 rows and one with 3, weighted as the grid's cells are). It also checks
 * that every batch size gave the same pixels. Not a test: it prints a table.
 *
 *   npm run bench:grid                        realistic widths (generated), 512², 2 steps
 *   npm run bench:grid -- --size 256          another processing size (square)
 *   npm run bench:grid -- --steps 4           UNet steps per cell
 *   npm run bench:grid -- --model DIR         an existing model folder instead of a generated one
 *   npm run bench:grid -- --tiny              the tiny generated model (seconds, for a smoke run)
 *   npm run bench:grid -- --batch-rows 1,3,9  the batch sizes compared
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { GridSettings, RgbImage } from '../src/shared/engine-types';
import { gridRowCount } from '../src/main/engine/grid-plan';
import { guidanceRows } from '../src/main/engine/guidance';
import { InstructPix2PixPipeline } from '../src/main/engine/pipeline';
import { makeTinyModel, REALISTIC_WIDTHS } from '../src/main/engine/tiny-model/tiny-model';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '512' },
    steps: { type: 'string', default: '2' },
    model: { type: 'string' },
    tiny: { type: 'boolean' },
    'batch-rows': { type: 'string', default: '1,3,9' },
  },
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

const log = (message: string) => process.stderr.write(`${message}\n`);

async function main(): Promise<void> {
  const size = Number(values.size);
  const steps = Number(values.steps);
  const batchSizes = values['batch-rows'].split(',').map(Number);
  let root: string | undefined;
  let dir = values.model;
  if (!dir) {
    root = mkdtempSync(join(tmpdir(), 'ip2p-grid-bench-'));
    dir = join(root, 'model');
    const started = performance.now();
    await makeTinyModel(dir, { flavor: 'optimum', ...(values.tiny ? {} : { widths: REALISTIC_WIDTHS }) });
    log(
      `generated the ${values.tiny ? 'tiny' : 'realistic-width'} model in ${(performance.now() - started).toFixed(0)} ms`,
    );
  }
  const pipeline = await InstructPix2PixPipeline.load(dir, { provider: 'cpu', memoryBudget: 'auto' });
  try {
    const source = testImage(size);
    const grid: GridSettings = {
      instruction: 'make it look like a watercolor painting',
      steps,
      seed: 1,
      scheduler: 'euler-ancestral',
      resolution: 'native',
      textScales: [3, 7.5, 12],
      imageScales: [1, 1.5, 2],
    };
    const { textScales: _t, imageScales: _i, ...shared } = grid;
    const settingsFor = (imageGuidance: number) => ({ ...shared, textGuidance: 7.5, imageGuidance });
    // Warm-up: caches the embeddings and latents (as a grid after any edit of the message finds
    // them) and lets onnxruntime allocate its arenas before anything is timed.
    await pipeline.edit(source, { ...settingsFor(1.5), steps: 1 });

    // A single edit of each kind of cell: 2 rows (s_I = 1) and 3 rows.
    const single = new Map<number, { ms: number; rows: number }>();
    for (const imageGuidance of [1, 1.5]) {
      const before = pipeline.counters.unetRows;
      const started = performance.now();
      await pipeline.edit(source, settingsFor(imageGuidance));
      single.set(guidanceRows(imageGuidance), {
        ms: performance.now() - started,
        rows: pipeline.counters.unetRows - before,
      });
      log(`single edit, s_I ${imageGuidance}: ${single.get(guidanceRows(imageGuidance))!.ms.toFixed(0)} ms`);
    }
    const cellScales = grid.imageScales.flatMap((scale) => grid.textScales.map(() => scale));
    const singleMean =
      cellScales.reduce((sum, scale) => sum + single.get(guidanceRows(scale))!.ms, 0) / cellScales.length;
    const singleRows = cellScales.reduce((sum, scale) => sum + single.get(guidanceRows(scale))!.rows, 0);
    const expected = gridRowCount(cellScales, steps);

    const rows: string[] = [];
    let reference: Buffer[] | undefined;
    for (const batchRows of batchSizes) {
      const before = { ...pipeline.counters };
      const started = performance.now();
      const result = await pipeline.editGrid(source, grid, { batchRows });
      const ms = performance.now() - started;
      const images = result.cells.map((cell) => Buffer.from(cell.result.image.data));
      reference ??= images;
      const identical = images.every((image, i) => image.equals(reference![i]!));
      const unetRows = pipeline.counters.unetRows - before.unetRows;
      const calls = pipeline.counters.unetRuns - before.unetRuns;
      const perCell = ms / result.cells.length;
      rows.push(
        `| ${batchRows} | ${unetRows} | ${calls} | ${ms.toFixed(0)} | ${perCell.toFixed(0)} | ` +
          `${(perCell / singleMean).toFixed(3)} | ${identical ? 'yes' : 'NO'} |`,
      );
      log(`batchRows ${batchRows}: ${ms.toFixed(0)} ms`);
    }
    const sharedSaved = singleRows - expected.unetRows;
    process.stdout.write(
      [
        `3 × 3 guidance grid, ${size}², ${steps} steps, ${values.model ?? (values.tiny ? 'tiny model' : 'realistic widths')}, CPU (${pipeline.info.provider})`,
        `UNet rows: 9 single edits ${singleRows}; minus the shared step-0 rows ${sharedSaved} = ${expected.unetRows} (grid); ` +
          `at 20 steps: ${gridRowCount(cellScales, 20).unetRows} vs ${gridRowCount(cellScales, 20).unetRowsAlone}`,
        `single edit (mean over the grid's cells): ${singleMean.toFixed(0)} ms`,
        '',
        '| batchRows | UNet rows | UNet calls | grid ms | ms per cell | per cell / single edit | same pixels as batchRows ' +
          `${batchSizes[0]} |`,
        '|---|---|---|---|---|---|---|',
        ...rows,
        '',
      ].join('\n'),
    );
  } finally {
    await pipeline.dispose();
    if (root) rmSync(root, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
