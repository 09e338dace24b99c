import { describe, expect, it } from 'vitest';
import { activeVariant, orderedLayers } from '../../src/shared/document';
import { DEFAULT_EDIT_SETTINGS, type EditSettings, type RgbImage } from '../../src/shared/engine-types';
import { CANCELLED_FAILURE, DocumentSession, type JobEvent } from '../../src/main/document/session';
import { PixelStore } from '../../src/main/document/pixel-store';
import { fakeEditEngine, redShift } from './fake-edit-engine';

/** A 64×48 picture: red = 10 + x, green = 20 + y, blue = 100. */
function picture(width = 64, height = 48): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) data.set([10 + x, 20 + y, 100], (y * width + x) * 3);
  return { width, height, data };
}

function settings(instruction: string, overrides: Partial<EditSettings> = {}): EditSettings {
  // 'native' keeps 64×48 as it is, so results are exact and easy to predict.
  return { ...DEFAULT_EDIT_SETTINGS, resolution: 'native', steps: 3, instruction, seed: 0, ...overrides };
}

function open(engine = fakeEditEngine()) {
  const session = DocumentSession.fromImage(
    { image: picture(), notices: [], format: 'png', fileName: 'photo.png' },
    { engine, model: () => ({ id: '/models/ip2p', version: 'test' }), store: new PixelStore() },
  );
  return { session, engine };
}

async function edit(session: DocumentSession, s: EditSettings, rerunOf?: string) {
  const { jobId, layerId } = session.enqueue(s, rerunOf ? { rerunOf } : {});
  const outcome = await session.waitFor(jobId);
  return { outcome, layerId };
}

describe('DocumentSession', () => {
  it('adds an edit as a layer whose pixels are the engine result on the base, undoable', async () => {
    const { session } = open();
    const { outcome, layerId } = await edit(session, settings('make it red', { textGuidance: 5 }));
    expect(outcome).toBe('done');
    const layer = session.layer(layerId);
    expect(layer.name).toBe('make it red');
    expect(layer.variants).toHaveLength(1);
    expect(layer.status).toEqual({ state: 'fresh', reason: null });
    expect(layer.request.model).toEqual({ id: '/models/ip2p', version: 'test' });
    const pixels = await session.store.getRgb(activeVariant(layer)!.pixels);
    expect([...pixels.data.subarray(0, 3)]).toEqual([10 + 5, 20, 100]); // red + seed%7 + text guidance
    expect(session.history.undoLabel).toBe('Edit “make it red”');
    expect(session.dirty).toBe(true);

    expect(session.undo()).toBe(true);
    expect(session.doc.order).toEqual([]);
    expect(session.redo()).toBe(true);
    expect(session.doc.order).toEqual([layerId]);
    expect(session.layer(layerId).variants).toHaveLength(1);
  });

  it('chains edits: each runs on the composite of the layers below it', async () => {
    const { session, engine } = open();
    const a = await edit(session, settings('make the dragon red', { textGuidance: 4 }));
    const b = await edit(session, settings('put it in a cave', { textGuidance: 3 }));
    expect(engine.calls.sources).toHaveLength(2);
    expect(engine.calls.sources[0]!.data[0]).toBe(10);
    expect(engine.calls.sources[1]!.data[0]).toBe(10 + 4); // A's result under B
    const bVariant = activeVariant(session.layer(b.layerId))!;
    expect(bVariant.sourceParts[1]).toMatch(new RegExp(`^${a.layerId}@`));
    const full = await session.compositeBelow(null);
    expect(full.data[0]).toBe(10 + 4 + 3);
  });

  it('re-running a layer keeps its variants and marks the layers above stale; re-run stale fixes them in order', async () => {
    const { session, engine } = open();
    const a = await edit(session, settings('A', { textGuidance: 1 }));
    const b = await edit(session, settings('B', { textGuidance: 2 }));
    const c = await edit(session, settings('C', { textGuidance: 3 }));
    const firstA = session.layer(a.layerId).activeVariantId;

    await edit(session, settings('A', { textGuidance: 6 }), a.layerId);
    const layerA = session.layer(a.layerId);
    expect(layerA.variants.map((v) => v.request.textGuidance)).toEqual([1, 6]);
    expect(layerA.activeVariantId).not.toBe(firstA);
    expect(session.layer(b.layerId).status.state).toBe('stale');
    expect(session.layer(b.layerId).status.reason).toBe('“A” changed since this layer ran');
    expect(session.layer(c.layerId).status.state).toBe('stale');
    expect(layerA.status.state).toBe('fresh');

    const calls = engine.calls.settings.length;
    const results = await session.rerunStale();
    expect(results).toEqual({
      rerun: [
        { layerId: b.layerId, outcome: 'done' },
        { layerId: c.layerId, outcome: 'done' },
      ],
      skipped: [],
    });
    expect(engine.calls.settings.slice(calls).map((s) => s.instruction)).toEqual(['B', 'C']);
    // B ran on A's new result; C on B's new one.
    expect(engine.calls.sources[calls]!.data[0]).toBe(10 + 6);
    expect(engine.calls.sources[calls + 1]!.data[0]).toBe(10 + 6 + 2);
    for (const layer of orderedLayers(session.doc)) expect(layer.status.state).toBe('fresh');
    expect(session.layer(b.layerId).variants).toHaveLength(2);

    // Picking A's first variant back makes B and C stale again; undo of the pick makes them fresh.
    session.apply({ type: 'pick-variant', layerId: a.layerId, variantId: firstA! });
    expect(session.layer(b.layerId).status.state).toBe('stale');
    expect(session.layer(c.layerId).status.state).toBe('stale');
    session.undo();
    expect(session.layer(b.layerId).status.state).toBe('fresh');
  });

  it('a mask, opacity or visibility change below marks the layers above stale, not those below', async () => {
    const { session } = open();
    const a = await edit(session, settings('A'));
    const b = await edit(session, settings('B'));
    const mask = session.store.putGray({ width: 64, height: 48, data: new Uint8Array(64 * 48).fill(128) });
    session.apply({ type: 'set-mask', layerId: b.layerId, mask, how: 'paint' });
    expect(session.layer(a.layerId).status.state).toBe('fresh');
    session.apply({ type: 'set-opacity', layerId: a.layerId, opacity: 0.5 });
    expect(session.layer(b.layerId).status.state).toBe('stale');
    session.undo();
    expect(session.layer(b.layerId).status.state).toBe('fresh');
    session.apply({ type: 'set-visibility', layerId: a.layerId, visible: false });
    expect(session.layer(b.layerId).status.reason).toBe('“A” no longer shows below this layer');
  });

  it('queues jobs while one runs and runs them in order on the then-current composite', async () => {
    const { session, engine } = open(fakeEditEngine({ stepDelayMs: 5 }));
    const events: JobEvent[] = [];
    session.subscribe({ job: (event) => events.push(event) });
    const first = session.enqueue(settings('first', { textGuidance: 2 }));
    const second = session.enqueue(settings('second', { textGuidance: 3 }));
    expect(session.layer(second.layerId).status.state).toBe('queued');
    await session.idle();
    expect(engine.calls.sources[1]!.data[0]).toBe(10 + 2);
    expect(events.filter((e) => e.jobId === second.jobId).map((e) => e.status)).toEqual([
      'queued',
      'running',
      'done',
    ]);
    expect(session.doc.order).toEqual([first.layerId, second.layerId]);
  });

  it('cancel mid-run loses nothing: a first run leaves a cancelled layer, a re-run keeps the variants', async () => {
    const { session } = open(fakeEditEngine({ stepDelayMs: 20 }));
    const done = await edit(session, settings('keep me', { steps: 1 }));
    const before = session.layer(done.layerId);
    const historyBefore = session.history.list();

    let progressed = 0;
    session.subscribe({ progress: () => progressed++ });
    const rerun = session.enqueue(settings('keep me', { steps: 50, seed: 9 }), { rerunOf: done.layerId });
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(session.cancel(rerun.jobId)).toBe(true);
    expect(await session.waitFor(rerun.jobId)).toBe('cancelled');
    expect(progressed).toBeGreaterThan(0);
    expect(progressed).toBeLessThan(50);
    expect(session.layer(done.layerId).variants).toEqual(before.variants);
    expect(session.layer(done.layerId).status.state).toBe('fresh');
    expect(session.history.list()).toEqual(historyBefore);

    const fresh = session.enqueue(settings('never finishes', { steps: 50 }));
    await new Promise((resolve) => setTimeout(resolve, 30));
    session.cancel(fresh.jobId);
    expect(await session.waitFor(fresh.jobId)).toBe('cancelled');
    const pending = session.layer(fresh.layerId);
    expect(pending.variants).toEqual([]);
    expect(pending.failure).toBe(CANCELLED_FAILURE);
    expect(session.history.list()).toEqual(historyBefore); // nothing recorded for a run that never landed
  });

  it('an engine failure is reported on the layer and changes nothing else', async () => {
    const { session } = open(fakeEditEngine({ failWith: 'out of memory on the GPU' }));
    const events: JobEvent[] = [];
    session.subscribe({ job: (event) => events.push(event) });
    const { outcome, layerId } = await edit(session, settings('fail'));
    expect(outcome).toBe('failed');
    expect(session.layer(layerId).status).toEqual({ state: 'failed', reason: 'out of memory on the GPU' });
    expect(events.at(-1)).toMatchObject({ status: 'failed', error: 'out of memory on the GPU' });
    expect(session.history.canUndo).toBe(false);
  });

  it('places results made at 512 processing size back at the full document size', async () => {
    const { session } = open();
    const wide = DocumentSession.fromImage(
      { image: picture(1024, 640), notices: [], format: 'png', fileName: 'wide.png' },
      { engine: fakeEditEngine() },
    );
    const { layerId } = await edit(wide, settings('red', { resolution: '512', textGuidance: 8 }));
    const variant = activeVariant(wide.layer(layerId))!;
    expect([variant.processedWidth, variant.processedHeight]).toEqual([512, 320]);
    const placed = await wide.store.getRgb(variant.pixels);
    expect([placed.width, placed.height]).toEqual([1024, 640]);
    // delta placement: the source's own value plus the (uniform) +8 edit, at full resolution.
    const i = (100 * 1024 + 100) * 3;
    expect(placed.data[i]).toBe(10 + 100 + 8);
    expect(placed.data[i + 1]).toBe(20 + 100);
    await session.dispose();
  });

  it('refuses what it cannot do with clear messages', async () => {
    const noEngine = DocumentSession.fromImage({
      image: picture(),
      notices: [],
      format: 'png',
      fileName: null,
    });
    expect(() => noEngine.enqueue(settings('x'))).toThrow(/No model is loaded/);
    const { session } = open(fakeEditEngine({ stepDelayMs: 10 }));
    const job = session.enqueue(settings('x', { steps: 5 }));
    expect(() => session.enqueue(settings('x'), { rerunOf: job.layerId })).toThrow(
      /already queued or running/,
    );
    expect(() => session.layerAt(3)).toThrow(/edit layers 1 to 1/);
    await session.idle();
    expect(redShift(settings('x'))).toBe(7.5);
  });
});
