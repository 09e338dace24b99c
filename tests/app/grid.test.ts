/**
 * The guidance grid through the app's calls (browser mode, as serve runs it): the real engine worker
 * process (fake engine), the real document service, and a generated analytic tiny CLIP model found
 * beside the edit model. The metrics the worker computes are checked against the analytic model's
 * embeddings recomputed here from the cells' pixels; Keep, undo and the engine's call count too.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppCore, type AppCore } from '../../src/main/app/app-core';
import { createDocumentService } from '../../src/main/app/document-adapter';
import { EngineHost } from '../../src/main/app/engine-host';
import { FAKE_ENGINE_FILE } from '../../src/main/app/engine/fake-engine';
import { createNodeLauncher } from '../../src/main/app/engine/node-launcher';
import { makeTinyClipModel } from '../../src/main/engine/tiny-model/tiny-clip';
import { makeTinyModel } from '../../src/main/engine/tiny-model/tiny-model';
import type { CallName } from '../../src/shared/contract/channels';
import type { GridView } from '../../src/shared/contract/schemas';
import type { MeasuredGridCell } from '../../src/main/engine/measured-grid';
import { CANCELLED_ERROR_NAME, cellSettings, type RgbImage } from '../../src/shared/engine-types';
import { tempDir } from '../contract/helpers';
import { cos, expectedImage, expectedText } from '../engine/clip/analytic-clip';

const WIDTH = 48;
const HEIGHT = 40;

function picture(): RgbImage {
  const data = new Uint8Array(WIDTH * HEIGHT * 3);
  for (let i = 0; i < data.length; i += 3) {
    const p = i / 3;
    data[i] = 40 + (p % WIDTH) * 3;
    data[i + 1] = 90 + Math.floor(p / WIDTH) * 2;
    data[i + 2] = 160;
  }
  return { width: WIDTH, height: HEIGHT, data };
}

async function png(image: RgbImage): Promise<Uint8Array> {
  return new Uint8Array(
    await sharp(Buffer.from(image.data), { raw: { width: image.width, height: image.height, channels: 3 } })
      .png()
      .toBuffer(),
  );
}

async function decode(bytes: Uint8Array): Promise<RgbImage> {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}

let modelDir: string;
let clipDir: string;
let core: AppCore;
const events: { name: string; payload: unknown }[] = [];
let editCalls = 0;

async function call<T = unknown>(name: CallName, payload: unknown): Promise<T> {
  const result = await core.dispatcher.dispatch(name, payload);
  if (!result.ok) throw new Error(`${name}: ${result.error.code}: ${result.error.message}`);
  return result.value as T;
}

function until<T>(pick: (name: string, payload: unknown) => T | undefined): Promise<T> {
  return new Promise((resolve) => {
    const unsubscribe = core.bus.subscribe((name, payload) => {
      const found = pick(name, payload);
      if (found !== undefined) {
        unsubscribe();
        resolve(found);
      }
    });
  });
}

function gridEnded(): Promise<GridView> {
  return until((name, payload) => {
    const grid = (payload as { grid?: GridView }).grid;
    return name === 'grid.updated' && grid && grid.state !== 'running' ? grid : undefined;
  });
}

beforeAll(async () => {
  modelDir = tempDir('grid-model-');
  writeFileSync(join(modelDir, FAKE_ENGINE_FILE), JSON.stringify({ stepDelayMs: 2 }));
  clipDir = join(modelDir, 'clip');
  mkdirSync(clipDir);
  await makeTinyClipModel(clipDir, { layout: 'split', kind: 'analytic' });
  core = createAppCore({
    mode: 'browser',
    version: '0.0.0-test',
    configDir: tempDir('grid-config-'),
    launcher: createNodeLauncher({ engine: 'fake' }),
    createDocuments: (engine) => {
      // Counts every single edit the document asks of the engine (grids go through editGrid).
      const counting = Object.create(engine) as EngineHost;
      counting.edit = (...args) => {
        editCalls++;
        return engine.edit(...args);
      };
      return createDocumentService(counting);
    },
    initialModelDir: modelDir,
    checkResponses: true,
    hub: {
      // eslint-disable-next-line require-yield
      async *list() {
        throw new Error('offline (test)');
      },
      async open() {
        throw new Error('offline (test)');
      },
    },
  });
  core.bus.subscribe((name, payload) => events.push({ name, payload }));
  const ready = until((name, payload) =>
    name === 'model.status' && (payload as { state: string }).state !== 'loading' ? payload : undefined,
  );
  if (core.models.status().state === 'loading') await ready;
  expect(core.models.status().state).toBe('ready');
}, 120_000);

afterAll(async () => {
  await core?.dispose();
});

describe('guidance grid through the app (browser mode, engine worker, tiny CLIP)', () => {
  it('finds CLIP beside the model, runs the grid with metrics equal to the analytic CLIP, keeps a cell', async () => {
    expect(await call('clip.status', {})).toEqual({
      state: 'ready',
      folder: clipDir,
      source: 'beside-model',
      message: null,
    });
    await call('document.openBytes', { name: 'picture.png', bytes: await png(picture()) });
    const edited = until((name, payload) => {
      const status = (payload as { status?: string }).status;
      return name === 'job.updated' && (status === 'done' || status === 'failed') ? status : undefined;
    });
    const { messageId } = await call<{ messageId: string }>('edit.enqueue', {
      settings: {
        instruction: 'make it red',
        steps: 2,
        textGuidance: 7.5,
        imageGuidance: 1.5,
        seed: 3,
        scheduler: 'euler-ancestral',
        resolution: '512',
      },
    });
    expect(await edited).toBe('done');
    const editsBefore = editCalls;

    const ended = gridEnded();
    events.length = 0;
    const { gridId } = await call<{ gridId: string }>('grid.start', {
      messageId,
      textScales: [3, 12.5],
      imageScales: [1, 2],
      captionBefore: 'a photo of a wall',
      captionAfter: 'a red photo of a wall',
    });
    const grid = await ended;
    expect(grid).toMatchObject({ gridId, messageId, state: 'done', error: null, clipModel: 'clip', seed: 3 });
    expect(editCalls).toBe(editsBefore);
    const updates = events
      .filter((e) => e.name === 'grid.updated')
      .map((e) => (e.payload as { grid: GridView }).grid);
    // Started, each of the four cells, ended.
    expect(updates[0]?.cells.every((c) => c.state !== 'done')).toBe(true);
    expect(updates.length).toBeGreaterThanOrEqual(6);
    expect(events.some((e) => e.name === 'grid.progress')).toBe(true);

    // The metrics, recomputed from the cells' pixels with the analytic model's formulas (the worker's
    // embeddings are float32: four decimals).
    const source = await expectedImage(picture());
    const before = await expectedText(clipDir, 'a photo of a wall', false);
    const after = await expectedText(clipDir, 'a red photo of a wall', false);
    const textChange = after.map((v, i) => v - before[i]!);
    for (const cell of grid.cells) {
      const image = await decode(
        (await call<{ png: Uint8Array }>('grid.cellImage', { gridId, cellIndex: cell.index })).png,
      );
      const result = await expectedImage(image);
      expect(cell.metrics).not.toBeNull();
      expect(cell.metrics!.imageSimilarity).toBeCloseTo(cos(source, result), 4);
      expect(cell.metrics!.clipT).toBeCloseTo(cos(result, after), 4);
      expect(cell.metrics!.directionalSimilarity).toBeCloseTo(
        cos(
          result.map((v, i) => v - source[i]!),
          textChange,
        ),
        4,
      );
    }
    // Stronger text guidance tints more: the picture keeps less of the source.
    expect(grid.cells[1]!.metrics!.imageSimilarity!).toBeLessThan(grid.cells[0]!.metrics!.imageSimilarity!);

    const kept = await call<{ undoLabel: string; messages: { variants: { id: string }[] }[] }>('grid.keep', {
      gridId,
      cellIndex: 3,
    });
    expect(editCalls).toBe(editsBefore);
    expect(kept.undoLabel).toBe('Keep grid cell s_T 12.5 · s_I 2');
    expect(kept.messages[0]?.variants).toHaveLength(2);
    const after1 = await call<{ grid: GridView }>('grid.get', { messageId });
    expect(after1.grid.cells[3]?.keptVariantId).toBe(kept.messages[0]?.variants[1]?.id);
    const undone = await call<{ messages: { variants: unknown[] }[] }>('history.undo', {});
    expect(undone.messages[0]?.variants).toHaveLength(1);
    expect(
      (await call<{ grid: GridView }>('grid.get', { messageId })).grid.cells[3]?.keptVariantId,
    ).toBeNull();

    // Saved and reopened: the same grid, numbers and (at this size, untouched) pictures; not keepable.
    const pictures = await Promise.all(
      grid.cells.map(
        async (c) => (await call<{ png: Uint8Array }>('grid.cellImage', { gridId, cellIndex: c.index })).png,
      ),
    );
    const saved = await call<{ bytes: Uint8Array }>('project.saveBytes', {});
    await call('document.openBytes', { name: 'picture.iedit', bytes: saved.bytes });
    const reopened = (await call<{ grid: GridView }>('grid.get', { messageId })).grid;
    expect(reopened).toEqual({ ...grid, cells: grid.cells.map((c) => ({ ...c, keepable: false })) });
    for (const cell of reopened.cells) {
      const thumbnail = await call<{ png: Uint8Array }>('grid.cellImage', { gridId, cellIndex: cell.index });
      expect((await decode(thumbnail.png)).data).toEqual((await decode(pictures[cell.index]!)).data);
    }
    const refused = await core.dispatcher.dispatch('grid.keep', { gridId, cellIndex: 0 });
    expect(refused).toMatchObject({ ok: false, error: { code: 'conflict' } });
  }, 120_000);

  it('a CLIP folder chosen by path is remembered; a folder without CLIP is reported, not remembered', async () => {
    const empty = tempDir('no-clip-');
    const refused = await call<{ state: string; message: string }>('clip.useFolder', { path: empty });
    expect(refused.state).toBe('error');
    expect(refused.message).toMatch(/not a CLIP ONNX export/);
    expect((await call<{ source: string }>('clip.status', {})).source).toBe('beside-model');
    const other = tempDir('other-clip-');
    await makeTinyClipModel(other, { layout: 'combined', kind: 'analytic' });
    expect(await call('clip.useFolder', { path: other })).toMatchObject({ state: 'ready', source: 'chosen' });
    expect(core.settings.get().clipFolder).toBe(other);
    expect(await call('clip.useFolder', { path: null })).toMatchObject({ source: 'beside-model' });
    expect(core.settings.get().clipFolder).toBeUndefined();
    expect(await call('clip.chooseFolder', {}).catch((e: Error) => e.message)).toMatch(/unsupported/);
  }, 60_000);

  it('the engine host: cells equal single edits in the worker; a cancel keeps the cells delivered', async () => {
    const engine = core.engine;
    const settings = {
      instruction: 'make it blue',
      steps: 20,
      seed: 9,
      scheduler: 'euler-ancestral' as const,
      resolution: '512' as const,
      textScales: [2, 6, 9, 12],
      imageScales: [1.5, 2],
    };
    const controller = new AbortController();
    const delivered: MeasuredGridCell[] = [];
    const run = engine.editGrid(picture(), settings, {
      signal: controller.signal,
      onCell: (cell) => {
        delivered.push(cell);
        if (delivered.length === 2) controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: CANCELLED_ERROR_NAME });
    // The cancel reaches the worker while a later cell runs: the cells finished before it are kept.
    expect(delivered.length).toBeGreaterThanOrEqual(2);
    expect(delivered.length).toBeLessThan(8);
    expect(delivered.slice(0, 2).map((c) => [c.index, c.textGuidance, c.imageGuidance, c.metrics])).toEqual([
      [0, 2, 1.5, null],
      [1, 6, 1.5, null],
    ]);
    for (const cell of delivered) {
      const single = await engine.edit(picture(), cellSettings(settings, cell));
      expect(cell.result.image.data).toEqual(single.image.data);
      expect(cell.result.settings).toEqual(single.settings);
    }
  }, 60_000);

  it('a CLIP model that does not load leaves the grid without numbers, saying why', async () => {
    const broken = tempDir('broken-clip-');
    writeFileSync(join(broken, 'text_model.onnx'), 'not a graph');
    writeFileSync(join(broken, 'vision_model.onnx'), 'not a graph');
    expect(await call('clip.useFolder', { path: broken })).toMatchObject({
      state: 'ready',
      source: 'chosen',
    });
    const messageId = (await call<{ messages: { id: string }[] }>('document.get', {})).messages[0]!.id;
    const ended = gridEnded();
    await call('grid.start', {
      messageId,
      textScales: [4],
      imageScales: [1.2],
      steps: 1,
      captionAfter: 'red',
    });
    const grid = await ended;
    expect(grid.state).toBe('done');
    expect(grid.clipModel).toBeNull();
    expect(grid.error).toMatch(/^The CLIP model did not load: /);
    expect(grid.cells.map((c) => [c.state, c.metrics, c.keepable])).toEqual([['done', null, true]]);
    await call('clip.useFolder', { path: null });
  }, 60_000);
});

describe('guidance grid in the engine worker with the ONNX pipeline (generated tiny model)', () => {
  let host: EngineHost | undefined;
  afterAll(async () => {
    await host?.dispose();
  });

  it('each cell equals the single edit with its scales; metrics on the processed source', async () => {
    const dir = tempDir('grid-tiny-model-');
    await makeTinyModel(dir, { kind: 'demo' });
    host = new EngineHost({ launcher: createNodeLauncher({ engine: 'onnx' }) });
    await host.loadModel(dir, 'cpu');
    const settings = {
      instruction: 'make it red',
      steps: 2,
      seed: 4,
      scheduler: 'euler-ancestral' as const,
      resolution: 'native' as const,
      textScales: [2, 8],
      imageScales: [1, 1.6],
    };
    const grid = await host.editGrid(picture(), settings, {
      metrics: { clipDir, captionBefore: null, captionAfter: 'a red wall' },
    });
    expect(grid.metricsError).toBeNull();
    expect(grid.cells.map((c) => [c.index, c.textGuidance, c.imageGuidance])).toEqual([
      [0, 2, 1],
      [1, 8, 1],
      [2, 2, 1.6],
      [3, 8, 1.6],
    ]);
    const after = await expectedText(clipDir, 'a red wall', false);
    for (const cell of grid.cells) {
      const single = await host.edit(picture(), cellSettings(settings, cell));
      expect(cell.result.image.data).toEqual(single.image.data);
      const source = await expectedImage(cell.result.processedSource);
      const result = await expectedImage(cell.result.image);
      expect(cell.metrics?.imageSimilarity).toBeCloseTo(cos(source, result), 4);
      expect(cell.metrics?.clipT).toBeCloseTo(cos(result, after), 4);
      expect(cell.metrics?.directionalSimilarity).toBeNull();
    }
  }, 120_000);
});
