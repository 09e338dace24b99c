/**
 * Staleness at scale: a document's statuses are computed from one walk of its stack, so the work
 * grows linearly with the layer count (it was quadratic: 10,000 layers took seconds per action).
 * Counted, not timed: how often the layer records are read for one withStatuses().
 */
import { describe, expect, it } from 'vitest';
import { staleLayerIds, withStatuses, type DocumentRecord, type Layer } from '../../src/shared/document';
import { emptyDocument, ranLayer } from '../document/record-fixtures';

const LAYERS = 1000;

/** A document of `n` edit layers, each run on the stack below it (all fresh). */
function tallDocument(n: number): DocumentRecord {
  let doc = emptyDocument();
  for (let i = 0; i < n; i++) {
    const id = `L${i}`;
    const layer = ranLayer(doc, id, `Layer ${i}`);
    doc = { ...doc, layers: { ...doc.layers, [id]: layer }, order: [...doc.order, id] };
  }
  return doc;
}

/** The document with its layers record counting every read (get, own-property checks, `in`). */
function counted(doc: DocumentRecord): { doc: DocumentRecord; reads: () => number } {
  let reads = 0;
  const layers = new Proxy(doc.layers as Record<string, Layer>, {
    get(target, key, receiver) {
      reads++;
      return Reflect.get(target, key, receiver);
    },
    getOwnPropertyDescriptor(target, key) {
      reads++;
      return Reflect.getOwnPropertyDescriptor(target, key);
    },
    has(target, key) {
      reads++;
      return Reflect.has(target, key);
    },
  });
  return { doc: { ...doc, layers }, reads: () => reads };
}

describe('staleness scales linearly with the layer count', () => {
  const tall = tallDocument(LAYERS);

  it(`reads each of ${LAYERS} fresh layers a bounded number of times`, () => {
    const { doc, reads } = counted(tall);
    const result = withStatuses(doc);
    expect(result).toBe(doc);
    expect(reads()).toBeLessThan(6 * LAYERS);
  });

  it('marks every layer above a changed one stale, with the reason, in linear work', () => {
    const bottom = tall.layers.L0!;
    const changed = { ...tall, layers: { ...tall.layers, L0: { ...bottom, opacity: 0.5 } } };
    const { doc, reads } = counted(changed);
    const result = withStatuses(doc);
    expect(reads()).toBeLessThan(10 * LAYERS);
    expect(result.layers.L0!.status).toEqual({ state: 'fresh', reason: null });
    for (const id of ['L1', 'L500', `L${LAYERS - 1}`])
      expect(result.layers[id]!.status).toEqual({
        state: 'stale',
        reason: '“Layer 0” changed since this layer ran',
      });
    expect(staleLayerIds(changed)).toHaveLength(LAYERS - 1);

    // A layer in the middle hidden: the ones above it say it no longer shows; the ones below stay fresh.
    const middle = tall.layers.L500!;
    const hidden = { ...tall, layers: { ...tall.layers, L500: { ...middle, visible: false } } };
    const statuses = withStatuses(hidden);
    expect(statuses.layers.L499!.status.state).toBe('fresh');
    expect(statuses.layers.L501!.status).toEqual({
      state: 'stale',
      reason: '“Layer 500” no longer shows below this layer',
    });
    expect(staleLayerIds(hidden)).toEqual(Array.from({ length: LAYERS - 501 }, (_, i) => `L${501 + i}`));
  });
});
