/**
 * `cli grid` with a generated demo edit model and the analytic tiny CLIP: the sheet read back with
 * sharp (its size, each cell's crop equal to the cell PNG, labels drawn), the cell PNGs equal to
 * `cli edit` runs with the same settings, and the JSON's metrics recomputed from the PNGs with the
 * analytic CLIP's formulas.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp, { type Metadata, type Region } from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RgbImage } from '../../src/shared/engine-types';
import type { GridReport } from '../../src/main/cli/commands/grid';
import { encodePng } from '../../src/main/engine/image-io';
import { makeTinyModel } from '../../src/main/engine/tiny-model/tiny-model';
import { cos, expectedImage, expectedText } from './clip/analytic-clip';
import { cli } from './cli-helpers';

const root = mkdtempSync(join(tmpdir(), 'ip2p-grid-cli-'));
const modelDir = join(root, 'model');
/** Not inside or beside the model folder, so runs without --clip find none. */
const clipDir = join(root, 'elsewhere', 'analytic-clip');
const input = join(root, 'input.png');
const BEFORE = 'a photo of a ball';
const AFTER = 'a red photo of a ball';
const common = [
  '--model',
  modelDir,
  '--input',
  input,
  '--instruction',
  'make it red',
  '--steps',
  '3',
  '--seed',
  '5',
  '--resolution',
  'native',
  '--provider',
  'cpu',
];
const TEXT_SCALES = [3, 7.5, 12];
const IMAGE_SCALES = [1, 1.6];

/** 128×64: at native resolution the processing size is the input's, so sheet cells and cell PNGs match. */
function picture(): RgbImage {
  const width = 128;
  const height = 64;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const inside = (x - 80) ** 2 + (y - 32) ** 2 < 400;
      data[i] = inside ? 240 : x * 2;
      data[i + 1] = inside ? 180 : y * 3;
      data[i + 2] = inside ? 40 : 200 - x;
    }
  }
  return { width, height, data };
}

async function readPng(path: string, region?: Region): Promise<RgbImage> {
  let pipeline = sharp(path);
  if (region) pipeline = pipeline.extract(region);
  const { data, info } = await pipeline.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}

function events(stdout: string): Record<string, unknown>[] {
  return stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const same = (a: RgbImage, b: RgbImage) =>
  a.width === b.width && a.height === b.height && Buffer.from(a.data).equals(Buffer.from(b.data));

beforeAll(async () => {
  await makeTinyModel(modelDir, { kind: 'demo' });
  expect((await cli(['make-tiny-clip', clipDir, '--analytic'])).code).toBe(0);
  await writeFile(input, await encodePng(picture()));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('cli grid', () => {
  let report: GridReport;
  const sheetPath = join(root, 'sheet.png');
  const cellsDir = join(root, 'cells');

  beforeAll(async () => {
    const run = await cli([
      'grid',
      ...common,
      '--text-guidance',
      TEXT_SCALES.join(','),
      '--image-guidance',
      IMAGE_SCALES.join(','),
      '--output',
      sheetPath,
      '--cells',
      cellsDir,
      '--clip',
      clipDir,
      '--caption-before',
      BEFORE,
      '--caption-after',
      AFTER,
      '--json',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const all = events(run.stdout);
    expect(all.filter((e) => e.event === 'cell').map((e) => e.index)).toEqual([0, 1, 2, 3, 4, 5]);
    report = all.find((e) => e.event === 'done') as unknown as GridReport;
  });

  it('reports the settings and the UNet rows saved by sharing step 0', () => {
    expect(report.settings).toMatchObject({
      instruction: 'make it red',
      steps: 3,
      seed: 5,
      textScales: TEXT_SCALES,
      imageScales: IMAGE_SCALES,
    });
    // 3 cells of 2 rows (s_I = 1) and 3 of 3, 3 steps: 45 alone; step 0's 3 rows run once.
    expect([report.unetRowsAlone, report.unetRows]).toEqual([45, 15 * 2 + 3]);
    expect(report.cells.map((c) => [c.textGuidance, c.imageGuidance])).toEqual(
      IMAGE_SCALES.flatMap((i) => TEXT_SCALES.map((t) => [t, i])),
    );
    expect([report.processingWidth, report.processingHeight]).toEqual([128, 64]);
  });

  it('writes a sheet whose cell crops are the cell PNGs, with labels around them', async () => {
    const meta = await sharp(sheetPath).metadata();
    expect([meta.width, meta.height]).toEqual([report.sheet.width, report.sheet.height]);
    // Three columns of 128 px and two rows of 64 px, plus labels and metric lines.
    expect(meta.width).toBeGreaterThan(3 * 128);
    expect(meta.height).toBeGreaterThan(2 * 64);
    expect(readdirSync(cellsDir).sort()).toEqual(report.cells.map((c) => c.file!.slice(cellsDir.length + 1)));
    for (const cell of report.cells) {
      const { x, y, width, height } = cell.sheet;
      expect([width, height]).toEqual([128, 64]);
      expect(x + width).toBeLessThanOrEqual(meta.width!);
      expect(y + height).toBeLessThanOrEqual(meta.height!);
      const crop = await readPng(sheetPath, { left: x, top: y, width, height });
      const file = await readPng(cell.file!);
      expect(same(crop, file), `cell ${cell.index}`).toBe(true);
    }
    // Columns left to right by s_T, rows top to bottom by s_I.
    const rect = (i: number) => report.cells[i]!.sheet;
    expect(rect(0).x).toBeLessThan(rect(1).x);
    expect(rect(1).x).toBeLessThan(rect(2).x);
    expect(rect(0).y).toBeLessThan(rect(3).y);
    expect(rect(3).x).toBe(rect(0).x);
    // Text drawn above the cells (the title and the s_T labels) and under them (the metrics).
    const band = await readPng(sheetPath, { left: 0, top: 0, width: meta.width!, height: rect(0).y });
    const dark = (image: RgbImage) => {
      let count = 0;
      for (let i = 0; i < image.data.length; i += 3) if (image.data[i]! < 100) count++;
      return count;
    };
    expect(dark(band)).toBeGreaterThan(50);
    const under = await readPng(sheetPath, {
      left: rect(0).x,
      top: rect(0).y + 64,
      width: 128,
      height: rect(3).y - rect(0).y - 64,
    });
    expect(dark(under)).toBeGreaterThan(30);
  });

  it('each cell PNG is what `cli edit` writes for that cell’s settings', async () => {
    const cells = await Promise.all(report.cells.map((cell) => readPng(cell.file!)));
    expect(new Set(cells.map((c) => Buffer.from(c.data).toString('hex'))).size).toBe(6);
    for (const [i, cell] of report.cells.entries()) {
      const output = join(root, `edit-${cell.index}.png`);
      const run = await cli([
        'edit',
        ...common,
        '--text-guidance',
        String(cell.textGuidance),
        '--image-guidance',
        String(cell.imageGuidance),
        '--output',
        output,
      ]);
      expect(run.code).toBe(0);
      expect(same(await readPng(output), cells[i]!), `cell ${cell.index}`).toBe(true);
      // The same settings recorded in the PNG, as edit records them.
      const [gridMeta, editMeta] = await Promise.all([
        sharp(cell.file!).metadata(),
        sharp(output).metadata(),
      ]);
      const recorded = (meta: Metadata) =>
        (meta.comments ?? []).map(({ keyword, text }) => [keyword, JSON.parse(text) as unknown]);
      expect(recorded(gridMeta)).toEqual(recorded(editMeta));
      expect(recorded(gridMeta)[0]?.[0]).toBe('instruct-edit:settings');
    }
  });

  it('reports the metrics the cell pictures give with the analytic CLIP', async () => {
    const source = await expectedImage(picture());
    const before = await expectedText(clipDir, BEFORE, false);
    const after = await expectedText(clipDir, AFTER, false);
    const captionChange = after.map((v, j) => v - before[j]!);
    for (const cell of report.cells) {
      const result = await expectedImage(await readPng(cell.file!));
      const metrics = cell.metrics!;
      expect(metrics.imageSimilarity).toBeCloseTo(cos(source, result), 4);
      expect(metrics.clipT).toBeCloseTo(cos(result, after), 4);
      const imageChange = result.map((v, j) => v - source[j]!);
      expect(metrics.directionalSimilarity).toBeCloseTo(cos(imageChange, captionChange), 4);
    }
    // The numbers differ across cells, so a mix-up of cells would show.
    expect(new Set(report.cells.map((c) => c.metrics!.imageSimilarity.toFixed(4))).size).toBe(6);
  });
});

describe('cli grid without a CLIP model, and bad input', () => {
  it('writes a sheet without metric lines and reports no metrics', async () => {
    const sheet = join(root, 'plain.png');
    const run = await cli([
      'grid',
      ...common,
      '--text-guidance',
      '3,7.5',
      '--image-guidance',
      '1.5',
      '--output',
      sheet,
      '--json',
    ]);
    expect(run.code).toBe(0);
    const report = events(run.stdout).find((e) => e.event === 'done') as unknown as GridReport;
    expect(report.clip).toBeNull();
    expect(report.cells.map((c) => [c.metrics, c.file])).toEqual([
      [null, null],
      [null, null],
    ]);
    // One row of cells: the sheet ends half a font size below it (no metric lines).
    const meta = await sharp(sheet).metadata();
    const rect = report.cells[0]!.sheet;
    expect(meta.height).toBe(report.sheet.height);
    expect(meta.height! - (rect.y + rect.height)).toBeLessThan(20);
  });

  it('refuses bad scale lists, captions without CLIP and too many scales', async () => {
    const sheet = join(root, 'never.png');
    const bad = await cli(['grid', ...common, '--text-guidance', '3,x', '--output', sheet]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--text-guidance takes numbers separated by commas .* got '3,x'/);
    const captions = await cli(['grid', ...common, '--caption-after', 'red', '--output', sheet]);
    expect(captions.code).toBe(2);
    expect(captions.stderr).toMatch(/need a CLIP model: give --clip DIR/);
    const many = await cli(['grid', ...common, '--image-guidance', '1,1,1,1,1,1,1,1,1', '--output', sheet]);
    expect(many.code).toBe(1);
    expect(many.stderr).toMatch(/9 image scales \(at most 8\)/);
    expect(readdirSync(root)).not.toContain('never.png');
  });
});
