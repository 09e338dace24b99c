/**
 * `cli eval` on the shipped 5-line sample set (tests/e2e/fixtures/eval-sample.jsonl) with a generated
 * demo edit model and the analytic tiny CLIP. The metrics are recomputed here from the PNGs read back
 * with sharp (analytic CLIP formulas, plain L1/L2 sums); the folder is then resumed after two lines are
 * removed, and a run with other settings is refused.
 */
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RgbImage } from '../../src/shared/engine-types';
import { averageMetrics, type EvalLineResult } from '../../src/main/cli/commands/eval';
import { parseEvalSet } from '../../src/main/engine/clip/eval-set';
import { decodeImage, processingSize, resizeRgb } from '../../src/main/engine/image-io';
import { makeTinyModel } from '../../src/main/engine/tiny-model/tiny-model';
import { cos, expectedImage, expectedText } from './clip/analytic-clip';
import { cli } from './cli-helpers';

const SET = resolve(__dirname, '..', 'e2e', 'fixtures', 'eval-sample.jsonl');
const PHOTO = resolve(__dirname, '..', 'e2e', 'fixtures', 'photo.png');
const root = mkdtempSync(join(tmpdir(), 'ip2p-eval-'));
const modelDir = join(root, 'model');
/** Inside the model folder, where eval finds it without --clip. */
const clipDir = join(modelDir, 'clip');
const out = join(root, 'out');
const base = [
  'eval',
  '--model',
  modelDir,
  '--clip',
  clipDir,
  '--set',
  SET,
  '--steps',
  '2',
  '--provider',
  'cpu',
];

beforeAll(async () => {
  await makeTinyModel(modelDir, { kind: 'demo' });
  const made = await cli(['make-tiny-clip', clipDir, '--analytic']);
  expect(made.code).toBe(0);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function readPng(path: string): Promise<RgbImage> {
  const { data, info } = await sharp(path).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}

const readResults = (): EvalLineResult[] =>
  readFileSync(join(out, 'results.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as EvalLineResult);

const events = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe('eval sets', () => {
  it('the sample set has five lines, paths resolved beside it', () => {
    const lines = parseEvalSet(readFileSync(SET, 'utf8'), SET);
    expect(lines).toHaveLength(5);
    expect(lines.every((l) => l.image === PHOTO)).toBe(true);
    expect(lines.filter((l) => l.target === PHOTO)).toHaveLength(2);
  });

  it('a bad line is named', () => {
    expect(() =>
      parseEvalSet('{"image": "a.png", "instruction": "x"}\n{"image": "a.png"}\n', '/s.jsonl'),
    ).toThrow('/s.jsonl line 2 has no "instruction"');
    expect(() => parseEvalSet('{"image": "a.png", "instruction": 3}', '/s.jsonl')).toThrow(/must be text/);
    expect(() => parseEvalSet('nope', '/s.jsonl')).toThrow(/line 1 is not valid JSON/);
  });
});

describe('cli eval', () => {
  let first: EvalLineResult[];

  it('runs every line and reports the metrics the result pictures give', async () => {
    const run = await cli([...base, '--out', out, '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    first = readResults();
    expect(first.map((r) => r.line)).toEqual([1, 2, 3, 4, 5]);

    const { image: photo } = await decodeImage(PHOTO);
    const size = processingSize(photo.width, photo.height, '512');
    const source = await resizeRgb(photo, size.width, size.height);
    const lines = parseEvalSet(readFileSync(SET, 'utf8'), SET);
    for (const [i, line] of lines.entries()) {
      const r = first[i]!;
      const result = await readPng(join(out, r.output!));
      expect([result.width, result.height, r.width, r.height]).toEqual([
        size.width,
        size.height,
        size.width,
        size.height,
      ]);
      const s = await expectedImage(source);
      const e = await expectedImage(result);
      expect(r.imageSimilarity).toBeCloseTo(cos(s, e), 4);
      if (line.captionAfter) {
        const after = await expectedText(clipDir, line.captionAfter, false);
        expect(r.clipT).toBeCloseTo(cos(e, after), 4);
        if (line.captionBefore) {
          const before = await expectedText(clipDir, line.captionBefore, false);
          const di = e.map((v, j) => v - s[j]!);
          const dt = after.map((v, j) => v - before[j]!);
          expect(r.directionalSimilarity).toBeCloseTo(cos(di, dt), 4);
        } else expect(r.directionalSimilarity).toBeNull();
      } else expect(r.clipT).toBeNull();
      if (line.target) {
        // The target (the photo) at the result's size; distances on the 0..1 scale.
        let l1 = 0;
        let l2 = 0;
        for (let k = 0; k < result.data.length; k++) {
          const d = (result.data[k]! - source.data[k]!) / 255;
          l1 += Math.abs(d);
          l2 += d * d;
        }
        expect(r.l1).toBeCloseTo(l1 / result.data.length, 9);
        expect(r.l2).toBeCloseTo(l2 / result.data.length, 9);
        expect(r.l1).toBeGreaterThan(0);
      } else expect(r.l1).toBeNull();
    }

    const done = events(run.stdout).find((e) => e.event === 'done')!;
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { averages: unknown };
    expect(summary.averages).toEqual(done.averages);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(averageMetrics(first).imageSimilarity.mean).toBeCloseTo(
      mean(first.map((r) => r.imageSimilarity)),
      12,
    );
    expect(done.averages).toMatchObject({
      clipT: { count: 4 },
      directionalSimilarity: { count: 3 },
      l1: { count: 2 },
      imageSimilarity: { count: 5, mean: averageMetrics(first).imageSimilarity.mean },
    });
  });

  it('resumes: only the lines missing from results.jsonl run again, with the same pixels', async () => {
    const keptPng = readFileSync(join(out, '0001.png'));
    const removedPng = readFileSync(join(out, '0004.png'));
    const lines = readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n');
    // Lines 4 and 5 lost, and line 4's record cut short as by an interrupted write.
    writeFileSync(join(out, 'results.jsonl'), `${lines.slice(0, 3).join('\n')}\n${lines[3]!.slice(0, 20)}`);
    unlinkSync(join(out, '0004.png'));
    unlinkSync(join(out, '0005.png'));
    const run = await cli([...base, '--out', out, '--json']);
    expect(run.code).toBe(0);
    const start = events(run.stdout).find((e) => e.event === 'start');
    expect(start).toMatchObject({ lines: 5, resumed: 3, toRun: 2 });
    expect(
      events(run.stdout)
        .filter((e) => e.event === 'line')
        .map((e) => e.line),
    ).toEqual([4, 5]);
    expect(readFileSync(join(out, '0001.png')).equals(keptPng)).toBe(true);
    expect(readFileSync(join(out, '0004.png')).equals(removedPng)).toBe(true);
    const again = readResults();
    expect(again.map((r) => r.line)).toEqual([1, 2, 3, 4, 5]);
    expect(again[3]!.imageSimilarity).toBe(first[3]!.imageSimilarity);
  });

  it('refuses to mix settings in one folder', async () => {
    const run = await cli([...base.slice(0, -4), '--steps', '3', '--provider', 'cpu', '--out', out]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/other settings \(steps differ\)/);
    expect(readResults()).toHaveLength(5);
  });
});

describe('cli eval without --clip', () => {
  it('uses the CLIP export inside the model folder, and says where it looked when there is none', async () => {
    const other = join(root, 'out-found');
    const args = [
      'eval',
      '--model',
      modelDir,
      '--set',
      SET,
      '--steps',
      '2',
      '--provider',
      'cpu',
      '--out',
      other,
    ];
    const run = await cli([...args, '--json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(readFileSync(join(other, 'settings.json'), 'utf8'))).toMatchObject({ clip: clipDir });
    // Same model, seed and CLIP as the first run: the same numbers.
    const found = readFileSync(join(other, 'results.jsonl'), 'utf8').trim().split('\n');
    const firstRun = readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n');
    const metrics = (line: string) => {
      const { seconds: _seconds, output: _output, ...rest } = JSON.parse(line) as EvalLineResult;
      return rest;
    };
    expect(found.map(metrics)).toEqual(firstRun.map(metrics));

    const missing = await cli(['eval', '--model', join(root, 'elsewhere'), '--set', SET]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`looked in ${join(root, 'elsewhere', 'clip')}`);
  });
});
