/**
 * Staleness, derived from records: an edit layer is stale when the layers below it no longer make the
 * source its active result was computed from. Each variant records what its source was made of
 * (sourceParts); the current stack gives the parts the source would have now. Any change that alters
 * what a layer contributes (a re-run or picked variant, visibility, opacity, blend mode, mask, order,
 * deletion) therefore marks exactly the edit layers above it whose source depended on it. Nothing is
 * recomputed here: re-running is always asked for.
 */
import { activeVariant, type DocumentRecord, type Layer, type LayerStatus } from './records';

/** What a job for a layer is doing, as the runner reports it. */
export type JobPhase = 'queued' | 'running';

const short = (ref: string): string => ref.slice(0, 16);

/** Opacity as composited: one byte. */
export function opacityByte(opacity: number): number {
  return Math.round(Math.min(1, Math.max(0, opacity)) * 255);
}

/** Whether a layer adds anything to the composite: visible and with a result. */
export function contributes(layer: Layer): boolean {
  return layer.visible && activeVariant(layer) !== null;
}

/** The part one contributing layer adds to the sources of the layers above it. */
export function layerPart(layer: Layer): string | null {
  const variant = activeVariant(layer);
  if (!layer.visible || !variant) return null;
  return `${layer.id}@${short(variant.pixels)}/${opacityByte(layer.opacity)}/${layer.blendMode}/${layer.mask ? short(layer.mask) : '-'}`;
}

/**
 * What the composite below `layerId` is made of now, bottom first (the base first). With
 * `layerId` null: the whole stack.
 */
export function sourceParts(doc: DocumentRecord, layerId: string | null): string[] {
  const parts = [`base@${short(doc.base.pixels)}`];
  for (const id of doc.order) {
    if (id === layerId) break;
    const layer = doc.layers[id];
    if (!layer) continue;
    const part = layerPart(layer);
    if (part !== null) parts.push(part);
  }
  return parts;
}

function partLayerId(part: string | undefined): string | null {
  if (part === undefined) return null;
  const at = part.indexOf('@');
  return at < 0 ? null : part.slice(0, at);
}

/**
 * A 64-bit fingerprint of every prefix of a list of parts (two 32-bit lanes): equal prefixes have
 * equal fingerprints, so "is this layer's recorded source the stack below it now?" and "where do they
 * first differ?" cost O(1) and O(log n) instead of comparing whole lists. A collision (2^-64) could
 * only hide a stale mark; staleness is advice to re-run, never used to skip work that was asked for.
 */
interface Prefixes {
  lo: Uint32Array;
  hi: Uint32Array;
}

function hashPart(part: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < part.length; i++) h = Math.imul(h ^ part.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function prefixesOf(parts: readonly string[]): Prefixes {
  const lo = new Uint32Array(parts.length + 1);
  const hi = new Uint32Array(parts.length + 1);
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    lo[i + 1] = (Math.imul(lo[i]! ^ hashPart(part, 0x811c9dc5), 0x9e3779b1) + part.length) >>> 0;
    hi[i + 1] = (Math.imul(hi[i]! ^ hashPart(part, 0x01234567), 0x85ebca77) + 0x27d4eb2f) >>> 0;
  }
  return { lo, hi };
}

const samePrefix = (a: Prefixes, b: Prefixes, length: number): boolean =>
  a.lo[length] === b.lo[length] && a.hi[length] === b.hi[length];

/** What a variant's recorded source parts are, computed once per (immutable) array. */
interface Recorded {
  prefixes: Prefixes;
  ids: Set<string>;
}
const recordedCache = new WeakMap<readonly string[], Recorded>();

function recorded(parts: readonly string[]): Recorded {
  let found = recordedCache.get(parts);
  if (!found) {
    const ids = new Set<string>();
    for (const part of parts) {
      const id = partLayerId(part);
      if (id !== null) ids.add(id);
    }
    found = { prefixes: prefixesOf(parts), ids };
    recordedCache.set(parts, found);
  }
  return found;
}

/**
 * The whole stack walked once: its parts bottom first, their prefix fingerprints, where each layer's
 * source ends, and where each contributing layer's part lies. Every layer's staleness is then
 * answered from it, so a document's statuses cost O(n log n) in its layers, not O(n²).
 */
interface StackWalk {
  parts: string[];
  prefixes: Prefixes;
  /** How many parts lie below each layer (its source's length now). */
  below: Map<string, number>;
  /** The index of each contributing layer's part. */
  position: Map<string, number>;
}

function walkStack(doc: DocumentRecord): StackWalk {
  const parts = [`base@${short(doc.base.pixels)}`];
  const below = new Map<string, number>();
  const position = new Map<string, number>();
  for (const id of doc.order) {
    const layer = Object.hasOwn(doc.layers, id) ? doc.layers[id] : undefined;
    if (!layer) continue;
    below.set(id, parts.length);
    const part = layerPart(layer);
    if (part !== null) {
      position.set(id, parts.length);
      parts.push(part);
    }
  }
  return { parts, prefixes: prefixesOf(parts), below, position };
}

function layerNamed(doc: DocumentRecord, id: string | null): Layer | undefined {
  return id !== null && Object.hasOwn(doc.layers, id) ? doc.layers[id] : undefined;
}

function staleReasonIn(doc: DocumentRecord, walk: StackWalk, layer: Layer): string | null {
  const variant = activeVariant(layer);
  if (!variant) return 'not run yet';
  const nowLength = walk.below.get(layer.id) ?? walk.parts.length;
  const then = variant.sourceParts;
  const { prefixes: thenPrefixes, ids: thenIds } = recorded(then);
  if (nowLength === then.length && samePrefix(walk.prefixes, thenPrefixes, nowLength)) return null;
  // The first index where they differ: the longest common prefix, by binary search.
  let low = 0;
  let high = Math.min(nowLength, then.length);
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if (samePrefix(walk.prefixes, thenPrefixes, mid)) low = mid;
    else high = mid - 1;
  }
  const i = low;
  const nowId = i < nowLength ? partLayerId(walk.parts[i]) : null;
  const thenId = partLayerId(then[i]);
  const id = nowId ?? thenId;
  if (id === 'base') return 'the base image changed';
  const changed = layerNamed(doc, id);
  const name = changed ? `“${changed.name}”` : 'a layer below';
  if (nowId !== null && thenId !== null && nowId === thenId) return `${name} changed since this layer ran`;
  if (nowId !== null && !thenIds.has(nowId)) return `${name} now shows below this layer`;
  const thenPosition = thenId !== null ? walk.position.get(thenId) : undefined;
  if (thenId !== null && (thenPosition === undefined || thenPosition >= nowLength)) {
    const gone = layerNamed(doc, thenId);
    return gone ? `“${gone.name}” no longer shows below this layer` : 'a layer below was deleted';
  }
  return 'the layers below were reordered';
}

/** Why the current source differs from the one a variant ran on, in words; null when it does not. */
export function staleReason(doc: DocumentRecord, layer: Layer): string | null {
  return staleReasonIn(doc, walkStack(doc), layer);
}

function statusIn(
  doc: DocumentRecord,
  walk: StackWalk,
  layer: Layer,
  job: JobPhase | undefined,
): LayerStatus {
  if (job) return { state: job, reason: null };
  if (layer.failure !== null) return { state: 'failed', reason: layer.failure };
  const reason = staleReasonIn(doc, walk, layer);
  return reason === null ? { state: 'fresh', reason: null } : { state: 'stale', reason };
}

/** A layer's status: a job's phase first, then a failure, then stale or fresh. */
export function computeStatus(doc: DocumentRecord, layer: Layer, job: JobPhase | undefined): LayerStatus {
  return statusIn(doc, walkStack(doc), layer, job);
}

/** Writes every layer's derived status into the records (returns the same object when nothing changed). */
export function withStatuses(
  doc: DocumentRecord,
  jobs: ReadonlyMap<string, JobPhase> = new Map(),
): DocumentRecord {
  const walk = walkStack(doc);
  let layers: Record<string, Layer> | null = null;
  for (const id of doc.order) {
    const layer = layerNamed(doc, id);
    if (!layer) continue;
    const status = statusIn(doc, walk, layer, jobs.get(id));
    if (status.state !== layer.status.state || status.reason !== layer.status.reason) {
      layers ??= { ...doc.layers };
      layers[id] = { ...layer, status };
    }
  }
  return layers ? { ...doc, layers } : doc;
}

/**
 * Ids of the edit layers whose result is out of date or missing, bottom first: what "re-run stale
 * layers" re-runs, in this order. (A failed layer is included when it has no up-to-date result.)
 */
export function staleLayerIds(doc: DocumentRecord): string[] {
  const walk = walkStack(doc);
  return doc.order.filter((id) => {
    const layer = layerNamed(doc, id);
    return layer !== undefined && staleReasonIn(doc, walk, layer) !== null;
  });
}
