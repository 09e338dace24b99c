/**
 * `cli export-pairs` on projects built by the document fixtures (two edit layers each, the second with
 * two variants), plus a layer that never produced a result. The folder is read back independently:
 * JSON with JSON.parse, JPEGs decoded with sharp and compared with the pictures the fixtures stored.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RgbImage } from '../../src/shared/engine-types';
import { PixelStore } from '../../src/main/document/pixel-store';
import { saveProject } from '../../src/main/document/project-file';
import { buildDocument, gradientRgb, layer, request } from '../document/fixtures/project-docs';
import { cli } from './cli-helpers';

const W = 96;
const H = 72;
const PROCESSED = { width: 64, height: 48 };

const root = mkdtempSync(join(tmpdir(), 'ip2p-pairs-'));
const projectA = join(root, 'a.iedit');
const projectB = join(root, 'b.iedit');

beforeAll(async () => {
  for (const [path, seed] of [
    [projectA, 1],
    [projectB, 2],
  ] as const) {
    const store = new PixelStore();
    const doc = buildDocument(store, { width: W, height: H, processed: PROCESSED, images: 'gradient', seed });
    // A third layer whose first run failed: no result to export.
    const failed = layer({
      id: 'layer-3',
      name: 'Never ran',
      request: request('turn it into a sketch', 5),
      failure: 'out of memory',
      status: { state: 'failed', reason: 'out of memory' },
    });
    await saveProject(
      path,
      { ...doc, layers: { ...doc.layers, 'layer-3': failed }, order: [...doc.order, 'layer-3'] },
      store,
    );
  }
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function readJpeg(path: string): Promise<RgbImage> {
  const { data, info } = await sharp(path).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}

/** A reduction with sharp's lanczos3, as the pipeline resizes a source to its processing size. */
async function reduce(image: RgbImage, width: number, height: number): Promise<RgbImage> {
  const data = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(width, height, { kernel: 'lanczos3', fit: 'fill' })
    .raw()
    .toBuffer();
  return { width, height, data: new Uint8Array(data) };
}

function difference(a: RgbImage, b: RgbImage): { mean: number; max: number } {
  expect([a.width, a.height]).toEqual([b.width, b.height]);
  let sum = 0;
  let max = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = Math.abs(a.data[i]! - b.data[i]!);
    sum += d;
    max = Math.max(max, d);
  }
  return { mean: sum / a.data.length, max };
}

const readJson = (path: string): unknown => JSON.parse(readFileSync(path, 'utf8'));
const readLines = (path: string): Record<string, unknown>[] =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe('cli export-pairs', () => {
  const out = join(root, 'pairs');

  it('writes the InstructPix2Pix dataset layout and a diffusers metadata.jsonl', async () => {
    const run = await cli(['export-pairs', projectA, projectB, '--out', out]);
    expect(run.stderr).toContain('skipped');
    expect(run.code).toBe(0);
    const done = JSON.parse(run.stdout.trim()) as Record<string, unknown>;
    expect(done).toMatchObject({ event: 'done', pairs: 4, folders: 2 });
    expect(done.skipped).toEqual([
      `${projectA}: layer 3 (Never ran) has no result`,
      `${projectB}: layer 3 (Never ran) has no result`,
    ]);

    // edit_dataset.py reads seeds.json as [[folder, [seed, ...]], ...] and prompt.json's "edit".
    expect(readJson(join(out, 'seeds.json'))).toEqual([
      ['0000000', ['42', '42-2']],
      ['0000001', ['8', '8-2']],
    ]);
    expect(readJson(join(out, '0000000', 'prompt.json'))).toEqual({
      edit: 'make it look like a watercolour — aquarelle ☀',
    });
    expect(readJson(join(out, '0000001', 'prompt.json'))).toEqual({ edit: 'add snow' });
    expect(readJson(join(out, '0000001', 'seeds.json'))).toEqual(['8', '8-2']);
    expect(readdirSync(join(out, '0000001')).sort()).toEqual([
      '8-2_0.jpg',
      '8-2_1.jpg',
      '8_0.jpg',
      '8_1.jpg',
      'metadata.jsonl',
      'prompt.json',
      'seeds.json',
    ]);
    expect(existsSync(join(out, '0000002'))).toBe(false);
  });

  it('records the settings of each kept result', () => {
    const lines = readLines(join(out, '0000001', 'metadata.jsonl'));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      seed: '8',
      settings: {
        instruction: 'add snow',
        seed: 8,
        steps: 20,
        textGuidance: 7.5,
        imageGuidance: 1.5,
        scheduler: 'dpmpp-2m',
        resolution: '512',
        karrasSigmas: true,
      },
      placement: 'upscale',
      model: { id: 'timbrooks/instruct-pix2pix', version: 'test' },
      project: projectA,
      layer: 2,
      width: 64,
      height: 48,
    });
    expect(lines[1]).toMatchObject({ seed: '8-2', settings: { seed: 8 }, project: projectB, layer: 2 });
  });

  it('metadata.jsonl has the columns train_instruct_pix2pix.py reads, pointing at the files', () => {
    const lines = readLines(join(out, 'metadata.jsonl'));
    expect(lines).toEqual([
      {
        input_image: '0000000/42_0.jpg',
        edit_prompt: 'make it look like a watercolour — aquarelle ☀',
        edited_image: '0000000/42_1.jpg',
      },
      { input_image: '0000001/8_0.jpg', edit_prompt: 'add snow', edited_image: '0000001/8_1.jpg' },
      {
        input_image: '0000000/42-2_0.jpg',
        edit_prompt: 'make it look like a watercolour — aquarelle ☀',
        edited_image: '0000000/42-2_1.jpg',
      },
      { input_image: '0000001/8-2_0.jpg', edit_prompt: 'add snow', edited_image: '0000001/8-2_1.jpg' },
    ]);
  });

  it('the pictures are the source as the model saw it and the kept (active) result, at processing size', async () => {
    for (const [seed, prefix] of [
      [1, ''],
      [2, '-2'],
    ] as const) {
      // Layer 1: source = the base (fixture image 1), result = image 3.
      const base = gradientRgb(W, H, seed * 10 + 1);
      const source1 = await readJpeg(join(out, '0000000', `42${prefix}_0.jpg`));
      const result1 = await readJpeg(join(out, '0000000', `42${prefix}_1.jpg`));
      const d1 = difference(source1, await reduce(base, PROCESSED.width, PROCESSED.height));
      expect(d1.mean).toBeLessThan(1);
      expect(d1.max).toBeLessThanOrEqual(8);
      const r1 = difference(result1, gradientRgb(PROCESSED.width, PROCESSED.height, seed * 10 + 3));
      expect(r1.mean).toBeLessThan(1);
      // Layer 2: the active variant v-2b (result image 9), not v-2a (image 7).
      const result2 = await readJpeg(join(out, '0000001', `8${prefix}_1.jpg`));
      const kept = difference(result2, gradientRgb(PROCESSED.width, PROCESSED.height, seed * 10 + 9));
      const other = difference(result2, gradientRgb(PROCESSED.width, PROCESSED.height, seed * 10 + 7));
      expect(kept.mean).toBeLessThan(1);
      expect(other.mean).toBeGreaterThan(5);
      const source2 = await readJpeg(join(out, '0000001', `8${prefix}_0.jpg`));
      const d2 = difference(source2, await reduce(gradientRgb(W, H, seed * 10 + 5), 64, 48));
      expect(d2.mean).toBeLessThan(1);
    }
  });

  it('refuses a folder that is not empty, and files that are not projects, writing nothing', async () => {
    const busy = join(root, 'busy');
    mkdirSync(busy);
    writeFileSync(join(busy, 'keep.txt'), 'mine');
    const run = await cli(['export-pairs', projectA, '--out', busy]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/is not empty/);
    expect(readdirSync(busy)).toEqual(['keep.txt']);

    const notProject = join(root, 'note.txt');
    writeFileSync(notProject, 'hello');
    const fresh = join(root, 'fresh');
    const bad = await cli(['export-pairs', projectA, notProject, '--out', fresh]);
    expect(bad.code).toBe(1);
    expect(existsSync(fresh)).toBe(false);

    expect((await cli(['export-pairs', projectA])).code).toBe(2);
    expect((await cli(['export-pairs', '--out', fresh])).code).toBe(2);
  });
});
