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

/** Why the current source differs from the one a variant ran on, in words; null when it does not. */
export function staleReason(doc: DocumentRecord, layer: Layer): string | null {
  const variant = activeVariant(layer);
  if (!variant) return 'not run yet';
  const now = sourceParts(doc, layer.id);
  const then = variant.sourceParts;
  const n = Math.max(now.length, then.length);
  for (let i = 0; i < n; i++) {
    if (now[i] === then[i]) continue;
    const nowId = partLayerId(now[i]);
    const thenId = partLayerId(then[i]);
    const id = nowId ?? thenId;
    if (id === 'base') return 'the base image changed';
    const changed = id ? doc.layers[id] : undefined;
    const name = changed ? `“${changed.name}”` : 'a layer below';
    if (nowId !== null && thenId !== null && nowId === thenId) return `${name} changed since this layer ran`;
    if (nowId !== null && !then.some((p) => partLayerId(p) === nowId))
      return `${name} now shows below this layer`;
    if (thenId !== null && !now.some((p) => partLayerId(p) === thenId)) {
      const gone = thenId ? doc.layers[thenId] : undefined;
      return gone ? `“${gone.name}” no longer shows below this layer` : 'a layer below was deleted';
    }
    return 'the layers below were reordered';
  }
  return null;
}

/** A layer's status: a job's phase first, then a failure, then stale or fresh. */
export function computeStatus(doc: DocumentRecord, layer: Layer, job: JobPhase | undefined): LayerStatus {
  if (job) return { state: job, reason: null };
  if (layer.failure !== null) return { state: 'failed', reason: layer.failure };
  const reason = staleReason(doc, layer);
  return reason === null ? { state: 'fresh', reason: null } : { state: 'stale', reason };
}

/** Writes every layer's derived status into the records (returns the same object when nothing changed). */
export function withStatuses(
  doc: DocumentRecord,
  jobs: ReadonlyMap<string, JobPhase> = new Map(),
): DocumentRecord {
  let layers: Record<string, Layer> | null = null;
  for (const id of doc.order) {
    const layer = doc.layers[id];
    if (!layer) continue;
    const status = computeStatus(doc, layer, jobs.get(id));
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
  return doc.order.filter((id) => {
    const layer = doc.layers[id];
    return layer !== undefined && staleReason(doc, layer) !== null;
  });
}
