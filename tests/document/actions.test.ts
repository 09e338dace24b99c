import { describe, expect, it } from 'vitest';
import { invertMask, paintDabs } from '../../src/main/document/composite';
import { PixelStore } from '../../src/main/document/pixel-store';
import {
  actionLabel,
  applyAction,
  applyDiff,
  DocumentActionError,
  History,
  isEmptyDiff,
  planAction,
  type DocumentAction,
  type DocumentDiff,
  type DocumentRecord,
  type HistoryEntry,
  type Layer,
} from '../../src/shared/document';
import { deepFreeze, editLayer, emptyDocument, ranLayer, ref, variant } from './record-fixtures';

/** The app's loop in miniature: actions through the reducer, diffs into History, undo/redo replayed. */
class Session {
  readonly history: History;
  /** Every entry pushed, in order (the same objects History holds). */
  readonly pushed: HistoryEntry[] = [];
  private clock = 0;

  constructor(
    public doc: DocumentRecord,
    limit?: number,
  ) {
    this.history = new History(limit);
    deepFreeze(this.doc);
  }

  act(action: DocumentAction): DocumentDiff {
    const label = actionLabel(this.doc, action);
    const { doc, diff } = applyAction(this.doc, action);
    const entry: HistoryEntry = { label, type: action.type, diff, at: ++this.clock };
    this.history.push(entry);
    this.pushed.push(entry);
    // Frozen: a later reducer step that changed an earlier state in place would throw.
    this.doc = deepFreeze(doc);
    return diff;
  }

  /** An action outside history (the job runner's bookkeeping). */
  apply(action: DocumentAction): void {
    this.doc = deepFreeze(applyAction(this.doc, action).doc);
  }

  undo(): void {
    const step = this.history.undo();
    if (!step) throw new Error('nothing to undo');
    this.doc = deepFreeze(applyDiff(this.doc, step.diff));
  }

  redo(): void {
    const step = this.history.redo();
    if (!step) throw new Error('nothing to redo');
    this.doc = deepFreeze(applyDiff(this.doc, step.diff));
  }
}

const W = 16;
const H = 12;

/** base → A ("make the dragon red") → B ("put it in a cave"). */
function twoLayerDoc(): DocumentRecord {
  let doc = emptyDocument(W, H);
  const a = ranLayer(doc, 'A', 'make the dragon red');
  doc = { ...doc, layers: { A: a }, order: ['A'] };
  const b = ranLayer(doc, 'B', 'put it in a cave');
  return { ...doc, layers: { A: a, B: b }, order: ['A', 'B'] };
}

function withLayer(doc: DocumentRecord, layer: Layer, order: readonly string[] = doc.order): DocumentRecord {
  return { ...doc, layers: { ...doc.layers, [layer.id]: layer }, order };
}

function layerOf(doc: DocumentRecord, id: string): Layer {
  const layer = doc.layers[id];
  if (!layer) throw new Error(`test setup: no layer ${id}`);
  return layer;
}

/** Applies `action`, expects exactly `expected`, then checks undo gives the old state back and redo the new. */
function roundTrip(session: Session, action: DocumentAction, expected: DocumentRecord): DocumentDiff {
  const before = structuredClone(session.doc);
  const doneBefore = session.history.list().done;
  const diff = session.act(action);
  expect(session.doc).toStrictEqual(expected);
  expect(session.history.list().done).toBe(doneBefore + 1);
  session.undo();
  expect(session.doc).toStrictEqual(before);
  expect(session.history.canRedo).toBe(true);
  session.redo();
  expect(session.doc).toStrictEqual(expected);
  expect(session.history.canRedo).toBe(false);
  return diff;
}

/** Every ArrayBuffer view (Uint8Array, Buffer…) reachable from `value`. */
function typedArraysIn(value: unknown, seen = new Set<unknown>()): number {
  if (typeof value !== 'object' || value === null || seen.has(value)) return 0;
  seen.add(value);
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return 1;
  let n = 0;
  for (const key of Reflect.ownKeys(value))
    n += typedArraysIn((value as Record<string | symbol, unknown>)[key], seen);
  return n;
}

describe('document actions through History', () => {
  it('records, undoes and redoes every action exactly, with hash-only diffs', async () => {
    const store = new PixelStore();
    const session = new Session(twoLayerDoc());
    const initial = structuredClone(session.doc);
    const states: DocumentRecord[] = [initial];
    const step = (action: DocumentAction, expected: DocumentRecord): DocumentDiff => {
      const diff = roundTrip(session, action, expected);
      states.push(structuredClone(session.doc));
      return diff;
    };
    const A = (): Layer => layerOf(session.doc, 'A');
    const B = (): Layer => layerOf(session.doc, 'B');

    // Add an edit on top.
    const c = ranLayer(session.doc, 'C', 'add snow');
    let diff = step({ type: 'add-edit', layer: c }, withLayer(session.doc, c, ['A', 'B', 'C']));
    expect(diff).toStrictEqual({
      layers: { C: { before: null, after: c } },
      order: [{ op: 'insert', id: 'C', below: ['A', 'B'] }],
    });

    // Add an edit at an index (the bottom).
    const d = editLayer('D', 'sharpen', []);
    step({ type: 'add-edit', layer: d, index: 0 }, withLayer(session.doc, d, ['D', 'A', 'B', 'C']));

    // Re-run A: the new variant is kept beside the old one and becomes active.
    const a1 = layerOf(session.doc, 'A').variants[0];
    if (!a1) throw new Error('test setup: A has no variant');
    const a2 = variant('A', 'v2', 'make the dragon red', a1.sourceParts, 7, 2000);
    diff = step(
      { type: 'add-variant', layerId: 'A', variant: a2, activate: true },
      withLayer(session.doc, { ...A(), variants: [a1, a2], activeVariantId: 'v2', request: a2.request }),
    );
    expect(Object.keys(diff.layers)).toEqual(['A']);
    expect(diff.layers.A?.after).toStrictEqual({
      variants: [a1, a2],
      activeVariantId: 'v2',
      request: a2.request,
    });
    expect(diff.layers.A?.before).toStrictEqual({
      variants: [a1],
      activeVariantId: 'v1',
      request: a1.request,
    });

    // A third variant kept in the background (not activated).
    const a3 = variant('A', 'v3', 'make the dragon red', a1.sourceParts, 9, 3000);
    step(
      { type: 'add-variant', layerId: 'A', variant: a3, activate: false },
      withLayer(session.doc, { ...A(), variants: [a1, a2, a3] }),
    );
    expect(A().activeVariantId).toBe('v2');

    // Pick the first variant back.
    step(
      { type: 'pick-variant', layerId: 'A', variantId: 'v1' },
      withLayer(session.doc, { ...A(), activeVariantId: 'v1', request: a1.request }),
    );

    // Hide, rename, opacity, blend mode.
    step(
      { type: 'set-visibility', layerId: 'B', visible: false },
      withLayer(session.doc, { ...B(), visible: false }),
    );
    step(
      { type: 'rename-layer', layerId: 'B', name: '  Cave  ' },
      withLayer(session.doc, { ...B(), name: 'Cave' }),
    );
    diff = step(
      { type: 'set-opacity', layerId: 'A', opacity: 0.5 },
      withLayer(session.doc, { ...A(), opacity: 0.5 }),
    );
    expect(diff).toStrictEqual({
      layers: { A: { before: { opacity: 1 }, after: { opacity: 0.5 } } },
      order: [],
    });
    step(
      { type: 'set-blend-mode', layerId: 'A', blendMode: 'multiply' },
      withLayer(session.doc, { ...A(), blendMode: 'multiply' }),
    );

    // Masks: set, paint, invert, clear; each is the new mask's hash.
    const set = paintDabs(null, W, H, [{ x: 4, y: 4, radius: 3 }], 0);
    const setRef = store.putGray(set);
    diff = step(
      { type: 'set-mask', layerId: 'A', mask: setRef, how: 'set' },
      withLayer(session.doc, { ...A(), mask: setRef }),
    );
    expect(diff).toStrictEqual({
      layers: { A: { before: { mask: null }, after: { mask: setRef } } },
      order: [],
    });
    const painted = paintDabs(set, W, H, [{ x: 12, y: 8, radius: 2, hardness: 0.5 }], 0);
    const paintedRef = store.putGray(painted);
    expect(paintedRef).not.toBe(setRef);
    step(
      { type: 'set-mask', layerId: 'A', mask: paintedRef, how: 'paint' },
      withLayer(session.doc, { ...A(), mask: paintedRef }),
    );
    const invertedRef = store.putGray(invertMask(await store.getGray(paintedRef), W, H));
    step(
      { type: 'set-mask', layerId: 'A', mask: invertedRef, how: 'invert' },
      withLayer(session.doc, { ...A(), mask: invertedRef }),
    );
    step(
      { type: 'set-mask', layerId: 'A', mask: null, how: 'clear' },
      withLayer(session.doc, { ...A(), mask: null }),
    );
    // Undo twice: the inverted mask is back, and its pixels still come from the store by hash.
    session.undo();
    expect(A().mask).toBe(invertedRef);
    expect(Array.from((await store.getGray(invertedRef)).data)).toEqual(
      Array.from(painted.data, (v) => 255 - v),
    );
    session.undo();
    expect(A().mask).toBe(paintedRef);
    session.redo();
    session.redo();
    expect(A().mask).toBeNull();

    // Reorder: C to the bottom.
    diff = step(
      { type: 'move-layer', layerId: 'C', toIndex: 0 },
      { ...session.doc, order: ['C', 'D', 'A', 'B'] },
    );
    expect(diff).toStrictEqual({
      layers: {},
      order: [{ op: 'move', id: 'C', from: ['D', 'A', 'B'], to: [] }],
    });
    step({ type: 'move-layer', layerId: 'D', toIndex: 3 }, { ...session.doc, order: ['C', 'A', 'B', 'D'] });

    // Duplicate A: right above it, sharing its variants (by hash) and settings.
    const copy: Layer = { ...A(), id: 'A-copy', name: 'make the dragon red copy' };
    step(
      { type: 'duplicate-layer', layerId: 'A', newId: 'A-copy' },
      withLayer(session.doc, copy, ['C', 'A', 'A-copy', 'B', 'D']),
    );
    step(
      { type: 'duplicate-layer', layerId: 'C', newId: 'C2', name: 'Snow again' },
      withLayer(session.doc, { ...layerOf(session.doc, 'C'), id: 'C2', name: 'Snow again' }, [
        'C',
        'C2',
        'A',
        'A-copy',
        'B',
        'D',
      ]),
    );

    // Delete: the whole record goes into the diff, so undo puts it back where it was.
    const removed = layerOf(session.doc, 'A');
    const { A: _gone, ...rest } = session.doc.layers;
    diff = step(
      { type: 'delete-layer', layerId: 'A' },
      { ...session.doc, layers: rest, order: ['C', 'C2', 'A-copy', 'B', 'D'] },
    );
    expect(diff).toStrictEqual({
      layers: { A: { before: removed, after: null } },
      order: [{ op: 'remove', id: 'A', below: ['C', 'C2'] }],
    });

    // The whole history walks back to the start and forward to the end, state by state.
    const { labels, done } = session.history.list();
    expect(done).toBe(states.length - 1);
    expect(labels[0]).toBe('Edit “add snow”');
    expect(labels).toContain('Hide “put it in a cave”');
    expect(labels).toContain('Invert mask of “make the dragon red”');
    expect(labels.at(-1)).toBe('Delete “make the dragon red”');
    for (let i = states.length - 2; i >= 0; i--) {
      session.undo();
      expect(session.doc).toStrictEqual(states[i]);
    }
    expect(session.history.canUndo).toBe(false);
    expect(session.history.undo()).toBeNull();
    for (let i = 1; i < states.length; i++) {
      session.redo();
      expect(session.doc).toStrictEqual(states[i]);
    }
    expect(session.history.redo()).toBeNull();

    // History holds diffs with hashes only: no pixel buffers, no whole-document snapshots.
    expect(typedArraysIn(session.history)).toBe(0);
    const json = JSON.stringify(session.history);
    expect(json).not.toContain(session.doc.base.pixels); // the base never changed, so it is in no diff
    const entries = session.pushed;
    expect(entries).toHaveLength(states.length - 1);
    expect(json.length).toBeLessThan(entries.reduce((n, e) => n + JSON.stringify(e).length, 0) + 200);
    const docSize = JSON.stringify(session.doc).length;
    for (const entry of entries) {
      const size = JSON.stringify(entry).length;
      // One layer per entry, and never anything like the whole document.
      expect(Object.keys(entry.diff.layers).length, entry.type).toBeLessThanOrEqual(1);
      expect(size, entry.type).toBeLessThan(docSize / 2);
      // Entries that only change fields hold just those fields.
      if (!['add-edit', 'add-variant', 'duplicate-layer', 'delete-layer'].includes(entry.type)) {
        expect(size, entry.type).toBeLessThan(700);
      }
    }
    for (const hash of [setRef, paintedRef, invertedRef]) expect(json).toContain(hash);
  });

  it('re-running clears a failure; set-failure works outside history and undo leaves it alone', () => {
    const session = new Session(twoLayerDoc());
    session.act({ type: 'set-opacity', layerId: 'B', opacity: 0.25 });
    session.apply({ type: 'set-failure', layerId: 'B', failure: 'out of memory' });
    expect(session.history.list().labels).toEqual(['Opacity of “put it in a cave”']);
    session.undo();
    expect(layerOf(session.doc, 'B')).toMatchObject({ opacity: 1, failure: 'out of memory' });

    const v2 = variant('B', 'v2', 'put it in a cave', ['base@x'], 3);
    session.act({ type: 'add-variant', layerId: 'B', variant: v2, activate: true });
    expect(layerOf(session.doc, 'B')).toMatchObject({ failure: null, activeVariantId: 'v2' });
    session.undo();
    expect(layerOf(session.doc, 'B')).toMatchObject({ failure: 'out of memory', activeVariantId: 'v1' });
  });

  it('a patch for a layer deleted outside history is skipped, never resurrecting a partial record', () => {
    const session = new Session(twoLayerDoc());
    session.act({ type: 'rename-layer', layerId: 'B', name: 'Cave' });
    session.apply({ type: 'delete-layer', layerId: 'B' });
    session.undo();
    expect(session.doc.layers.B).toBeUndefined();
    expect(session.doc.order).toEqual(['A']);
    session.redo();
    expect(session.doc.layers.B).toBeUndefined();
  });

  it('a new action after undo drops the redo branch; the limit drops the oldest entries', () => {
    const session = new Session(twoLayerDoc(), 3);
    session.act({ type: 'rename-layer', layerId: 'A', name: 'one' });
    session.act({ type: 'rename-layer', layerId: 'A', name: 'two' });
    session.undo();
    expect(session.history.redoLabel).toBe('Rename “one”');
    session.act({ type: 'set-visibility', layerId: 'A', visible: false });
    expect(session.history.canRedo).toBe(false);
    expect(session.history.list()).toEqual({
      labels: ['Rename “make the dragon red”', 'Hide “one”'],
      done: 2,
    });
    session.act({ type: 'set-opacity', layerId: 'A', opacity: 0.1 });
    session.act({ type: 'set-opacity', layerId: 'A', opacity: 0.2 });
    expect(session.history.list()).toEqual({
      labels: ['Hide “one”', 'Opacity of “one”', 'Opacity of “one”'],
      done: 3,
    });
    expect(session.history.undoLabel).toBe('Opacity of “one”');
    session.history.clear();
    expect(session.history.list()).toEqual({ labels: [], done: 0 });
  });

  it('no-op actions plan empty diffs', () => {
    const doc = deepFreeze(twoLayerDoc());
    const noops: DocumentAction[] = [
      { type: 'pick-variant', layerId: 'A', variantId: 'v1' },
      { type: 'set-visibility', layerId: 'A', visible: true },
      { type: 'set-opacity', layerId: 'A', opacity: 1 },
      { type: 'move-layer', layerId: 'B', toIndex: 1 },
      { type: 'rename-layer', layerId: 'A', name: 'make the dragon red' },
      { type: 'set-mask', layerId: 'A', mask: null, how: 'clear' },
    ];
    for (const action of noops) expect(isEmptyDiff(planAction(doc, action)), action.type).toBe(true);
  });

  describe('invalid actions throw DocumentActionError and change nothing', () => {
    const cases: [DocumentAction, 'not-found' | 'invalid', RegExp][] = [
      [{ type: 'set-opacity', layerId: 'nope', opacity: 0.5 }, 'not-found', /No layer with id "nope"/],
      [{ type: 'delete-layer', layerId: 'nope' }, 'not-found', /No layer with id "nope"/],
      [{ type: 'move-layer', layerId: 'nope', toIndex: 0 }, 'not-found', /No layer with id "nope"/],
      [
        { type: 'set-mask', layerId: 'nope', mask: null, how: 'clear' },
        'not-found',
        /No layer with id "nope"/,
      ],
      [
        { type: 'set-opacity', layerId: 'A', opacity: 1.5 },
        'invalid',
        /Opacity must be from 0 to 1, got 1\.5/,
      ],
      [
        { type: 'set-opacity', layerId: 'A', opacity: -0.1 },
        'invalid',
        /Opacity must be from 0 to 1, got -0\.1/,
      ],
      [
        { type: 'set-opacity', layerId: 'A', opacity: Number.NaN },
        'invalid',
        /Opacity must be from 0 to 1, got NaN/,
      ],
      [{ type: 'pick-variant', layerId: 'A', variantId: 'v9' }, 'not-found', /Layer A has no variant v9/],
      [{ type: 'move-layer', layerId: 'A', toIndex: 2 }, 'invalid', /Layer index 2 is outside 0\.\.1/],
      [{ type: 'move-layer', layerId: 'A', toIndex: 0.5 }, 'invalid', /Layer index 0\.5 is outside 0\.\.1/],
      [
        { type: 'rename-layer', layerId: 'A', name: '   ' },
        'invalid',
        /A layer name needs 1 to 1000 characters/,
      ],
      [
        { type: 'set-blend-mode', layerId: 'A', blendMode: 'overlay' as never },
        'invalid',
        /Unknown blend mode "overlay"/,
      ],
      [
        {
          type: 'add-variant',
          layerId: 'A',
          variant: variant('A', 'v1', 'again', ['base@x']),
          activate: true,
        },
        'invalid',
        /Layer A already has a variant v1/,
      ],
      [{ type: 'duplicate-layer', layerId: 'A', newId: 'B' }, 'invalid', /Layer id B is taken/],
      [
        { type: 'add-edit', layer: editLayer('Z', 'z', []), index: 3 },
        'invalid',
        /Layer index 3 is outside 0\.\.2/,
      ],
    ];
    it.each(cases)('%j', (action, code, message) => {
      const session = new Session(twoLayerDoc());
      session.act({ type: 'rename-layer', layerId: 'B', name: 'Cave' });
      const before = structuredClone(session.doc);
      const historyBefore = session.history.list();
      const docRef = session.doc;
      let caught: unknown;
      try {
        session.act(action);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(DocumentActionError);
      expect(caught).toMatchObject({ name: 'DocumentActionError', code });
      expect((caught as Error).message).toMatch(message);
      expect(session.doc).toBe(docRef);
      expect(session.doc).toStrictEqual(before);
      expect(session.history.list()).toEqual(historyBefore);
      // The history still undoes the last valid action.
      session.undo();
      expect(layerOf(session.doc, 'B').name).toBe('put it in a cave');
    });
  });

  it('diffs stay the same size whatever the picture size (hashes, not pixels)', () => {
    const small = twoLayerDoc();
    const huge = { ...twoLayerDoc(), width: 20_000, height: 15_000 };
    const mask = ref('some mask');
    for (const doc of [small, huge]) {
      const diff = planAction(doc, { type: 'set-mask', layerId: 'A', mask, how: 'paint' });
      expect(JSON.stringify(diff).length).toBeLessThan(200);
    }
  });
});
