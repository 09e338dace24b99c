/**
 * The guidance grid on the document (through the app's DocumentService over the real document
 * package, with the in-process fake engine): cells are single edits with the cell's scales, a cancel
 * keeps finished cells, Keep adds exactly the variant a re-run with those settings would (without
 * running the engine), undo/redo, and the grid saved in the project and reopened as thumbnails.
 */
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { createDocumentService } from '../../src/main/app/document-adapter';
import type { DocumentService } from '../../src/main/app/document-service';
import { ContractError } from '../../src/shared/contract/errors';
import type { GridView } from '../../src/shared/contract/schemas';
import { GRID_THUMBNAIL_SIDE, parseManifest, PROJECT_FORMAT_VERSION } from '../../src/shared/document/schema';
import { readProjectManifest } from '../../src/main/document/project-file';
import {
  cellSettings,
  DEFAULT_EDIT_SETTINGS,
  type EditSettings,
  type GridSettings,
  type RgbImage,
} from '../../src/shared/engine-types';
import { EngineGate, fakeEditEngine } from './fake-edit-engine';

const WIDTH = 330;
const HEIGHT = 260;

function photoPixels(): RgbImage {
  const data = new Uint8Array(WIDTH * HEIGHT * 3);
  for (let y = 0; y < HEIGHT; y++)
    for (let x = 0; x < WIDTH; x++) {
      const i = (y * WIDTH + x) * 3;
      data[i] = (x * 7) % 200;
      data[i + 1] = (y * 3) % 250;
      data[i + 2] = (x + y) % 180;
    }
  return { width: WIDTH, height: HEIGHT, data };
}

async function photo(): Promise<Uint8Array> {
  const { width, height, data } = photoPixels();
  return new Uint8Array(
    await sharp(Buffer.from(data), { raw: { width, height, channels: 3 } })
      .png()
      .toBuffer(),
  );
}

async function decode(png: Uint8Array): Promise<RgbImage> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}

function settings(instruction: string, seed: number): EditSettings {
  return { ...DEFAULT_EDIT_SETTINGS, resolution: 'native', steps: 2, seed, instruction };
}

/** Resolves with the grid's view once it has ended; `onView` sees every update before. */
function gridEnded(service: DocumentService, onView?: (view: GridView) => void): Promise<GridView> {
  return new Promise((resolve) => {
    const unsubscribe = service.subscribe({
      changed: () => undefined,
      progress: () => undefined,
      job: () => undefined,
      grid: (view) => {
        onView?.(view);
        if (view.state !== 'running') {
          unsubscribe();
          resolve(view);
        }
      },
    });
  });
}

function jobDone(service: DocumentService): Promise<void> {
  return new Promise((resolve) => {
    const unsubscribe = service.subscribe({
      changed: () => undefined,
      progress: () => undefined,
      job: (update) => {
        if (update.status === 'done' || update.status === 'failed' || update.status === 'cancelled') {
          unsubscribe();
          resolve();
        }
      },
    });
  });
}

async function withEdit(stepDelayMs = 0) {
  const engine = fakeEditEngine({ stepDelayMs });
  const service = createDocumentService(engine);
  await service.open(await photo(), 'photo.png', null);
  const done = jobDone(service);
  const { messageId } = await service.enqueueEdit(settings('make it red', 5));
  await done;
  return { engine, service, messageId };
}

const GRID = { textScales: [3, 7.5, 10], imageScales: [1, 1.5] };

describe('guidance grid on a document', () => {
  it('runs every cell as the single edit with its scales, on the source below the layer', async () => {
    const { engine, service, messageId } = await withEdit();
    const ended = gridEnded(service);
    const { gridId } = await service.startGrid({
      messageId,
      ...GRID,
      captionAfter: 'a red photo',
      clipDir: null,
    });
    const view = await ended;
    expect(view).toMatchObject({ gridId, messageId, state: 'done', error: null, instruction: 'make it red' });
    expect(view.steps).toBe(2);
    expect(view.seed).toBe(5);
    expect(view.captionAfter).toBe('a red photo');
    expect([view.processedWidth, view.processedHeight]).toEqual([320, 256]);
    // Rows are image scales, columns text scales.
    expect(view.cells.map((c) => [c.index, c.textGuidance, c.imageGuidance, c.state, c.keepable])).toEqual([
      [0, 3, 1, 'done', true],
      [1, 7.5, 1, 'done', true],
      [2, 10, 1, 'done', true],
      [3, 3, 1.5, 'done', true],
      [4, 7.5, 1.5, 'done', true],
      [5, 10, 1.5, 'done', true],
    ]);
    // Without a CLIP model there are no numbers.
    expect(view.cells.every((c) => c.metrics === null)).toBe(true);
    expect(view.clipModel).toBeNull();

    // The engine saw the base picture (the composite below the only layer) for every cell.
    const gridCalls = engine.calls.settings.slice(1);
    expect(gridCalls.map((s) => [s.textGuidance, s.imageGuidance, s.seed, s.steps])).toEqual(
      view.cells.map((c) => [c.textGuidance, c.imageGuidance, 5, 2]),
    );
    for (const source of engine.calls.sources.slice(1)) expect(source.data).toEqual(photoPixels().data);

    // Each cell's picture is what a single edit with its settings gives.
    const reference = fakeEditEngine();
    const gridSettings: GridSettings = { ...settings('make it red', 5), ...GRID };
    for (const cell of view.cells) {
      const single = await reference.edit(photoPixels(), cellSettings(gridSettings, cell));
      const image = await decode((await service.gridCellImage(gridId, cell.index)).png);
      expect([image.width, image.height]).toEqual([320, 256]);
      expect(image.data).toEqual(single.image.data);
    }
    const small = await service.gridCellImage(gridId, 0, 64);
    expect([small.width, small.height]).toEqual([64, 51]);
    // Not an undo step, but part of the project: unsaved.
    expect(service.current()?.undoLabel).toBe('Edit “make it red”');
    expect(service.current()?.dirty).toBe(true);
    await service.dispose();
  });

  it('refuses a second grid on the same message while one runs, and bad scales', async () => {
    const { service, messageId } = await withEdit(10);
    const ended = gridEnded(service);
    await service.startGrid({ messageId, ...GRID, clipDir: null });
    await expect(service.startGrid({ messageId, ...GRID, clipDir: null })).rejects.toMatchObject({
      code: 'conflict',
      message: expect.stringMatching(/already running/),
    });
    await ended;
    await expect(
      service.startGrid({ messageId, textScales: [], imageScales: [1], clipDir: null }),
    ).rejects.toMatchObject({ code: 'bad-request' });
    // Once ended, a new grid replaces it.
    const again = gridEnded(service);
    const { gridId } = await service.startGrid({
      messageId,
      textScales: [5],
      imageScales: [1.2],
      clipDir: null,
    });
    expect((await again).gridId).toBe(gridId);
    expect((await service.grid(messageId))?.cells.map((c) => c.textGuidance)).toEqual([5]);
    await service.dispose();
  });

  it('waits in the queue behind a running edit; cancelled there, it ends at once', async () => {
    const gate = new EngineGate(true);
    const engine = fakeEditEngine({ gate });
    const service = createDocumentService(engine);
    await service.open(await photo(), 'photo.png', null);
    const first = jobDone(service);
    const { messageId } = await service.enqueueEdit(settings('make it red', 5));
    await first;
    gate.close();
    const rerun = jobDone(service);
    await service.enqueueEdit(settings('make it red', 6), messageId);
    const queued = await service.startGrid({ messageId, ...GRID, clipDir: null });
    const ended = gridEnded(service);
    // The re-run holds the engine: the grid has not started a cell.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(engine.calls.settings.map((s) => s.seed)).toEqual([5, 6]);
    expect((await service.grid(messageId))?.cells.every((c) => c.state === 'pending')).toBe(true);
    expect(await service.cancelGrid(queued.gridId)).toBe(true);
    expect((await ended).state).toBe('cancelled');
    gate.open();
    await rerun;
    // A grid started now uses the active (re-run) variant's settings and seed.
    const next = gridEnded(service);
    await service.startGrid({ messageId, textScales: [5], imageScales: [1.5], clipDir: null });
    expect((await next).state).toBe('done');
    expect(engine.calls.settings.map((s) => s.seed)).toEqual([5, 6, 6]);
    await service.dispose();
  });

  it('a cancel keeps the cells that finished', async () => {
    const { service, messageId } = await withEdit(15);
    let gridId = '';
    let cancelled = false;
    const ended = gridEnded(service, (view) => {
      if (!cancelled && view.cells.filter((c) => c.state === 'done').length >= 2) {
        cancelled = true;
        void service.cancelGrid(gridId);
      }
    });
    gridId = (await service.startGrid({ messageId, ...GRID, clipDir: null })).gridId;
    const view = await ended;
    expect(view.state).toBe('cancelled');
    const done = view.cells.filter((c) => c.state === 'done');
    expect(done.length).toBeGreaterThanOrEqual(2);
    expect(done.length).toBeLessThan(6);
    expect(done.map((c) => c.index)).toEqual(done.map((_, i) => i));
    const reference = fakeEditEngine();
    const gridSettings: GridSettings = { ...settings('make it red', 5), ...GRID };
    for (const cell of done) {
      const image = await decode((await service.gridCellImage(gridId, cell.index)).png);
      expect(image.data).toEqual(
        (await reference.edit(photoPixels(), cellSettings(gridSettings, cell))).image.data,
      );
    }
    await expect(service.gridCellImage(gridId, 5)).rejects.toMatchObject({ code: 'conflict' });
    await expect(service.gridCellImage(gridId, 6)).rejects.toMatchObject({ code: 'not-found' });
    expect(await service.cancelGrid(gridId)).toBe(false);
    await service.dispose();
  });

  it('Keep adds the variant a re-run with those settings would, without running the engine; undo and redo', async () => {
    const { engine, service, messageId } = await withEdit();
    const ended = gridEnded(service);
    const { gridId } = await service.startGrid({ messageId, ...GRID, clipDir: null });
    await ended;
    const calls = engine.calls.settings.length;

    const kept = await service.keepGridCell(gridId, 4);
    expect(engine.calls.settings.length).toBe(calls);
    expect(kept.undoLabel).toBe('Keep grid cell s_T 7.5 · s_I 1.5');
    const message = kept.messages.find((m) => m.id === messageId)!;
    expect(message.variants).toHaveLength(2);
    const variant = message.variants[1]!;
    expect(message.pickedVariantId).toBe(variant.id);
    expect(variant.settings).toEqual({
      ...settings('make it red', 5),
      textGuidance: 7.5,
      imageGuidance: 1.5,
    });
    const grid = await service.grid(messageId);
    expect(grid?.cells[4]?.keptVariantId).toBe(variant.id);
    await expect(service.keepGridCell(gridId, 4)).rejects.toMatchObject({ code: 'conflict' });
    const keptPixels = await decode((await service.layerImage(messageId, 'pixels', variant.id)).png);
    expect([keptPixels.width, keptPixels.height]).toEqual([WIDTH, HEIGHT]);

    // A normal re-run with the cell's settings places exactly the same pixels.
    const rerun = jobDone(service);
    await service.enqueueEdit(
      { ...settings('make it red', 5), textGuidance: 7.5, imageGuidance: 1.5 },
      messageId,
    );
    await rerun;
    const rerunVariant = service.current()!.messages.find((m) => m.id === messageId)!.variants[2]!;
    const rerunPixels = await decode((await service.layerImage(messageId, 'pixels', rerunVariant.id)).png);
    expect(keptPixels.data).toEqual(rerunPixels.data);
    expect(keptPixels.data).not.toEqual(photoPixels().data);

    // Undo the re-run, then the keep: the variant is gone and the cell can be kept again.
    await service.undo();
    const undone = await service.undo();
    expect(undone?.messages.find((m) => m.id === messageId)?.variants).toHaveLength(1);
    expect((await service.grid(messageId))?.cells[4]?.keptVariantId).toBeNull();
    const redone = await service.redo();
    expect(redone?.messages.find((m) => m.id === messageId)?.variants.map((v) => v.id)).toContain(variant.id);
    expect((await service.grid(messageId))?.cells[4]?.keptVariantId).toBe(variant.id);
    await service.dispose();
  });

  it('is saved in the project: reopened with settings, captions and thumbnails, not keepable', async () => {
    const { service, messageId } = await withEdit();
    const ended = gridEnded(service);
    const { gridId } = await service.startGrid({
      messageId,
      ...GRID,
      seed: 77,
      steps: 3,
      captionBefore: 'a photo',
      captionAfter: 'a red photo',
      clipDir: null,
    });
    await ended;
    const kept = await service.keepGridCell(gridId, 1);
    const keptId = kept.messages[0]!.variants[1]!.id;
    const before = (await service.grid(messageId))!;
    const originals = await Promise.all(
      before.cells.map(async (c) => decode((await service.gridCellImage(gridId, c.index)).png)),
    );
    const { bytes } = await service.projectBytes();
    const { manifest } = await readProjectManifest(bytes);
    expect(manifest.version).toBe(PROJECT_FORMAT_VERSION);
    expect(manifest.grids).toHaveLength(1);
    expect(manifest.grids[0]?.cells).toHaveLength(6);

    const reopened = createDocumentService(fakeEditEngine());
    await reopened.open(bytes, 'photo.iedit', null);
    const grid = (await reopened.grid(messageId))!;
    expect(grid).toEqual({
      ...before,
      cells: before.cells.map((c) => ({ ...c, keepable: false })),
    });
    expect(grid.seed).toBe(77);
    expect(grid.steps).toBe(3);
    expect(grid.captionBefore).toBe('a photo');
    expect(grid.cells[1]?.keptVariantId).toBe(keptId);
    for (const cell of grid.cells) {
      const thumbnail = await decode((await reopened.gridCellImage(gridId, cell.index)).png);
      expect([thumbnail.width, thumbnail.height]).toEqual([GRID_THUMBNAIL_SIDE, 205]);
      const expected = await sharp(Buffer.from(originals[cell.index]!.data), {
        raw: { width: 320, height: 256, channels: 3 },
      })
        .resize(GRID_THUMBNAIL_SIDE, 205)
        .raw()
        .toBuffer();
      // The stored thumbnail is the cell's result made small (not some other picture).
      let difference = 0;
      for (let i = 0; i < expected.length; i++) difference += Math.abs(expected[i]! - thumbnail.data[i]!);
      expect(difference / expected.length).toBeLessThan(2);
    }
    await expect(reopened.keepGridCell(gridId, 0)).rejects.toSatisfy(
      (error) =>
        error instanceof ContractError &&
        error.code === 'conflict' &&
        /reopened from a saved project/.test(error.message),
    );
    await reopened.dispose();
    await service.dispose();
  });

  it('is in the autosave: a recovered document has its grid', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'grid-recovery-'));
    const service = createDocumentService(fakeEditEngine(), {
      recoveryFolder: folder,
      autosaveIntervalMs: 30,
    });
    await service.open(await photo(), 'photo.png', null);
    const done = jobDone(service);
    const { messageId } = await service.enqueueEdit(settings('make it red', 5));
    await done;
    const ended = gridEnded(service);
    const { gridId } = await service.startGrid({
      messageId,
      textScales: [4],
      imageScales: [1.3],
      clipDir: null,
    });
    await ended;
    // Wait for an autosave written after the grid (it has the grid in it).
    let grids = 0;
    for (let tries = 0; grids === 0 && tries < 600; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const file = existsSync(folder)
        ? readdirSync(folder).find((n) => n.endsWith('.recovery.iedit'))
        : undefined;
      if (file)
        grids = (await readProjectManifest(join(folder, file)).catch(() => null))?.manifest.grids.length ?? 0;
    }
    expect(grids).toBe(1);
    const restarted = createDocumentService(fakeEditEngine(), { recoveryFolder: folder });
    const [offered] = await restarted.recoveries();
    await restarted.restoreRecovery(offered!.id);
    const grid = await restarted.grid(messageId);
    expect(grid?.gridId).toBe(gridId);
    expect(grid?.cells.map((c) => [c.textGuidance, c.imageGuidance, c.state, c.keepable])).toEqual([
      [4, 1.3, 'done', false],
    ]);
    await restarted.dispose();
    await service.dispose();
  });

  it('reads projects of format version 1 (no grids)', async () => {
    const { service } = await withEdit();
    const { bytes } = await service.projectBytes();
    const { manifest } = await readProjectManifest(bytes);
    const old = JSON.parse(JSON.stringify(manifest)) as Record<string, unknown>;
    delete old.grids;
    old.version = 1;
    const migrated = parseManifest(old);
    expect(migrated.migratedFrom).toEqual([1]);
    expect(migrated.manifest.grids).toEqual([]);
    expect(migrated.manifest.document).toEqual(manifest.document);
    await service.dispose();
  });
});
