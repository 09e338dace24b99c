/** Record builders shared by the document tests (plain data; pixel references are fake hashes). */
import { createHash } from 'node:crypto';
import {
  sourceParts,
  type DocumentRecord,
  type EditRequest,
  type Layer,
  type PixelRef,
  type Variant,
} from '../../src/shared/document';

/** A stable 64-digit hex "pixel hash" for a label (the tests never need the pixels themselves). */
export function ref(label: string): PixelRef {
  return createHash('sha256').update(label).digest('hex');
}

/** An edit request with the SD 1.5 defaults; `extra` overrides any field. */
export function request(instruction: string, seed = 1, extra: Partial<EditRequest> = {}): EditRequest {
  return {
    instruction,
    steps: 20,
    textGuidance: 7.5,
    imageGuidance: 1.5,
    seed,
    scheduler: 'euler-ancestral',
    resolution: '512',
    model: { id: 'timbrooks/instruct-pix2pix', version: 'test' },
    placement: 'delta',
    ...extra,
  };
}

export function variant(
  layerId: string,
  id: string,
  instruction: string,
  parts: string[],
  seed = 1,
  createdAt = 1000,
): Variant {
  return {
    id,
    request: request(instruction, seed),
    pixels: ref(`${layerId}/${id}/pixels`),
    result: ref(`${layerId}/${id}/result`),
    source: ref(`${layerId}/${id}/source`),
    sourceParts: parts,
    processedWidth: 512,
    processedHeight: 384,
    createdAt,
    durationMs: 1234,
  };
}

export function editLayer(id: string, name: string, variants: Variant[], createdAt = 1000): Layer {
  const active = variants.at(-1) ?? null;
  return {
    id,
    kind: 'edit',
    name,
    visible: true,
    opacity: 1,
    blendMode: 'normal',
    mask: null,
    request: active?.request ?? request(name),
    variants,
    activeVariantId: active?.id ?? null,
    failure: null,
    status: { state: 'fresh', reason: null },
    createdAt,
  };
}

export function emptyDocument(width = 16, height = 12): DocumentRecord {
  return {
    id: 'doc-1',
    width,
    height,
    base: {
      id: 'base',
      name: 'dragon.jpg',
      pixels: ref('base'),
      origin: { fileName: 'dragon.jpg', format: 'jpeg', notices: [] },
    },
    layers: {},
    order: [],
    createdAt: 500,
  };
}

/**
 * A layer as if it had just been run on the current stack: one variant whose sourceParts are what
 * the layers below make now (what the runner records).
 */
export function ranLayer(doc: DocumentRecord, id: string, name: string, variantId = 'v1', seed = 1): Layer {
  return editLayer(id, name, [variant(id, variantId, name, sourceParts(doc, id), seed)]);
}

/** Deep-freezes plain data, so any in-place change by the code under test throws. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}
