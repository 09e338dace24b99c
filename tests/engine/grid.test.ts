/**
 * The pipeline's guidance grid against the cell-by-cell reference (runGridByCells, i.e. edit() per
 * cell): byte-identical pixels for every batch size, step 0 run once for all cells, the text encoder
 * and VAE encoder run once, cells delivered as they finish and kept on cancel, bad grids refused.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cellSettings,
  gridCellPositions,
  type GridCell,
  type GridProgress,
  type GridResult,
  type GridSettings,
  type RgbImage,
} from '../../src/shared/engine-types';
import { EditCancelledError, InvalidSettingsError } from '../../src/main/engine/errors';
import { runGridByCells } from '../../src/main/engine/grid-by-cells';
import { gridRowCount, packCellGroups, sharedStepZeroRows } from '../../src/main/engine/grid-plan';
import { editPeakBytes, largestUnetBatch } from '../../src/main/engine/memory-budget';
import { InstructPix2PixPipeline } from '../../src/main/engine/pipeline';
import { makeTinyModel, type TinyModelOptions } from '../../src/main/engine/tiny-model/tiny-model';

const root = mkdtempSync(join(tmpdir(), 'ip2p-grid-'));
const made = new Map<string, string>();

async function model(options: TinyModelOptions): Promise<string> {
  const key = JSON.stringify(options);
  const existing = made.get(key);
  if (existing) return existing;
  const dir = join(root, `model-${made.size}`);
  await makeTinyModel(dir, options);
  made.set(key, dir);
  return dir;
}

afterAll(() => rmSync(root, { recursive: true, force: true }));

function picture(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = Math.round((x / (width - 1)) * 255);
      data[i + 1] = Math.round((y / (height - 1)) * 255);
      data[i + 2] = (x * 7 + y * 3) % 256;
    }
  }
  return { width, height, data };
}

/** 2 image scales (one of them 1: two rows) × 3 text scales. */
const grid: GridSettings = {
  instruction: 'make it red',
  steps: 3,
  seed: 7,
  scheduler: 'euler-ancestral',
  resolution: 'native',
  textScales: [3, 7.5, 12],
  imageScales: [1, 1.6],
};
const STEPS_ROWS = { alone: (3 * 2 + 3 * 3) * 3, shared: (3 * 2 + 3 * 3) * 2 + 3 };

function bytes(image: RgbImage): Buffer {
  return Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
}

function expectSameCells(actual: readonly GridCell[], expected: readonly GridCell[]): void {
  expect(actual.map((cell) => cell.index)).toEqual(expected.map((cell) => cell.index));
  actual.forEach((cell, i) => {
    const reference = expected[i]!;
    expect([cell.textGuidance, cell.imageGuidance]).toEqual([
      reference.textGuidance,
      reference.imageGuidance,
    ]);
    expect(cell.result.settings).toEqual(reference.result.settings);
    expect([cell.result.image.width, cell.result.image.height]).toEqual([64, 64]);
    expect(bytes(cell.result.image).equals(bytes(reference.result.image)), `cell ${cell.index}`).toBe(true);
    expect(cell.result.timings.unetRows).toBe(reference.result.timings.unetRows);
  });
}

describe('grid plan', () => {
  it('packs whole cells in order into groups of at most batchRows rows', () => {
    expect(packCellGroups([2, 2, 2, 3, 3, 3], 9)).toEqual([
      [0, 1, 2, 3],
      [4, 5],
    ]);
    expect(packCellGroups([2, 2, 2, 3, 3, 3], 3)).toEqual([[0], [1], [2], [3], [4], [5]]);
    expect(packCellGroups([2, 2, 2, 3, 3, 3], 4)).toEqual([[0, 1], [2], [3], [4], [5]]);
    expect(packCellGroups([3, 3], 1)).toEqual([[0], [1]]);
  });

  it('counts shared step-0 rows', () => {
    expect(sharedStepZeroRows([1, 1])).toBe(2);
    expect(sharedStepZeroRows([1, 1.5])).toBe(3);
    // 9 cells of 3 rows, 20 steps: 9·3·20 alone, minus 8 cells' step-0 rows.
    expect(gridRowCount(Array(9).fill(1.5), 20)).toEqual({ unetRows: 540 - 24, unetRowsAlone: 540 });
    expect(gridRowCount([1, 1, 1.5, 1.5, 1.5, 1.5], 3)).toEqual({ unetRows: 48 - 16 + 3, unetRowsAlone: 48 });
  });

  it('the default batch is the most rows whose call fits the budget', async () => {
    const pipeline = await InstructPix2PixPipeline.load(await model({ flavor: 'diffusers' }), {
      provider: 'cpu',
    });
    try {
      const dims = pipeline.dimensions;
      const budget = editPeakBytes(dims, 512, 512, 4, 'resident');
      expect(largestUnetBatch(dims, 512, 512, budget, 'resident', 9)).toBe(4);
      expect(largestUnetBatch(dims, 512, 512, budget - 1, 'resident', 9)).toBe(3);
      expect(largestUnetBatch(dims, 512, 512, budget, 'resident', 2)).toBe(2);
      expect(largestUnetBatch(dims, 512, 512, 0, 'resident', 9)).toBe(1);
    } finally {
      await pipeline.dispose();
    }
  });
});

describe('a grid run gives every cell the pixels of edit() alone', () => {
  let pipeline: InstructPix2PixPipeline;
  let reference: GridResult;
  const source = picture(64, 64);

  beforeAll(async () => {
    // diffusers exports take one timestep per batch row, so each batch size builds another tensor.
    pipeline = await InstructPix2PixPipeline.load(await model({ flavor: 'diffusers' }), {
      provider: 'cpu',
      memoryBudget: 8 * 1024 ** 3,
    });
    reference = await runGridByCells(pipeline, source, grid);
  });
  afterAll(() => pipeline.dispose());

  it('the reference cells differ from each other, so equality below can fail', () => {
    const distinct = new Set(reference.cells.map((cell) => bytes(cell.result.image).toString('hex')));
    expect(distinct.size).toBe(6);
    expect(reference.unetRows).toBe(STEPS_ROWS.alone);
    // runGridByCells is edit() per cell: spot-check one cell against a direct edit.
    const cell = reference.cells[4]!;
    const alone = pipeline.edit(source, cellSettings(grid, cell));
    return alone.then((result) => expect(bytes(result.image).equals(bytes(cell.result.image))).toBe(true));
  });

  for (const batchRows of [1, 3, 9]) {
    it(`batchRows ${batchRows}: byte-identical cells, step 0 shared`, async () => {
      const before = { ...pipeline.counters };
      const delivered: GridCell[] = [];
      const result = await pipeline.editGrid(source, grid, {
        batchRows,
        onCell: (cell) => delivered.push(cell),
      });
      expectSameCells(result.cells, reference.cells);
      expect(delivered).toEqual(result.cells);
      expect(result.unetRows).toBe(STEPS_ROWS.shared);
      expect(result.unetRowsAlone).toBe(STEPS_ROWS.alone);
      expect(pipeline.counters.unetRows - before.unetRows).toBe(STEPS_ROWS.shared);
      // UNet calls: step 0 in ⌈3 / batchRows⌉, then each group's rows per step in ⌈rows / batchRows⌉.
      const calls = { 1: 3 + 15 * 2, 3: 1 + 6 * 2, 9: 1 + 2 * 2 }[batchRows];
      expect(pipeline.counters.unetRuns - before.unetRuns).toBe(calls);
      // The embeddings and latents were cached by the reference run; one VAE decode per cell.
      expect(pipeline.counters.textEncoderRuns - before.textEncoderRuns).toBe(0);
      expect(pipeline.counters.vaeEncoderRuns - before.vaeEncoderRuns).toBe(0);
      expect(pipeline.counters.vaeDecoderRuns - before.vaeDecoderRuns).toBe(6);
    });
  }

  it('without batchRows, on the CPU, runs the rows of one cell per UNet call', async () => {
    const before = { ...pipeline.counters };
    const result = await pipeline.editGrid(source, grid);
    expectSameCells(result.cells, reference.cells);
    expect(pipeline.info.provider).toBe('cpu');
    expect(pipeline.counters.unetRuns - before.unetRuns).toBe(1 + 6 * 2);
  });

  it('another scheduler with state (DPM-Solver++ 2M) and another seed match too', async () => {
    const other: GridSettings = { ...grid, scheduler: 'dpmpp-2m', seed: 123, textScales: [5, 9] };
    const expected = await runGridByCells(pipeline, source, other);
    const result = await pipeline.editGrid(source, other, { batchRows: 5 });
    expectSameCells(result.cells, expected.cells);
    expect(bytes(result.cells[0]!.result.image).equals(bytes(reference.cells[0]!.result.image))).toBe(false);
  });

  it('reports progress per step with a preview of a running cell', async () => {
    const seen: GridProgress[] = [];
    await pipeline.editGrid(source, grid, { batchRows: 3, onProgress: (progress) => seen.push(progress) });
    // batchRows 3: each cell runs alone, 3 steps each.
    expect(seen.map((p) => p.stepsDone)).toEqual(Array.from({ length: 18 }, (_, i) => i + 1));
    expect(seen.every((p) => p.totalSteps === 18 && p.totalCells === 6)).toBe(true);
    expect(seen.map((p) => p.cellsDone)).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5]);
    expect(seen.map((p) => p.cell?.index)).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5]);
    expect([seen[0]!.preview?.width, seen[0]!.preview?.height]).toEqual([8, 8]);
    // The preview follows the cell: the last step's preview of two cells differ.
    expect(bytes(seen[2]!.preview!).equals(bytes(seen[17]!.preview!))).toBe(false);
  });

  for (const [batchRows, keep] of [
    [3, 2],
    [9, 1],
  ] as const) {
    it(`a cancel after ${keep} cell(s) (batchRows ${batchRows}) keeps exactly those`, async () => {
      const controller = new AbortController();
      const delivered: GridCell[] = [];
      const error = await pipeline
        .editGrid(source, grid, {
          batchRows,
          signal: controller.signal,
          onCell: (cell) => {
            delivered.push(cell);
            if (delivered.length === keep) controller.abort();
          },
        })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(EditCancelledError);
      expectSameCells(delivered, reference.cells.slice(0, keep));
    });
  }

  it('a cancel during the first cell keeps none; an aborted signal runs nothing', async () => {
    const controller = new AbortController();
    const delivered: GridCell[] = [];
    await expect(
      pipeline.editGrid(source, grid, {
        batchRows: 3,
        signal: controller.signal,
        onCell: (cell) => delivered.push(cell),
        onProgress: (progress) => {
          if (progress.stepsDone === 2) controller.abort();
        },
      }),
    ).rejects.toBeInstanceOf(EditCancelledError);
    expect(delivered).toEqual([]);
    const before = pipeline.counters.unetRows;
    await expect(pipeline.editGrid(source, grid, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(
      EditCancelledError,
    );
    expect(pipeline.counters.unetRows).toBe(before);
  });

  it('refuses grids with no scales, too many, or out of range, and a bad batch size', async () => {
    const before = { ...pipeline.counters };
    const cases: [Partial<GridSettings>, number | undefined, RegExp][] = [
      [{ textScales: [] }, undefined, /the text scales are empty/],
      [{ imageScales: Array(9).fill(1.5) }, undefined, /9 image scales \(at most 8\)/],
      [{ textScales: [3, -1] }, undefined, /text scales must be from 0 to 50/],
      [{ imageScales: [Number.NaN] }, undefined, /image scales must be from 0 to 50/],
      [{ steps: 0 }, undefined, /steps must be a whole number from 1 to 150/],
      [{}, 0, /batchRows must be a whole number of at least 1, got 0/],
      [{}, 2.5, /batchRows must be a whole number/],
    ];
    for (const [change, batchRows, message] of cases) {
      const error = await pipeline
        .editGrid(source, { ...grid, ...change }, { batchRows })
        .catch((caught: unknown) => caught);
      expect(error, JSON.stringify(change)).toBeInstanceOf(InvalidSettingsError);
      expect((error as Error).message).toMatch(message);
    }
    expect(pipeline.counters).toEqual(before);
  });
});

describe('shared work is done once', () => {
  it('a fresh pipeline runs the text encoder twice and the VAE encoder once for the grid', async () => {
    const pipeline = await InstructPix2PixPipeline.load(await model({ flavor: 'optimum' }), {
      provider: 'cpu',
    });
    try {
      const result = await pipeline.editGrid(picture(64, 64), grid, { batchRows: 9 });
      expect(pipeline.counters).toEqual({
        textEncoderRuns: 2,
        vaeEncoderRuns: 1,
        vaeDecoderRuns: 6,
        unetRuns: 5,
        unetRows: STEPS_ROWS.shared,
      });
      // The first cell carries the encoders' runs, as the first of six edits would.
      expect(result.cells.map((cell) => cell.result.timings.textEncoderRuns)).toEqual([2, 0, 0, 0, 0, 0]);
      expect(result.cells.map((cell) => cell.result.timings.vaeEncoderRuns)).toEqual([1, 0, 0, 0, 0, 0]);
      expect(result.cells.every((cell) => cell.result.timings.unetStepMs.length === 3)).toBe(true);
      expect(gridCellPositions(grid).map((cell) => cell.index)).toEqual(
        result.cells.map((cell) => cell.index),
      );
    } finally {
      await pipeline.dispose();
    }
  });

  it('float16 graphs: a grid at batchRows 9 equals the cells alone', async () => {
    const pipeline = await InstructPix2PixPipeline.load(
      await model({ flavor: 'optimum', precision: 'float16' }),
      { provider: 'cpu' },
    );
    try {
      const source = picture(64, 64);
      const expected = await runGridByCells(pipeline, source, grid);
      const result = await pipeline.editGrid(source, grid, { batchRows: 9 });
      expectSameCells(result.cells, expected.cells);
    } finally {
      await pipeline.dispose();
    }
  });

  it('with rows in sequence (load option), a grid runs one row per UNet call', async () => {
    const pipeline = await InstructPix2PixPipeline.load(await model({ flavor: 'optimum' }), {
      provider: 'cpu',
      unetBatch: 'row-by-row',
    });
    try {
      await pipeline.editGrid(picture(64, 64), grid);
      expect(pipeline.counters.unetRuns).toBe(STEPS_ROWS.shared);
    } finally {
      await pipeline.dispose();
    }
  });
});
