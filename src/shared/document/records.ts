/**
 * The document's records: plain, serializable data. Pixels never live here; they are referenced by
 * the sha-256 content hash of their raw bytes (see src/main/document/pixel-store.ts), so records,
 * diffs and undo history stay small whatever the picture size.
 *
 * No imports of Node built-ins, electron or the DOM: the renderer shows these records as they are.
 */
import type { EditSettings } from '../engine-types';

/** The sha-256 (64 lower-case hex digits) of an image's raw pixels and dimensions. */
export type PixelRef = string;

export const BLEND_MODES = ['normal', 'multiply', 'screen'] as const;
export type BlendMode = (typeof BLEND_MODES)[number];

/**
 * How a result made at the model's processing size becomes document-size pixels.
 * 'delta': the full-resolution source plus the upsampled edit delta (result − processed source), so
 * what the instruction did not change keeps the source's full detail. 'upscale': the result resized.
 */
export const PLACEMENT_MODES = ['delta', 'upscale'] as const;
export type PlacementMode = (typeof PLACEMENT_MODES)[number];

/** Which model made a result: an identifier (e.g. a repository or folder name) and a version/revision. */
export interface ModelRef {
  id: string;
  version: string;
}

export const UNKNOWN_MODEL: ModelRef = { id: 'unknown', version: 'unknown' };

/** Everything needed to re-run an edit, apart from the source pixels (which come from the layers below). */
export interface EditRequest extends EditSettings {
  model: ModelRef;
  placement: PlacementMode;
}

/** One result an edit layer produced. A layer keeps every variant it ever made; one is active. */
export interface Variant {
  id: string;
  request: EditRequest;
  /** The result placed at document size (RGB). */
  pixels: PixelRef;
  /** The model's output at its processing size (RGB), as it came out. */
  result: PixelRef;
  /** The composite of the layers below at the time it ran (RGB, document size): what was edited. */
  source: PixelRef;
  /**
   * What the source was made of, bottom first: one part per contributing layer (the base first).
   * Compared with the current stack to tell whether the layer is stale. See sourceParts().
   */
  sourceParts: string[];
  /** Processing size the model ran at. */
  processedWidth: number;
  processedHeight: number;
  createdAt: number;
  durationMs: number;
}

export const LAYER_STATES = ['fresh', 'stale', 'queued', 'running', 'failed'] as const;
export type LayerState = (typeof LAYER_STATES)[number];

export interface LayerStatus {
  state: LayerState;
  /** Why it is stale or failed; null otherwise. */
  reason: string | null;
}

export interface EditLayer {
  id: string;
  kind: 'edit';
  name: string;
  visible: boolean;
  /** 0..1; composited (and exported) as round(opacity × 255). */
  opacity: number;
  blendMode: BlendMode;
  /** 8-bit grey mask of document size (255 = the layer shows), or null for none. */
  mask: PixelRef | null;
  /** The request the next re-run starts from: the active variant's, or the pending one's. */
  request: EditRequest;
  variants: Variant[];
  activeVariantId: string | null;
  /** The reason the last run failed, until a run succeeds. */
  failure: string | null;
  /**
   * Derived, never recorded in history: recomputed from the jobs, the failure and the stack after
   * every change (see computeStatus). Saved in project files for readers' convenience only.
   */
  status: LayerStatus;
  createdAt: number;
}

export type Layer = EditLayer;

export interface BaseImage {
  /** Stable id, so views can treat the base like a layer. */
  id: string;
  name: string;
  pixels: PixelRef;
  /** Where it was imported from (file name and format) and what the import converted. */
  origin: { fileName: string | null; format: string | null; notices: string[] };
}

export interface DocumentRecord {
  id: string;
  width: number;
  height: number;
  base: BaseImage;
  /** Layers by id. */
  layers: Readonly<Record<string, Layer>>;
  /** Layer ids, bottom first (the order they are composited in). */
  order: readonly string[];
  createdAt: number;
}

export const BASE_LAYER_ID = 'base';

/** Processing-independent settings: the EditSettings part of a request, fields in schema order. */
export function settingsOf(request: EditSettings): EditSettings {
  const settings: EditSettings = {
    instruction: request.instruction,
    steps: request.steps,
    textGuidance: request.textGuidance,
    imageGuidance: request.imageGuidance,
    seed: request.seed,
    scheduler: request.scheduler,
    resolution: request.resolution,
  };
  if (request.karrasSigmas !== undefined) settings.karrasSigmas = request.karrasSigmas;
  return settings;
}

export function activeVariant(layer: Layer): Variant | null {
  if (layer.activeVariantId === null) return null;
  return layer.variants.find((v) => v.id === layer.activeVariantId) ?? null;
}

/** Layers bottom first. */
export function orderedLayers(doc: DocumentRecord): Layer[] {
  const out: Layer[] = [];
  for (const id of doc.order) {
    const layer = doc.layers[id];
    if (layer) out.push(layer);
  }
  return out;
}

/** Every pixel reference the document uses (base, variants, masks), without duplicates. */
export function referencedPixels(doc: DocumentRecord): PixelRef[] {
  const refs = new Set<PixelRef>([doc.base.pixels]);
  for (const layer of orderedLayers(doc)) {
    if (layer.mask) refs.add(layer.mask);
    for (const v of layer.variants) {
      refs.add(v.pixels);
      refs.add(v.result);
      refs.add(v.source);
    }
  }
  return [...refs];
}
