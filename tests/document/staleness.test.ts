import { describe, expect, it } from 'vitest';
import {
  applyAction,
  applyDiff,
  computeStatus,
  History,
  layerPart,
  opacityByte,
  sourceParts,
  staleLayerIds,
  staleReason,
  withStatuses,
  type DocumentAction,
  type DocumentRecord,
  type Layer,
  type LayerStatus,
} from '../../src/shared/document';
import { deepFreeze, emptyDocument, ranLayer, ref, variant } from './record-fixtures';

const RED = 'make the dragon red';
const CAVE = 'put it in a cave';
const SNOW = 'add snow';

function act(doc: DocumentRecord, action: DocumentAction): DocumentRecord {
  return withStatuses(applyAction(doc, action).doc);
}

/** Runs a new layer on top of the current stack. */
function addRan(doc: DocumentRecord, id: string, name: string): DocumentRecord {
  return act(doc, { type: 'add-edit', layer: ranLayer(doc, id, name) });
}

/** base → A (make the dragon red) → B (put it in a cave, source = base+A) → C (add snow). */
function chain(): DocumentRecord {
  let doc = emptyDocument();
  doc = addRan(doc, 'A', RED);
  doc = addRan(doc, 'B', CAVE);
  doc = addRan(doc, 'C', SNOW);
  return deepFreeze(doc);
}

let seed = 100;
/** A re-run of `id` on the current stack: a new active variant recording today's source parts. */
function rerun(doc: DocumentRecord, id: string): DocumentRecord {
  const layer = layer$(doc, id);
  const v = variant(
    id,
    `v${layer.variants.length + 1}`,
    layer.request.instruction,
    sourceParts(doc, id),
    ++seed,
  );
  return act(doc, { type: 'add-variant', layerId: id, variant: v, activate: true });
}

function layer$(doc: DocumentRecord, id: string): Layer {
  const layer = doc.layers[id];
  if (!layer) throw new Error(`test setup: no layer ${id}`);
  return layer;
}

function statuses(doc: DocumentRecord): Record<string, LayerStatus> {
  return Object.fromEntries(doc.order.map((id) => [id, layer$(doc, id).status]));
}

const fresh: LayerStatus = { state: 'fresh', reason: null };
const stale = (reason: string): LayerStatus => ({ state: 'stale', reason });
const changed = (name: string): LayerStatus => stale(`“${name}” changed since this layer ran`);

describe('staleness of a 3-step chain', () => {
  it('starts fresh, with the source parts each layer ran on', () => {
    const doc = chain();
    expect(statuses(doc)).toEqual({ A: fresh, B: fresh, C: fresh });
    expect(staleLayerIds(doc)).toEqual([]);
    const base = `base@${ref('base').slice(0, 16)}`;
    const aPart = `A@${ref('A/v1/pixels').slice(0, 16)}/255/normal/-`;
    const bPart = `B@${ref('B/v1/pixels').slice(0, 16)}/255/normal/-`;
    expect(layer$(doc, 'A').variants[0]?.sourceParts).toEqual([base]);
    expect(layer$(doc, 'B').variants[0]?.sourceParts).toEqual([base, aPart]);
    expect(layer$(doc, 'C').variants[0]?.sourceParts).toEqual([base, aPart, bPart]);
    expect(sourceParts(doc, null)).toEqual([
      base,
      aPart,
      bPart,
      `C@${ref('C/v1/pixels').slice(0, 16)}/255/normal/-`,
    ]);
  });

  it('re-running A marks B and C stale; picking the old variant back makes them fresh again', () => {
    let doc = rerun(chain(), 'A');
    expect(layer$(doc, 'A').activeVariantId).toBe('v2');
    expect(layer$(doc, 'A').variants.map((v) => v.id)).toEqual(['v1', 'v2']);
    expect(statuses(doc)).toEqual({ A: fresh, B: changed(RED), C: changed(RED) });
    expect(staleLayerIds(doc)).toEqual(['B', 'C']);

    doc = act(doc, { type: 'pick-variant', layerId: 'A', variantId: 'v1' });
    expect(statuses(doc)).toEqual({ A: fresh, B: fresh, C: fresh });
    expect(staleLayerIds(doc)).toEqual([]);

    doc = act(doc, { type: 'pick-variant', layerId: 'A', variantId: 'v2' });
    expect(staleLayerIds(doc)).toEqual(['B', 'C']);
  });

  it('re-running the stale layers bottom first, in staleLayerIds order, makes the stack fresh in one pass', () => {
    let doc = rerun(chain(), 'A');
    const order = staleLayerIds(doc);
    expect(order).toEqual(['B', 'C']);
    for (const id of order) doc = rerun(doc, id);
    expect(staleLayerIds(doc)).toEqual([]);
    expect(statuses(doc)).toEqual({ A: fresh, B: fresh, C: fresh });

    // Top first would not do: C re-run before B is stale again once B changes.
    let wrong = rerun(chain(), 'A');
    for (const id of [...staleLayerIds(wrong)].reverse()) wrong = rerun(wrong, id);
    expect(staleLayerIds(wrong)).toEqual(['C']);
    expect(layer$(wrong, 'C').status).toEqual(changed(CAVE));
  });

  it('hiding A, or changing its opacity, blend mode or mask, marks the layers above stale', () => {
    const doc = chain();
    const hidden = act(doc, { type: 'set-visibility', layerId: 'A', visible: false });
    const gone = stale(`“${RED}” no longer shows below this layer`);
    expect(statuses(hidden)).toEqual({ A: fresh, B: gone, C: gone });
    expect(statuses(act(hidden, { type: 'set-visibility', layerId: 'A', visible: true }))).toEqual({
      A: fresh,
      B: fresh,
      C: fresh,
    });

    const changes: DocumentAction[] = [
      { type: 'set-opacity', layerId: 'A', opacity: 0.5 },
      { type: 'set-blend-mode', layerId: 'A', blendMode: 'screen' },
      { type: 'set-mask', layerId: 'A', mask: ref('mask'), how: 'paint' },
    ];
    for (const action of changes) {
      const after = act(doc, action);
      expect(statuses(after), action.type).toEqual({ A: fresh, B: changed(RED), C: changed(RED) });
      expect(staleLayerIds(after)).toEqual(['B', 'C']);
    }
    // A different mask is a different source again.
    const masked = act(doc, { type: 'set-mask', layerId: 'A', mask: ref('mask'), how: 'set' });
    const repainted = act(masked, { type: 'set-mask', layerId: 'A', mask: ref('mask 2'), how: 'paint' });
    expect(layerPart(layer$(masked, 'A'))).not.toBe(layerPart(layer$(repainted, 'A')));
    expect(layerPart(layer$(masked, 'A'))).toBe(
      `A@${ref('A/v1/pixels').slice(0, 16)}/255/normal/${ref('mask').slice(0, 16)}`,
    );
  });

  it('opacity counts as composited, one byte: a change that rounds to the same byte changes nothing', () => {
    expect(opacityByte(0.999)).toBe(255);
    expect(opacityByte(0.5)).toBe(128);
    const doc = act(chain(), { type: 'set-opacity', layerId: 'A', opacity: 0.999 });
    expect(staleLayerIds(doc)).toEqual([]);
    expect(staleLayerIds(act(doc, { type: 'set-opacity', layerId: 'A', opacity: 0.997 }))).toEqual([
      'B',
      'C',
    ]);
  });

  it('changing B marks only C; changing C marks nothing below it', () => {
    const doc = chain();
    expect(statuses(rerun(doc, 'B'))).toEqual({ A: fresh, B: fresh, C: changed(CAVE) });
    const changesToC: DocumentAction[] = [
      { type: 'set-visibility', layerId: 'C', visible: false },
      { type: 'set-opacity', layerId: 'C', opacity: 0.3 },
      { type: 'set-mask', layerId: 'C', mask: ref('c mask'), how: 'set' },
      { type: 'set-blend-mode', layerId: 'C', blendMode: 'multiply' },
      { type: 'rename-layer', layerId: 'C', name: 'Snow' },
    ];
    for (const action of changesToC) expect(staleLayerIds(act(doc, action)), action.type).toEqual([]);
    expect(staleLayerIds(rerun(doc, 'C'))).toEqual([]);
  });

  it('a hidden layer changing does not make the layers above stale', () => {
    let doc = act(chain(), { type: 'set-visibility', layerId: 'A', visible: false });
    doc = rerun(rerun(doc, 'B'), 'C');
    expect(staleLayerIds(doc)).toEqual([]);
    doc = act(doc, { type: 'set-opacity', layerId: 'A', opacity: 0.2 });
    doc = rerun(doc, 'A');
    expect(statuses(doc)).toEqual({ A: fresh, B: fresh, C: fresh });
  });

  it('reordering and deleting', () => {
    const doc = chain();
    const moved = act(doc, { type: 'move-layer', layerId: 'C', toIndex: 1 });
    expect(moved.order).toEqual(['A', 'C', 'B']);
    expect(statuses(moved)).toEqual({
      A: fresh,
      C: stale(`“${CAVE}” no longer shows below this layer`),
      B: stale(`“${SNOW}” now shows below this layer`),
    });
    expect(staleLayerIds(moved)).toEqual(['C', 'B']);

    // A swap of two layers, both still below: reordered.
    const swapped = act(doc, { type: 'move-layer', layerId: 'B', toIndex: 0 });
    expect(layer$(swapped, 'C').status).toEqual(stale('the layers below were reordered'));

    // Deleting A, through History, and undoing it.
    const history = new History();
    const { doc: deleted, diff } = applyAction(doc, { type: 'delete-layer', layerId: 'A' });
    history.push({ label: 'Delete', type: 'delete-layer', diff, at: 1 });
    const afterDelete = withStatuses(deleted);
    const lost = stale('a layer below was deleted');
    expect(statuses(afterDelete)).toEqual({ B: lost, C: lost });
    const undo = history.undo();
    if (!undo) throw new Error('nothing to undo');
    const restored = withStatuses(applyDiff(afterDelete, undo.diff));
    expect(restored.order).toEqual(['A', 'B', 'C']);
    expect(statuses(restored)).toEqual({ A: fresh, B: fresh, C: fresh });
  });

  it('a new base image makes every layer stale; an unrun layer is "not run yet"', () => {
    const doc = chain();
    const rebased = withStatuses({ ...doc, base: { ...doc.base, pixels: ref('other base') } });
    const reason = stale('the base image changed');
    expect(statuses(rebased)).toEqual({ A: reason, B: reason, C: reason });

    const pending: Layer = { ...ranLayer(doc, 'P', 'pending'), variants: [], activeVariantId: null };
    const withPending = act(doc, { type: 'add-edit', layer: pending, index: 1 });
    expect(staleReason(withPending, layer$(withPending, 'P'))).toBe('not run yet');
    // An unrun layer adds nothing to the composite, so B and C stay fresh.
    expect(staleLayerIds(withPending)).toEqual(['P']);
  });

  it('status: a job phase first, then a failure, then stale or fresh; withStatuses keeps unchanged records', () => {
    const doc = rerun(chain(), 'A');
    const b = layer$(doc, 'B');
    expect(computeStatus(doc, b, 'running')).toEqual({ state: 'running', reason: null });
    expect(computeStatus(doc, b, 'queued')).toEqual({ state: 'queued', reason: null });
    const failed = act(doc, { type: 'set-failure', layerId: 'B', failure: 'out of memory' });
    expect(layer$(failed, 'B').status).toEqual({ state: 'failed', reason: 'out of memory' });
    // A failed layer without an up-to-date result is still one to re-run.
    expect(staleLayerIds(failed)).toEqual(['B', 'C']);

    const withJobs = withStatuses(doc, new Map([['C', 'queued' as const]]));
    expect(statuses(withJobs)).toEqual({ A: fresh, B: changed(RED), C: { state: 'queued', reason: null } });
    expect(withStatuses(doc)).toBe(doc);
    expect(withJobs.layers.A).toBe(doc.layers.A);
  });
});
