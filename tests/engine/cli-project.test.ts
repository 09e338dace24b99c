/**
 * The project commands of the CLI (`edit --project`, `rerun`, `rerun-stale`, `info`, `export`) on a
 * real tiny model, with what they wrote read back: project files with loadProject, PNGs with sharp,
 * PSDs with ag-psd. The tests run in order on one project, each starting from what the last left.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeVariant, orderedLayers, type EditLayer } from '../../src/shared/document';
import { DEFAULT_EDIT_SETTINGS, type RgbImage } from '../../src/shared/engine-types';
import { exportPng, flattenDocument } from '../../src/main/document/export';
import { loadProject, type LoadedProject } from '../../src/main/document/project-file';
import { makeTinyModel } from '../../src/main/engine/tiny-model/tiny-model';
import { readPsdPixels } from '../support/psd-reader';
import { cli } from './cli-helpers';

const W = 64;
const H = 48;

const root = mkdtempSync(join(tmpdir(), 'ip2p-cli-project-'));
const modelDir = join(root, 'tiny');
/** A second copy of the model, so a variant's recorded model tells which folder made it. */
const otherModelDir = join(root, 'tiny-copy');
const emptyModelDir = join(root, 'empty-model');
const photo = join(root, 'photo.png');
const project = join(root, 'p.iedit');

/** Red = 4x, green = 5y, blue = 40 + x + y: every pixel differs, so a shift or flip shows. */
function photoPixels(): RgbImage {
  const data = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 3;
      data[i] = 4 * x;
      data[i + 1] = 5 * y;
      data[i + 2] = 40 + x + y;
    }
  }
  return { width: W, height: H, data };
}

beforeAll(async () => {
  await makeTinyModel(modelDir, { flavor: 'optimum' });
  cpSync(modelDir, otherModelDir, { recursive: true });
  mkdirSync(emptyModelDir);
  await sharp(Buffer.from(photoPixels().data), { raw: { width: W, height: H, channels: 3 } })
    .png()
    .toFile(photo);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

// ---- Reading back -----------------------------------------------------------------------------

/** The JSON lines a --json command printed. */
function events(stdout: string): Record<string, unknown>[] {
  return stdout
    .trim()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function doneEvent(stdout: string): Record<string, unknown> | undefined {
  return events(stdout).find((e) => e.event === 'done');
}

function layersOf(loaded: LoadedProject): EditLayer[] {
  return orderedLayers(loaded.doc);
}

function layerOf(loaded: LoadedProject, position: number): EditLayer {
  const layer = layersOf(loaded)[position - 1];
  if (!layer) throw new Error(`no layer ${position}`);
  return layer;
}

async function activePixels(loaded: LoadedProject, position: number): Promise<RgbImage> {
  const variant = activeVariant(layerOf(loaded, position));
  if (!variant) throw new Error(`layer ${position} has no active variant`);
  return loaded.store.getRgb(variant.pixels);
}

async function pngPixels(path: string): Promise<RgbImage> {
  const { data, info } = await sharp(path).raw().toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(3);
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}

function rgbaToRgb(rgba: ArrayLike<number>): Uint8Array {
  const n = rgba.length / 4;
  const out = new Uint8Array(n * 3);
  for (let p = 0; p < n; p++) {
    out[p * 3] = rgba[p * 4] as number;
    out[p * 3 + 1] = rgba[p * 4 + 1] as number;
    out[p * 3 + 2] = rgba[p * 4 + 2] as number;
  }
  return out;
}

/** Byte arrays compared as hex, so a failure prints a short difference rather than 9 216 numbers. */
function hex(data: Uint8Array): string {
  return Buffer.from(data).toString('hex');
}

interface InfoVariant {
  id: string;
  active: boolean;
  settings: Record<string, unknown>;
  model: { id: string; version: string };
  processedWidth: number;
  processedHeight: number;
}

interface Info {
  width: number;
  height: number;
  base: { name: string; notices: string[] };
  layers: {
    index: number;
    id: string;
    name: string;
    instruction: string;
    status: string;
    reason: string | null;
    activeVariant: string | null;
    variants: InfoVariant[];
  }[];
}

async function info(path: string = project): Promise<Info> {
  const result = await cli(['info', path]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as Info;
}

/** The settings `--steps 2 --seed 1 --resolution native` make, defaults elsewhere. */
const LAYER1_SETTINGS = {
  instruction: 'make it red',
  steps: 2,
  textGuidance: DEFAULT_EDIT_SETTINGS.textGuidance,
  imageGuidance: DEFAULT_EDIT_SETTINGS.imageGuidance,
  seed: 1,
  scheduler: DEFAULT_EDIT_SETTINGS.scheduler,
  resolution: 'native',
};

const LAYER2_SETTINGS = {
  ...LAYER1_SETTINGS,
  instruction: 'add snow',
  steps: 1,
  imageGuidance: 1.2,
  seed: 2,
};

// ---- The project, command by command ----------------------------------------------------------

describe('cli edit --project', () => {
  it('creates the project from --input with one edit layer', async () => {
    const result = await cli([
      'edit',
      '--project',
      project,
      '--input',
      photo,
      '--instruction',
      'make it red',
      '--model',
      modelDir,
      '--steps',
      '2',
      '--seed',
      '1',
      '--resolution',
      'native',
      '--provider',
      'cpu',
      '--json',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(events(result.stdout).filter((e) => e.event === 'progress')).toHaveLength(2);
    expect(doneEvent(result.stdout)).toEqual({
      event: 'done',
      project,
      created: true,
      layer: 1,
      seed: 1,
    });

    const loaded = await loadProject(project);
    expect([loaded.doc.width, loaded.doc.height]).toEqual([W, H]);
    expect(loaded.doc.base.name).toBe('photo.png');
    const base = await loaded.store.getRgb(loaded.doc.base.pixels);
    expect([base.width, base.height]).toEqual([W, H]);
    expect(hex(base.data)).toBe(hex(photoPixels().data));

    const layers = layersOf(loaded);
    expect(layers).toHaveLength(1);
    const layer = layerOf(loaded, 1);
    expect(layer.name).toBe('make it red');
    expect(layer.status).toEqual({ state: 'fresh', reason: null });
    expect(layer.request).toMatchObject({
      ...LAYER1_SETTINGS,
      model: { id: resolve(modelDir) },
      placement: 'delta',
    });
    expect(layer.variants).toHaveLength(1);
    const variant = layer.variants[0];
    expect(layer.activeVariantId).toBe(variant?.id);
    expect(variant?.request).toEqual(layer.request);
    // The edit ran on the base, at the native size (each side rounded down to 64, at least 64).
    expect(variant?.source).toBe(loaded.doc.base.pixels);
    expect([variant?.processedWidth, variant?.processedHeight]).toEqual([64, 64]);
    const pixels = await activePixels(loaded, 1);
    expect([pixels.width, pixels.height]).toEqual([W, H]);
    expect(hex(pixels.data)).not.toBe(hex(base.data));
  });

  it('appends a second layer edited from the composite below, and --output writes the flattened PNG', async () => {
    const before = await loadProject(project);
    const output = join(root, 'flat.png');
    // No --input (the project exists), no --json: progress and the summary go to stderr.
    const result = await cli([
      'edit',
      '--project',
      project,
      '--instruction',
      'add snow',
      '--model',
      modelDir,
      '--steps',
      '1',
      '--image-guidance',
      '1.2',
      '--seed',
      '2',
      '--resolution',
      'native',
      '--provider',
      'cpu',
      '--output',
      output,
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/\[#+\] 1\/1 /);
    expect(result.stderr).toContain(`Saved ${project}`);
    expect(result.stderr).toContain(`Wrote ${output}`);

    const loaded = await loadProject(project);
    const layers = layersOf(loaded);
    expect(layers.map((l) => l.name)).toEqual(['make it red', 'add snow']);
    // Layer 1 is as it was.
    expect(layers[0]).toEqual(layerOf(before, 1));
    const layer2 = layerOf(loaded, 2);
    expect(layer2.status).toEqual({ state: 'fresh', reason: null });
    expect(layer2.request).toMatchObject({ ...LAYER2_SETTINGS, model: { id: resolve(modelDir) } });
    expect(layer2.variants).toHaveLength(1);
    // Its source is the composite of the base and layer 1: layer 1's pixels, which are opaque.
    const source = layer2.variants[0]?.source ?? '';
    expect(source).toBe(activeVariant(layerOf(loaded, 1))?.pixels);
    expect(hex((await loaded.store.getRgb(source)).data)).toBe(hex((await activePixels(loaded, 1)).data));

    // The PNG: the flattened composite at the input's size, byte for byte what exportPng writes.
    const flat = await flattenDocument(loaded.doc, loaded.store);
    expect(hex(flat.data)).toBe(hex((await activePixels(loaded, 2)).data));
    const png = await pngPixels(output);
    expect([png.width, png.height]).toEqual([W, H]);
    expect(hex(png.data)).toBe(hex(flat.data));
    expect(hex(readFileSync(output))).toBe(hex(await exportPng(loaded.doc, loaded.store)));
  });
});

describe('cli info', () => {
  it('prints the layers, numbered from 1 at the bottom, with statuses and variant settings', async () => {
    const loaded = await loadProject(project);
    const printed = await info();
    expect(printed).toMatchObject({ width: W, height: H, base: { name: 'photo.png', notices: [] } });
    expect(printed.layers).toHaveLength(2);
    expect(printed.layers.map((l) => [l.index, l.name, l.instruction, l.status, l.reason])).toEqual([
      [1, 'make it red', 'make it red', 'fresh', null],
      [2, 'add snow', 'add snow', 'fresh', null],
    ]);
    expect(printed.layers.map((l) => l.id)).toEqual(loaded.doc.order);
    const [first, second] = printed.layers;
    expect(first?.variants).toHaveLength(1);
    expect(first?.variants[0]).toMatchObject({
      id: first?.activeVariant,
      active: true,
      settings: LAYER1_SETTINGS,
      model: { id: resolve(modelDir) },
      processedWidth: 64,
      processedHeight: 64,
    });
    expect(second?.variants[0]).toMatchObject({ active: true, settings: LAYER2_SETTINGS });
  });
});

describe('cli rerun and rerun-stale', () => {
  it('rerun without --model adds an active variant with the changed settings and marks the layer above stale', async () => {
    const before = await loadProject(project);
    const result = await cli([
      'rerun',
      project,
      '--layer',
      '1',
      '--text-guidance',
      '3',
      '--seed',
      '5',
      '--provider',
      'cpu',
      '--json',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(doneEvent(result.stdout)).toEqual({
      event: 'done',
      project,
      layer: 1,
      variants: 2,
      seed: 5,
      staleLayers: [2],
    });

    const loaded = await loadProject(project);
    const layer1 = layerOf(loaded, 1);
    expect(layer1.variants).toHaveLength(2);
    expect(layer1.variants[0]).toEqual(layerOf(before, 1).variants[0]);
    const added = layer1.variants[1];
    expect(layer1.activeVariantId).toBe(added?.id);
    // The recorded model folder was used; the settings not given are kept.
    expect(added?.request).toMatchObject({
      ...LAYER1_SETTINGS,
      textGuidance: 3,
      seed: 5,
      model: { id: resolve(modelDir) },
    });
    expect(added?.source).toBe(loaded.doc.base.pixels);
    expect(added?.pixels).not.toBe(layer1.variants[0]?.pixels);
    expect(layer1.status.state).toBe('fresh');
    // Layer 2 was made from the old layer 1: stale, unchanged.
    const layer2 = layerOf(loaded, 2);
    expect(layer2.status.state).toBe('stale');
    expect(layer2.variants).toEqual(layerOf(before, 2).variants);

    const printed = await info();
    expect(printed.layers.map((l) => l.status)).toEqual(['fresh', 'stale']);
    expect(printed.layers[1]?.reason).toEqual(expect.stringMatching(/\S/));
    expect(
      printed.layers[0]?.variants.map((v) => [v.active, v.settings.textGuidance, v.settings.seed]),
    ).toEqual([
      [false, 7.5, 1],
      [true, 3, 5],
    ]);
  });

  it('rerun-stale with --model re-runs layer 2 on the new composite below it', async () => {
    const result = await cli([
      'rerun-stale',
      project,
      '--model',
      otherModelDir,
      '--provider',
      'cpu',
      '--json',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(doneEvent(result.stdout)).toEqual({ event: 'done', project, rerunLayers: [2], saved: true });

    const loaded = await loadProject(project);
    const layer2 = layerOf(loaded, 2);
    expect(layer2.status).toEqual({ state: 'fresh', reason: null });
    expect(layer2.variants).toHaveLength(2);
    const added = layer2.variants[1];
    expect(layer2.activeVariantId).toBe(added?.id);
    expect(added?.request).toMatchObject({ ...LAYER2_SETTINGS, model: { id: resolve(otherModelDir) } });
    expect(added?.source).toBe(activeVariant(layerOf(loaded, 1))?.pixels);
    expect(layerOf(loaded, 1).variants).toHaveLength(2);

    const printed = await info();
    expect(printed.layers.map((l) => [l.status, l.variants.length])).toEqual([
      ['fresh', 2],
      ['fresh', 2],
    ]);
  });

  it('rerun-stale with nothing stale needs no model and leaves the file alone', async () => {
    const bytes = readFileSync(project);
    const result = await cli(['rerun-stale', project, '--model', emptyModelDir, '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(doneEvent(result.stdout)).toEqual({ event: 'done', project, rerunLayers: [], saved: false });
    expect(readFileSync(project).equals(bytes)).toBe(true);
  });
});

describe('cli export', () => {
  it('writes a PSD with the base and both named layers whose composite is the PNG', async () => {
    const bytes = readFileSync(project);
    const psdPath = join(root, 'out.psd');
    const pngPath = join(root, 'out.png');
    const result = await cli(['export', project, '--psd', psdPath, '--png', pngPath]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ event: 'done', psd: psdPath, png: pngPath });
    expect(readFileSync(project).equals(bytes)).toBe(true);

    const loaded = await loadProject(project);
    const png = await pngPixels(pngPath);
    expect([png.width, png.height]).toEqual([W, H]);
    expect(hex(png.data)).toBe(hex((await flattenDocument(loaded.doc, loaded.store)).data));

    const psd = readPsdPixels(readFileSync(psdPath));
    expect([psd.width, psd.height]).toEqual([W, H]);
    const children = psd.children ?? [];
    expect(children.map((l) => l.name)).toEqual(['photo.png', 'make it red', 'add snow']);
    expect(children.map((l) => l.hidden ?? false)).toEqual([false, false, false]);
    const layerRgb = children.map((l) => hex(rgbaToRgb(l.imageData?.data ?? [])));
    expect(layerRgb).toEqual([
      hex(photoPixels().data),
      hex((await activePixels(loaded, 1)).data),
      hex((await activePixels(loaded, 2)).data),
    ]);
    expect(hex(rgbaToRgb(psd.imageData?.data ?? []))).toBe(hex(png.data));
  });
});

describe('cli rerun --model', () => {
  it('uses the named folder; re-running the top layer leaves nothing stale', async () => {
    const result = await cli([
      'rerun',
      project,
      '--layer',
      '2',
      '--model',
      modelDir,
      '--steps',
      '2',
      '--provider',
      'cpu',
      '--json',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(doneEvent(result.stdout)).toMatchObject({ layer: 2, variants: 3, seed: 2, staleLayers: [] });
    const loaded = await loadProject(project);
    const layer2 = layerOf(loaded, 2);
    expect(layer2.variants.map((v) => v.request.model.id)).toEqual([
      resolve(modelDir),
      resolve(otherModelDir),
      resolve(modelDir),
    ]);
    expect(layer2.variants[2]?.request).toMatchObject({ ...LAYER2_SETTINGS, steps: 2 });
    expect(layer2.activeVariantId).toBe(layer2.variants[2]?.id);
  });
});

// ---- Errors ---------------------------------------------------------------------------------------

describe('cli project errors', () => {
  /** Runs the CLI and checks that it failed with one line on stderr and left the project as it was. */
  async function fails(
    args: string[],
    file: string = project,
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    const bytes = readFileSync(file);
    const result = await cli(args);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/^error: [^\n]+\n$/);
    expect(readFileSync(file).equals(bytes)).toBe(true);
    return result;
  }

  it('rerun of a layer the project does not have, or without --layer', async () => {
    const missing = await fails(['rerun', project, '--layer', '3', '--model', modelDir]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe('error: There is no layer 3: the project has edit layers 1 to 2\n');

    const none = await fails(['rerun', project, '--model', modelDir]);
    expect(none.code).toBe(2);
    expect(none.stderr).toBe('error: --layer is required (1 = the bottom edit layer)\n');

    const zero = await fails(['rerun', project, '--layer', '0']);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toMatch(/--layer must be/);

    const noFile = await cli(['rerun', '--layer', '1']);
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toBe('error: rerun needs the project file: cli rerun FILE\n');
  });

  it('a truncated project file fails info, rerun and export, and stays as it was', async () => {
    const corrupt = join(root, 'corrupt.iedit');
    const whole = readFileSync(project);
    writeFileSync(corrupt, whole.subarray(0, Math.floor(whole.length / 2)));
    const out = join(root, 'corrupt.png');
    for (const args of [
      ['info', corrupt],
      ['rerun', corrupt, '--layer', '1', '--model', modelDir],
      ['export', corrupt, '--png', out],
    ]) {
      const result = await fails(args, corrupt);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('corrupt.iedit');
      expect(result.stdout).toBe('');
    }
    expect(existsSync(out)).toBe(false);

    const absent = await cli(['info', join(root, 'absent.iedit')]);
    expect(absent.code).toBe(1);
    expect(absent.stderr).toMatch(/^error: [^\n]*absent\.iedit[^\n]*\n$/);
  });

  it('edit --project --output naming the project or the input image', async () => {
    const common = ['edit', '--project', project, '--instruction', 'x', '--model', modelDir];
    const onProject = await fails([...common, '--output', project]);
    expect(onProject.code).toBe(2);
    expect(onProject.stderr).toBe('error: --output is the project file; choose another file for the PNG\n');
    const photoBytes = readFileSync(photo);
    const onInput = await fails([...common, '--input', photo, '--output', photo]);
    expect(onInput.code).toBe(2);
    expect(onInput.stderr).toMatch(/--output is the input image/);
    expect(readFileSync(photo).equals(photoBytes)).toBe(true);
  });

  it('export without an output', async () => {
    const result = await fails(['export', project]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('error: export needs --psd OUT.psd and/or --png OUT.png\n');
    const overwrite = await fails(['export', project, '--png', project]);
    expect(overwrite.code).toBe(2);
    expect(overwrite.stderr).toBe('error: an export cannot overwrite the project file\n');
  });

  it('edit --project of a new project without --input (or a model) creates nothing', async () => {
    const fresh = join(root, 'new.iedit');
    const noInput = await cli(['edit', '--project', fresh, '--instruction', 'x', '--model', modelDir]);
    expect(noInput.code).toBe(2);
    expect(noInput.stderr).toBe('error: --input is required\n');
    const noModel = await cli(['edit', '--project', fresh, '--instruction', 'x', '--input', photo]);
    expect(noModel.code).toBe(2);
    expect(noModel.stderr).toMatch(/^error: --model DIR is required[^\n]*\n$/);
    expect(existsSync(fresh)).toBe(false);
  });

  it('a model folder that is not a model fails rerun, rerun-stale and edit --project; the project is unchanged', async () => {
    const rerun = await fails(['rerun', project, '--layer', '1', '--model', emptyModelDir]);
    expect(rerun.code).toBe(1);
    expect(rerun.stderr).toContain('empty-model');
    const edit = await fails([
      'edit',
      '--project',
      project,
      '--instruction',
      'x',
      '--model',
      emptyModelDir,
      '--steps',
      '1',
    ]);
    expect(edit.code).toBe(1);
    // Make layer 2 stale in a copy, then re-run it with the empty folder.
    const copy = join(root, 'copy.iedit');
    cpSync(project, copy);
    const rerunCopy = await cli(['rerun', copy, '--layer', '1', '--steps', '1', '--provider', 'cpu']);
    expect(rerunCopy.code).toBe(0);
    expect(rerunCopy.stderr).toMatch(/\] 1\/1 .*\nSaved .*copy\.iedit\n$/);
    const stale = await fails(['rerun-stale', copy, '--model', emptyModelDir], copy);
    expect(stale.code).toBe(1);
    expect((await info(copy)).layers.map((l) => l.status)).toEqual(['fresh', 'stale']);
  });
});
