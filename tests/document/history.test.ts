/**
 * History meets layers that have no result yet (queued, failed or cancelled first edits): the four
 * sequences of issue 12, each as a regular test, and the inputs the session itself refuses.
 */
import { describe, expect, it } from 'vitest';
import type { DocumentRecord } from '../../src/shared/document';
import { DEFAULT_EDIT_SETTINGS, type EditSettings, type RgbImage } from '../../src/shared/engine-types';
import { CANCELLED_FAILURE, DocumentSession } from '../../src/main/document/session';
import { PixelStore } from '../../src/main/document/pixel-store';
import { EngineGate, fakeEditEngine, type FakeEngineOptions } from './fake-edit-engine';

function picture(width = 16, height = 12): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) data.set([10 + x, 20 + y, 100], (y * width + x) * 3);
  return { width, height, data };
}

function settings(instruction: string, overrides: Partial<EditSettings> = {}): EditSettings {
  return { ...DEFAULT_EDIT_SETTINGS, resolution: 'native', steps: 1, instruction, seed: 1, ...overrides };
}

function open(options: FakeEngineOptions = {}): DocumentSession {
  return DocumentSession.fromImage(
    { image: picture(), notices: [], format: 'png', fileName: 'photo.png' },
    { engine: fakeEditEngine(options), store: new PixelStore(), now: () => 1000 },
  );
}

/** The records without the derived statuses. */
function recorded(doc: DocumentRecord): unknown {
  return {
    ...doc,
    layers: Object.fromEntries(
      Object.entries(doc.layers).map(([id, layer]) => [id, { ...layer, status: undefined }]),
    ),
  };
}

function names(session: DocumentSession): string[] {
  return session.doc.order.map((id) => session.layer(id).name);
}

/** Undo `n` steps and redo them again; returns the records and pixels before and after. */
async function undoRedo(session: DocumentSession, n: number) {
  const before = { doc: recorded(session.doc), pixels: [...(await session.compositeBelow(null)).data] };
  for (let i = 0; i < n; i++) expect(session.undo()).toBe(true);
  for (let i = 0; i < n; i++) expect(session.redo()).toBe(true);
  const after = { doc: recorded(session.doc), pixels: [...(await session.compositeBelow(null)).data] };
  return { before, after };
}

describe('history with layers that have no result yet', () => {
  it('undo/redo keeps the layer order when result-less layers sit between recorded ones (sequence 1)', async () => {
    const session = open();
    const a = session.enqueue(settings('A', { textGuidance: 2 }));
    session.cancel(a.jobId);
    await session.idle();
    const b = session.enqueue(settings('B', { textGuidance: 3 }));
    await session.idle();
    session.enqueue(settings('A', { textGuidance: 2 }), { rerunOf: a.layerId });
    await session.idle();
    const c = session.enqueue(settings('C'));
    session.cancel(c.jobId);
    await session.idle();
    expect(session.doc.order).toEqual([a.layerId, b.layerId, c.layerId]);

    const { before, after } = await undoRedo(session, 2);
    expect(names(session)).toEqual(['A', 'B', 'C']);
    expect(after).toEqual(before);
    expect(after.pixels[0]).toBe(10 + 1 + 3); // B ran on the base alone (seed 1: +1, guidance +3)
  });

  it('re-run stale skips layers already queued or running and says what it did (sequence 2)', async () => {
    const gate = new EngineGate(true);
    const session = open({ gate });
    const a = session.enqueue(settings('A', { textGuidance: 1 }));
    const b = session.enqueue(settings('B', { textGuidance: 2 }));
    await session.idle();
    gate.close();
    const c = session.enqueue(settings('C'));
    expect(session.layer(c.layerId).status.state).toBe('queued');
    // Only the queued layer needs a run: nothing to do (this threw “already queued or running”).
    expect(await session.rerunStale()).toEqual({
      rerun: [],
      skipped: [{ layerId: c.layerId, reason: 'already queued or running' }],
    });

    // A re-run of A makes B and C stale; D (held) moves below them.
    gate.open();
    await session.waitFor(c.jobId);
    await session.waitFor(session.enqueue(settings('A', { textGuidance: 4 }), { rerunOf: a.layerId }).jobId);
    gate.close();
    const d = session.enqueue(settings('D'));
    session.apply({ type: 'move-layer', layerId: d.layerId, toIndex: 1 });
    expect(names(session)).toEqual(['A', 'D', 'B', 'C']);
    const report = session.rerunStale();
    gate.open();
    expect(await report).toEqual({
      rerun: [
        { layerId: b.layerId, outcome: 'done' },
        { layerId: c.layerId, outcome: 'done' },
      ],
      skipped: [{ layerId: d.layerId, reason: 'already queued or running' }],
    });
    expect(session.layer(b.layerId).variants).toHaveLength(2);
    expect(session.layer(d.layerId).variants).toHaveLength(1);
  });

  it('the first result of a duplicated result-less layer is an update: undo keeps the copy (sequence 3)', async () => {
    const session = open();
    const a = session.enqueue(settings('A'));
    session.cancel(a.jobId);
    await session.idle();
    expect(session.apply({ type: 'duplicate-layer', layerId: a.layerId, newId: 'copy' })).toBe(true);
    session.enqueue(settings('A', { textGuidance: 5 }), { rerunOf: 'copy' });
    await session.idle();
    expect(session.layer('copy').variants).toHaveLength(1);
    expect(session.history.list()).toEqual({ labels: ['Duplicate “A”', 'Re-run “A”'], done: 2 });

    expect(session.undo()).toBe(true); // the result goes; the copy stays, as it was before the run
    expect(session.layer('copy').variants).toEqual([]);
    expect(session.layer('copy').failure).toBe(CANCELLED_FAILURE);
    expect(session.undo()).toBe(true); // the duplicate goes
    expect(session.doc.layers['copy']).toBeUndefined();
    expect(session.undo()).toBe(false);
    expect(session.redo()).toBe(true);
    expect(session.layer('copy').variants).toEqual([]);
    expect(session.redo()).toBe(true);
    expect(session.layer('copy').variants).toHaveLength(1);
    expect((await session.compositeBelow(null)).data[0]).toBe(10 + 1 + 5);
  });

  it('a re-run’s settings and failure survive undo/redo: they are recorded (sequence 4)', async () => {
    const session = open({ failWhen: (s) => (s.seed === 42 ? 'boom' : null) });
    const a = session.enqueue(settings('A'));
    session.cancel(a.jobId);
    await session.idle();
    session.apply({ type: 'duplicate-layer', layerId: a.layerId, newId: 'copy' });
    // A failed re-run of the recorded, result-less copy: its settings and message are recorded.
    expect(
      await session.waitFor(session.enqueue(settings('A', { seed: 42 }), { rerunOf: 'copy' }).jobId),
    ).toBe('failed');
    expect(session.layer('copy').request.seed).toBe(42);
    expect(session.layer('copy').failure).toBe('boom');
    let { before, after } = await undoRedo(session, session.history.list().done);
    expect(after).toEqual(before);
    expect(session.layer('copy').failure).toBe('boom');
    expect(session.layer('copy').request.seed).toBe(42);

    // A failed re-run of a layer with a result: the message stays through undo/redo.
    const b = session.enqueue(settings('B'));
    await session.idle();
    expect(
      await session.waitFor(session.enqueue(settings('B', { seed: 42 }), { rerunOf: b.layerId }).jobId),
    ).toBe('failed');
    expect(session.layer(b.layerId).failure).toBe('boom');
    ({ before, after } = await undoRedo(session, session.history.list().done));
    expect(after).toEqual(before);
    expect(session.layer(b.layerId).failure).toBe('boom');
    expect(session.layer(b.layerId).status).toEqual({ state: 'failed', reason: 'boom' });
    // Undoing the failure step alone brings back the layer as it was before that run.
    session.undo();
    expect(session.layer(b.layerId).failure).toBeNull();
    expect(session.layer(b.layerId).request.seed).toBe(1);
  });

  it('cancelling a queued re-run leaves the layer as it was', async () => {
    const session = open({ stepDelayMs: 5 });
    const a = session.enqueue(settings('A'));
    session.cancel(a.jobId);
    await session.idle();
    const pending = recorded(session.doc);
    const blocker = session.enqueue(settings('B', { steps: 3 }));
    const rerun = session.enqueue(settings('A', { seed: 9 }), { rerunOf: a.layerId });
    expect(session.jobPhases().get(a.layerId)?.phase).toBe('queued');
    session.cancel(rerun.jobId);
    expect(session.jobPhases().has(a.layerId)).toBe(false);
    expect(session.layer(a.layerId).status.state).toBe('failed');
    expect(session.layer(a.layerId).request.seed).toBe(1);
    session.cancel(blocker.jobId);
    await session.idle();
    const after = recorded(session.doc) as { layers: Record<string, unknown>; order: string[] };
    const expected = pending as { layers: Record<string, unknown>; order: string[] };
    expect(after.layers[a.layerId]).toEqual(expected.layers[a.layerId]);
    expect(session.history.list()).toEqual({ labels: [], done: 0 });
  });
});

describe('a job’s source', () => {
  it('is the composite of the records when it was asked for, even if they change while pixels load', async () => {
    const session = open();
    const { layerId } = session.enqueue(settings('A', { textGuidance: 3 }));
    await session.idle();
    const composite = session.compositeBelow(null);
    session.apply({ type: 'set-visibility', layerId, visible: false });
    expect((await composite).data[0]).toBe(10 + 1 + 3);
    expect((await session.compositeBelow(null)).data[0]).toBe(10);
  });
});

describe('the session refuses bad input itself', () => {
  it('refuses a mask of the wrong size or channels, with no history entry', async () => {
    const session = open();
    const { layerId } = session.enqueue(settings('A'));
    await session.idle();
    const before = session.doc;
    const small = session.store.putGray({ width: 8, height: 12, data: new Uint8Array(8 * 12) });
    expect(() => session.apply({ type: 'set-mask', layerId, mask: small, how: 'paint' })).toThrow(
      /mask must be 16×12 grey pixels, got 8×12/,
    );
    const rgb = session.store.putRgb(picture());
    expect(() => session.apply({ type: 'set-mask', layerId, mask: rgb, how: 'set' })).toThrow(
      /mask must be 16×12 grey pixels, got 16×12 RGB/,
    );
    expect(() => session.apply({ type: 'set-mask', layerId, mask: 'f'.repeat(64), how: 'paint' })).toThrow(
      /mask's pixels are not in the document/,
    );
    expect(session.doc).toBe(before);
    expect(session.history.list()).toEqual({ labels: ['Edit “A”'], done: 1 });
    const good = session.store.putGray({ width: 16, height: 12, data: new Uint8Array(16 * 12) });
    expect(session.apply({ type: 'set-mask', layerId, mask: good, how: 'paint' })).toBe(true);
  });

  it('refuses an empty or whitespace instruction, adding no layer', async () => {
    const session = open();
    for (const instruction of ['', '   ', '\n\t']) {
      expect(() => session.enqueue(settings(instruction))).toThrow(/instruction is empty/);
    }
    const { layerId } = session.enqueue(settings('A'));
    await session.idle();
    expect(() => session.enqueue(settings(' '), { rerunOf: layerId })).toThrow(/instruction is empty/);
    expect(session.doc.order).toEqual([layerId]);
    expect(session.jobPhases().size).toBe(0);
    expect(session.history.list().labels).toHaveLength(1);
  });
});
