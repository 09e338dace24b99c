/**
 * The app's DocumentService over the real document package: views built from records, jobs as
 * events, project bytes that reopen, and autosave recovery after a crash or for a newer autosave.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { createDocumentService } from '../../src/main/app/document-adapter';
import type { DocumentService, JobUpdate } from '../../src/main/app/document-service';
import { recoveryPathFor } from '../../src/main/document/recovery';
import { DEFAULT_EDIT_SETTINGS, type EditSettings } from '../../src/shared/engine-types';
import { fakeEditEngine } from '../document/fake-edit-engine';

const WIDTH = 40;
const HEIGHT = 30;

async function photo(): Promise<Uint8Array> {
  const data = Buffer.alloc(WIDTH * HEIGHT * 3);
  for (let i = 0; i < WIDTH * HEIGHT; i++) data.set([50 + (i % WIDTH), 60, 70], i * 3);
  return new Uint8Array(
    await sharp(data, { raw: { width: WIDTH, height: HEIGHT, channels: 3 } })
      .png()
      .toBuffer(),
  );
}

function settings(instruction: string, textGuidance = 5): EditSettings {
  return { ...DEFAULT_EDIT_SETTINGS, resolution: 'native', steps: 2, seed: 0, instruction, textGuidance };
}

async function editAndWait(service: DocumentService, s: EditSettings, rerunOf?: string): Promise<JobUpdate> {
  const updates: JobUpdate[] = [];
  const done = new Promise<JobUpdate>((resolve) => {
    const unsubscribe = service.subscribe({
      changed: () => undefined,
      progress: () => undefined,
      job: (update) => {
        updates.push(update);
        if (update.status === 'done' || update.status === 'failed' || update.status === 'cancelled') {
          unsubscribe();
          resolve(update);
        }
      },
    });
  });
  await service.enqueueEdit(s, rerunOf);
  return done;
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function pixels(png: Uint8Array): Promise<Buffer> {
  return sharp(png).removeAlpha().raw().toBuffer();
}

describe('document service (app adapter)', () => {
  it('turns an edit into a layer and a message, with thumbnails and variants', async () => {
    const service = createDocumentService(fakeEditEngine());
    const opened = await service.open(await photo(), 'photo.png', null);
    expect(opened.layers.map((l) => [l.kind, l.name])).toEqual([['source', 'photo.png']]);
    expect(opened.messages).toEqual([]);

    expect((await editAndWait(service, settings('make it red', 5))).status).toBe('done');
    const rerun = service.current()!.messages[0]!;
    await editAndWait(service, settings('make it red', 9), rerun.id);
    const view = service.current()!;
    expect(view.layers.map((l) => l.kind)).toEqual(['source', 'edit']);
    const message = view.messages[0]!;
    expect(message.instruction).toBe('make it red');
    expect(message.status).toBe('done');
    expect(message.variants.map((v) => v.settings.textGuidance)).toEqual([5, 9]);
    expect(message.pickedVariantId).toBe(message.variants[1]!.id);
    expect(view.undoLabel).toBe('Re-run “make it red”');

    const layer = view.layers[1]!;
    const image = await service.layerImage(layer.id, 'pixels');
    expect([image.width, image.height]).toEqual([WIDTH, HEIGHT]);
    expect([...(await pixels(image.png)).subarray(0, 3)]).toEqual([50 + 9, 60, 70]);
    const first = await service.layerImage(layer.id, 'pixels', message.variants[0]!.id);
    expect((await pixels(first.png))[0]).toBe(50 + 5);

    const picked = await service.pickVariant(message.id, message.variants[0]!.id);
    expect(picked.layers[1]!.pixelsRevision).not.toBe(layer.pixelsRevision);
    await expect(service.deleteLayer('base')).rejects.toThrow(/source image cannot be deleted/);
    await expect(service.setMask(layer.id, { width: 2, height: 2, data: new Uint8Array(4) })).rejects.toThrow(
      /A mask must be 40×30/,
    );
    await service.dispose();
  });

  it('sends screen-size layer images when asked (maxSide), full size otherwise, and small thumbnails', async () => {
    const service = createDocumentService(fakeEditEngine());
    await service.open(await photo(), 'photo.png', null);
    await editAndWait(service, settings('make it red', 5));
    const layer = service.current()!.layers[1]!;
    await service.setMask(layer.id, {
      width: WIDTH,
      height: HEIGHT,
      data: new Uint8Array(WIDTH * HEIGHT).map((_, i) => (i % WIDTH < WIDTH / 2 ? 255 : 0)),
    });

    const small = await service.layerImage(layer.id, 'pixels', undefined, 20);
    expect([small.width, small.height]).toEqual([20, 15]);
    const meta = await sharp(small.png).metadata();
    expect([meta.width, meta.height]).toEqual([20, 15]);
    // A horizontal ramp 55…94 halved: each pixel near the mean of the two it covers.
    const row = await pixels(small.png);
    for (let x = 1; x < 19; x++)
      expect(Math.abs((row[x * 3] as number) - (55 + 2 * x + 0.5))).toBeLessThanOrEqual(1.5);
    expect([row[1], row[2]]).toEqual([60, 70]);

    const mask = await service.layerImage(layer.id, 'mask', undefined, 20);
    const grey = await sharp(mask.png).extractChannel(0).raw().toBuffer();
    expect([mask.width, mask.height]).toEqual([20, 15]);
    expect([grey[2], grey[17]]).toEqual([255, 0]);

    // Asking for more than there is gives the stored full-size image; nothing is enlarged.
    const full = await service.layerImage(layer.id, 'pixels', undefined, 4000);
    expect([full.width, full.height]).toEqual([WIDTH, HEIGHT]);
    expect((await pixels(full.png))[0]).toBe(55);
    const thumbnail = await service.layerImage(layer.id, 'thumbnail');
    expect([thumbnail.width, thumbnail.height]).toEqual([WIDTH, HEIGHT]);
    await service.dispose();
  });

  it('gives a newly opened document new image revisions (the renderer caches by layer id and revision)', async () => {
    const service = createDocumentService(fakeEditEngine());
    const first = await service.open(await photo(), 'photo.png', null);
    const other = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#00ff00' } })
      .png()
      .toBuffer();
    const second = await service.open(new Uint8Array(other), 'green.png', null);
    expect(second.layers[0]!.id).toBe(first.layers[0]!.id);
    expect(second.layers[0]!.pixelsRevision).not.toBe(first.layers[0]!.pixelsRevision);
    await service.dispose();
  });

  it('project bytes reopen as the same document', async () => {
    const service = createDocumentService(fakeEditEngine());
    await service.open(await photo(), 'photo.png', null);
    await editAndWait(service, settings('warmer'));
    const { name, bytes } = await service.projectBytes();
    expect(name).toBe('photo.iedit');
    const other = createDocumentService(fakeEditEngine());
    const reopened = await other.open(bytes, name, '/somewhere/photo.iedit');
    const before = service.current()!;
    expect(reopened.path).toBe('/somewhere/photo.iedit');
    expect(reopened.dirty).toBe(false);
    expect(reopened.messages.map((m) => [m.instruction, m.variants.length])).toEqual([['warmer', 1]]);
    expect(reopened.layers.map((l) => l.name)).toEqual(before.layers.map((l) => l.name));
    const a = await pixels((await service.layerImage(before.layers[1]!.id, 'pixels')).png);
    const b = await pixels((await other.layerImage(reopened.layers[1]!.id, 'pixels')).png);
    expect(b.equals(a)).toBe(true);
    await service.dispose();
    await other.dispose();
  });

  it('recovers unsaved work after a crash from the autosave folder', async () => {
    // A folder that does not exist yet, as on the first autosave after installing.
    const folder = join(mkdtempSync(join(tmpdir(), 'recovery-')), 'not-yet');
    const crashed = createDocumentService(fakeEditEngine(), {
      recoveryFolder: folder,
      autosaveIntervalMs: 30,
    });
    await crashed.open(await photo(), 'photo.png', null);
    await editAndWait(crashed, settings('make it red', 7));
    await until(
      () => existsSync(folder) && readdirSync(folder).some((name) => name.endsWith('.recovery.iedit')),
      'the autosave',
    );
    // No dispose: the app died. A new app start finds the autosave.

    const restarted = createDocumentService(fakeEditEngine(), { recoveryFolder: folder });
    const offered = await restarted.recoveries();
    expect(offered).toHaveLength(1);
    expect(offered[0]).toMatchObject({ projectPath: null, layers: 1 });
    const restored = await restarted.restoreRecovery(offered[0]!.id);
    expect(restored.dirty).toBe(true);
    expect(restored.messages.map((m) => m.instruction)).toEqual(['make it red']);
    const image = await restarted.layerImage(restored.layers[1]!.id, 'pixels');
    expect((await pixels(image.png))[0]).toBe(50 + 7);
    await expect(restarted.restoreRecovery('recovery-9')).rejects.toThrow(/no longer offered/);

    // Another start that does not want it discards it: the file goes.
    const another = createDocumentService(fakeEditEngine(), { recoveryFolder: folder });
    const listed = await another.recoveries();
    expect(listed).toHaveLength(1);
    expect(await another.discardRecovery(listed[0]!.id)).toBe(true);
    expect(readdirSync(folder).filter((name) => name.endsWith('.recovery.iedit'))).toEqual([]);
    expect(await another.recoveries()).toEqual([]);
    await another.dispose();
    await restarted.dispose();
  });

  it('offers a newer autosave of a saved project, and saving the project removes it', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'recovery-'));
    const projectPath = join(mkdtempSync(join(tmpdir(), 'project-')), 'photo.iedit');
    const service = createDocumentService(fakeEditEngine(), {
      recoveryFolder: folder,
      autosaveIntervalMs: 30,
    });
    await service.open(await photo(), 'photo.png', null);
    await editAndWait(service, settings('cooler'));
    writeFileSync(projectPath, (await service.projectBytes()).bytes);
    service.markSaved(projectPath);
    await until(() => readdirSync(folder).length === 0, 'the unsaved autosave to go after the save');

    const layerId = service.current()!.layers[1]!.id;
    await service.updateLayer(layerId, { visible: false });
    await until(() => existsSync(recoveryPathFor(projectPath)), 'the autosave beside the project');

    const reader = createDocumentService(fakeEditEngine(), { recoveryFolder: folder });
    const opened = await reader.open(new Uint8Array(readFileSync(projectPath)), 'photo.iedit', projectPath);
    expect(opened.layers[1]!.visible).toBe(true);
    const offered = await reader.recoveries();
    expect(offered.map((entry) => [entry.name, entry.projectPath])).toEqual([['photo.iedit', projectPath]]);
    const restored = await reader.restoreRecovery(offered[0]!.id);
    expect(restored.layers[1]!.visible).toBe(false);
    expect(restored.path).toBe(projectPath);

    // Saving the project deletes its autosave.
    writeFileSync(projectPath, (await service.projectBytes()).bytes);
    service.markSaved(projectPath);
    await until(() => !existsSync(recoveryPathFor(projectPath)), 'the autosave to be deleted');
    expect(await reader.recoveries()).toEqual([]);
    await service.dispose();
    await reader.dispose();
  });
});
