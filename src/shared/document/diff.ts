/**
 * Diffs between document states: forward and backward patches of records. A diff names, for each
 * layer it touches, the changed fields before and after (or the whole record when the layer was
 * created or deleted), and the changes to the layer order as operations. Undo applies the inverse.
 * Pixels are never inside a diff, only their hashes.
 */
import type { DocumentRecord, Layer } from './records';

export interface LayerChange {
  /** null: the layer did not exist before (then `after` is the whole record). */
  before: Partial<Layer> | null;
  /** null: the layer does not exist after (then `before` is the whole record). */
  after: Partial<Layer> | null;
}

/**
 * A change of the layer order. Positions are never indices: a layer is placed by the ids that were
 * below it when the change was recorded (bottom first), so replaying puts it right above the topmost
 * of those still there, whatever layers outside history (queued or failed first edits) came or went.
 */
export type OrderOp =
  | { op: 'insert'; id: string; below: string[] }
  | { op: 'remove'; id: string; below: string[] }
  | { op: 'move'; id: string; from: string[]; to: string[] };

export interface DocumentDiff {
  layers: Record<string, LayerChange>;
  order: OrderOp[];
}

/** Fields that are derived after every change and so never recorded in a diff. */
const DERIVED_FIELDS = new Set<string>(['status']);

export function emptyDiff(): DocumentDiff {
  return { layers: {}, order: [] };
}

export function isEmptyDiff(diff: DocumentDiff): boolean {
  return Object.keys(diff.layers).length === 0 && diff.order.length === 0;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The fields that differ between two versions of a layer (derived fields left out), or null if none. */
export function layerFieldChange(before: Layer, after: Layer): LayerChange | null {
  const b: Record<string, unknown> = {};
  const a: Record<string, unknown> = {};
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  let changed = false;
  for (const key of keys) {
    if (DERIVED_FIELDS.has(key)) continue;
    const bv = (before as unknown as Record<string, unknown>)[key];
    const av = (after as unknown as Record<string, unknown>)[key];
    if (!sameValue(bv, av)) {
      b[key] = bv;
      a[key] = av;
      changed = true;
    }
  }
  return changed ? { before: b as Partial<Layer>, after: a as Partial<Layer> } : null;
}

/** The ids below `id` in `order` (bottom first): where an order operation places it. */
export function idsBelow(order: readonly string[], id: string): string[] {
  const at = order.indexOf(id);
  return at < 0 ? [...order] : order.slice(0, at);
}

/** The index right above the topmost of `below` that is in `order` (0 when none is). */
function indexAbove(order: readonly string[], below: readonly string[]): number {
  const present = new Map(order.map((id, i) => [id, i]));
  for (let i = below.length - 1; i >= 0; i--) {
    const at = present.get(below[i] as string);
    if (at !== undefined) return at + 1;
  }
  return 0;
}

function applyOrderOp(order: string[], op: OrderOp): string[] {
  const without = order.filter((id) => id !== op.id);
  switch (op.op) {
    case 'remove':
      return without;
    case 'insert': {
      without.splice(indexAbove(without, op.below), 0, op.id);
      return without;
    }
    case 'move': {
      if (without.length === order.length) return order; // not there: nothing to move
      without.splice(indexAbove(without, op.to), 0, op.id);
      return without;
    }
  }
}

/**
 * Applies a diff. Tolerant by design: a field patch for a layer that does not exist is skipped (a
 * layer outside history that a recorded step touched, and whose first result was undone), so history
 * replay can never resurrect a partial record.
 */
export function applyDiff(doc: DocumentRecord, diff: DocumentDiff): DocumentRecord {
  const layers: Record<string, Layer> = { ...doc.layers };
  for (const [id, change] of Object.entries(diff.layers)) {
    if (change.after === null) {
      delete layers[id];
    } else if (change.before === null) {
      layers[id] = { ...(change.after as Layer), id };
    } else {
      const existing = layers[id];
      if (existing) layers[id] = { ...existing, ...change.after };
    }
  }
  let order = [...doc.order];
  for (const op of diff.order) order = applyOrderOp(order, op);
  // Keep order and records consistent whatever was replayed.
  order = order.filter((id, i) => layers[id] !== undefined && order.indexOf(id) === i);
  for (const id of Object.keys(layers)) if (!order.includes(id)) order.push(id);
  return { ...doc, layers, order };
}

export function invertDiff(diff: DocumentDiff): DocumentDiff {
  const layers: Record<string, LayerChange> = {};
  for (const [id, change] of Object.entries(diff.layers))
    layers[id] = { before: change.after, after: change.before };
  const order: OrderOp[] = [...diff.order].reverse().map((op): OrderOp => {
    switch (op.op) {
      case 'insert':
        return { op: 'remove', id: op.id, below: op.below };
      case 'remove':
        return { op: 'insert', id: op.id, below: op.below };
      case 'move':
        return { op: 'move', id: op.id, from: op.to, to: op.from };
    }
  });
  return { layers, order };
}

/**
 * A diff that creates `layer` from nothing right above `below` (used when the first result of a layer
 * outside history lands).
 */
export function creationDiff(layer: Layer, below: string[]): DocumentDiff {
  return {
    layers: { [layer.id]: { before: null, after: layer } },
    order: [{ op: 'insert', id: layer.id, below }],
  };
}
