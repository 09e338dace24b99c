/**
 * Workflow calls of the app's DocumentService over the real document package: a browser download
 * clears the unsaved mark (unless the document changed meanwhile), a cancelled instruction can be
 * dismissed from the history, and "Update stale layers" re-runs them bottom first with their seeds.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { createDocumentService } from '../../src/main/app/document-adapter';
import type { DocumentService, JobUpdate } from '../../src/main/app/document-service';
import { DEFAULT_EDIT_SETTINGS, type EditSettings } from '../../src/shared/engine-types';
import { fakeEditEngine } from '../document/fake-edit-engine';

async function photo(): Promise<Uint8Array> {
  const data = Buffer.alloc(32 * 24 * 3, 90);
  return new Uint8Array(
    await sharp(data, { raw: { width: 32, height: 24, channels: 3 } })
      .png()
      .toBuffer(),
  );
}

function settings(instruction: string, seed: number): EditSettings {
  return { ...DEFAULT_EDIT_SETTINGS, resolution: 'native', steps: 2, seed, instruction };
}

function finished(service: DocumentService, count = 1): Promise<JobUpdate[]> {
  const seen: JobUpdate[] = [];
  return new Promise((resolve) => {
    const unsubscribe = service.subscribe({
      changed: () => undefined,
      progress: () => undefined,
      job: (update) => {
        if (update.status === 'queued' || update.status === 'running') return;
        seen.push(update);
        if (seen.length === count) {
          unsubscribe();
          resolve(seen);
        }
      },
    });
  });
}

describe('document workflows (app adapter)', () => {
  it('a download clears the unsaved mark; a change during it keeps the mark', async () => {
    const service = createDocumentService(fakeEditEngine());
    await service.open(await photo(), 'photo.png', null);
    const done = finished(service);
    await service.enqueueEdit(settings('make it red', 1));
    await done;
    expect(service.current()?.dirty).toBe(true);

    const saved = await service.projectBytes();
    expect(saved.bytes.length).toBeGreaterThan(0);
    service.markDownloaded(saved.revision!);
    expect(service.current()?.dirty).toBe(false);

    const stale = await service.projectBytes();
    const layerId = service.current()!.layers[1]!.id;
    await service.updateLayer(layerId, { opacity: 0.5 });
    service.markDownloaded(stale.revision!);
    expect(service.current()?.dirty).toBe(true);
    await service.dispose();
  });

  it('dismisses a cancelled instruction from the history', async () => {
    const service = createDocumentService(fakeEditEngine({ stepDelayMs: 20 }));
    await service.open(await photo(), 'photo.png', null);
    const done = finished(service);
    const { jobId, messageId } = await service.enqueueEdit(settings('make it night', 1));
    await service.cancelJob(jobId);
    expect((await done)[0]?.status).toBe('cancelled');
    expect(service.current()?.messages.map((m) => m.status)).toEqual(['cancelled']);

    const after = await service.deleteLayer(messageId);
    expect(after.messages).toEqual([]);
    expect(after.layers.map((l) => l.kind)).toEqual(['source']);
    const undone = await service.undo();
    // Undo brings it back, as the Dismiss button's tooltip says.
    expect(undone?.messages.map((m) => [m.instruction, m.status])).toEqual([['make it night', 'cancelled']]);
    await service.dispose();
  });

  it('re-runs stale layers bottom first, each with its own seed', async () => {
    const engine = fakeEditEngine();
    const service = createDocumentService(engine);
    await service.open(await photo(), 'photo.png', null);
    const ran = finished(service, 3);
    const first = await service.enqueueEdit(settings('make it red', 11));
    await service.enqueueEdit(settings('add snow', 22));
    await service.enqueueEdit(settings('blue tint', 33));
    expect((await ran).map((o) => o.status)).toEqual(['done', 'done', 'done']);
    expect(await service.rerunStale()).toBe(0);

    // Hiding the bottom edit changes what the two above were made from.
    await service.updateLayer(first.messageId, { visible: false });
    const view = service.current()!;
    expect(view.layers.map((l) => l.stale)).toEqual([false, false, true, true]);

    const before = engine.calls.settings.length;
    const reran = finished(service, 2);
    expect(await service.rerunStale()).toBe(2);
    const outcomes = await reran;
    expect(outcomes.map((o) => o.status)).toEqual(['done', 'done']);
    const order = engine.calls.settings.slice(before).map((s) => [s.instruction, s.seed]);
    expect(order).toEqual([
      ['add snow', 22],
      ['blue tint', 33],
    ]);
    const updated = service.current()!;
    expect(updated.layers.map((l) => l.stale)).toEqual([false, false, false, false]);
    expect(updated.messages.map((m) => m.variants.length)).toEqual([1, 2, 2]);
    await service.dispose();
  });
});
