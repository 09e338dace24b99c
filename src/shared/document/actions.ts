/**
 * Named document actions and the reducer that turns one into a diff. Every user operation is one
 * of these (undoable), and so is every change the job runner makes to a layer history knows (a
 * result, a failure). Only layers outside history (a new edit before its first result) are changed
 * by the runner without a record. Pixels are referenced by hash: painting a mask is recorded as the
 * new mask's hash, never as a bitmap.
 */
import { applyDiff, idsBelow, layerFieldChange, type DocumentDiff } from './diff';
import {
  BLEND_MODES,
  type BlendMode,
  type DocumentRecord,
  type EditRequest,
  type Layer,
  type PixelRef,
  type Variant,
} from './records';

export type MaskChangeKind = 'paint' | 'invert' | 'clear' | 'set';

export type DocumentAction =
  /** Adds an edit layer at `index` (default: top), or completes the pending layer with that id. */
  | { type: 'add-edit'; layer: Layer; index?: number }
  /** A re-run's result: kept beside the earlier variants; `activate` makes it the shown one. */
  | { type: 'add-variant'; layerId: string; variant: Variant; activate: boolean }
  | { type: 'pick-variant'; layerId: string; variantId: string }
  | { type: 'delete-layer'; layerId: string }
  /** Moves a layer to `toIndex` in the bottom-first order. */
  | { type: 'move-layer'; layerId: string; toIndex: number }
  | { type: 'set-visibility'; layerId: string; visible: boolean }
  | { type: 'rename-layer'; layerId: string; name: string }
  | { type: 'set-opacity'; layerId: string; opacity: number }
  | { type: 'set-blend-mode'; layerId: string; blendMode: BlendMode }
  /** The new mask's hash (null: no mask). `how` only names the operation for undo labels. */
  | { type: 'set-mask'; layerId: string; mask: PixelRef | null; how: MaskChangeKind }
  /** Copies a layer (variants, mask, settings: pixels shared by hash) right above it. */
  | { type: 'duplicate-layer'; layerId: string; newId: string; name?: string }
  /**
   * The reason the last run failed (null to clear); `request`: the settings it ran with, for a layer
   * without a result (the next re-run starts from them).
   */
  | { type: 'set-failure'; layerId: string; failure: string | null; request?: EditRequest };

export type DocumentActionType = DocumentAction['type'];

export class DocumentActionError extends Error {
  override name = 'DocumentActionError';
  constructor(
    readonly code: 'not-found' | 'invalid',
    message: string,
  ) {
    super(message);
  }
}

function needLayer(doc: DocumentRecord, layerId: string): Layer {
  const layer = doc.layers[layerId];
  if (!layer) throw new DocumentActionError('not-found', `No layer with id ${JSON.stringify(layerId)}`);
  return layer;
}

function update(before: Layer, after: Layer): DocumentDiff {
  const change = layerFieldChange(before, after);
  return { layers: change ? { [before.id]: change } : {}, order: [] };
}

const MAX_NAME = 1000;

/** The diff an action makes to `doc` (empty when it changes nothing). Throws DocumentActionError. */
export function planAction(doc: DocumentRecord, action: DocumentAction): DocumentDiff {
  switch (action.type) {
    case 'add-edit': {
      const existing = doc.layers[action.layer.id];
      if (existing) return update(existing, { ...action.layer, status: existing.status });
      const index = action.index ?? doc.order.length;
      if (!Number.isInteger(index) || index < 0 || index > doc.order.length) {
        throw new DocumentActionError('invalid', `Layer index ${index} is outside 0..${doc.order.length}`);
      }
      return {
        layers: { [action.layer.id]: { before: null, after: action.layer } },
        order: [{ op: 'insert', id: action.layer.id, below: doc.order.slice(0, index) }],
      };
    }
    case 'add-variant': {
      const layer = needLayer(doc, action.layerId);
      if (layer.variants.some((v) => v.id === action.variant.id)) {
        throw new DocumentActionError(
          'invalid',
          `Layer ${layer.id} already has a variant ${action.variant.id}`,
        );
      }
      return update(layer, {
        ...layer,
        variants: [...layer.variants, action.variant],
        ...(action.activate ? { activeVariantId: action.variant.id, request: action.variant.request } : {}),
        failure: null,
      });
    }
    case 'pick-variant': {
      const layer = needLayer(doc, action.layerId);
      const variant = layer.variants.find((v) => v.id === action.variantId);
      if (!variant)
        throw new DocumentActionError('not-found', `Layer ${layer.id} has no variant ${action.variantId}`);
      return update(layer, { ...layer, activeVariantId: variant.id, request: variant.request });
    }
    case 'delete-layer': {
      const layer = needLayer(doc, action.layerId);
      return {
        layers: { [layer.id]: { before: layer, after: null } },
        order: [{ op: 'remove', id: layer.id, below: idsBelow(doc.order, layer.id) }],
      };
    }
    case 'move-layer': {
      needLayer(doc, action.layerId);
      const from = doc.order.indexOf(action.layerId);
      const to = action.toIndex;
      if (!Number.isInteger(to) || to < 0 || to >= doc.order.length) {
        throw new DocumentActionError('invalid', `Layer index ${to} is outside 0..${doc.order.length - 1}`);
      }
      if (from === to) return { layers: {}, order: [] };
      const moved = doc.order.filter((id) => id !== action.layerId);
      moved.splice(to, 0, action.layerId);
      return {
        layers: {},
        order: [
          {
            op: 'move',
            id: action.layerId,
            from: idsBelow(doc.order, action.layerId),
            to: idsBelow(moved, action.layerId),
          },
        ],
      };
    }
    case 'set-visibility': {
      const layer = needLayer(doc, action.layerId);
      return update(layer, { ...layer, visible: action.visible });
    }
    case 'rename-layer': {
      const layer = needLayer(doc, action.layerId);
      const name = action.name.trim();
      if (name === '' || name.length > MAX_NAME) {
        throw new DocumentActionError('invalid', `A layer name needs 1 to ${MAX_NAME} characters`);
      }
      return update(layer, { ...layer, name });
    }
    case 'set-opacity': {
      const layer = needLayer(doc, action.layerId);
      if (!Number.isFinite(action.opacity) || action.opacity < 0 || action.opacity > 1) {
        throw new DocumentActionError('invalid', `Opacity must be from 0 to 1, got ${action.opacity}`);
      }
      return update(layer, { ...layer, opacity: action.opacity });
    }
    case 'set-blend-mode': {
      const layer = needLayer(doc, action.layerId);
      if (!(BLEND_MODES as readonly string[]).includes(action.blendMode)) {
        throw new DocumentActionError('invalid', `Unknown blend mode ${JSON.stringify(action.blendMode)}`);
      }
      return update(layer, { ...layer, blendMode: action.blendMode });
    }
    case 'set-mask': {
      const layer = needLayer(doc, action.layerId);
      return update(layer, { ...layer, mask: action.mask });
    }
    case 'duplicate-layer': {
      const layer = needLayer(doc, action.layerId);
      if (doc.layers[action.newId])
        throw new DocumentActionError('invalid', `Layer id ${action.newId} is taken`);
      const copy: Layer = { ...layer, id: action.newId, name: action.name ?? `${layer.name} copy` };
      return {
        layers: { [copy.id]: { before: null, after: copy } },
        order: [{ op: 'insert', id: copy.id, below: [...idsBelow(doc.order, layer.id), layer.id] }],
      };
    }
    case 'set-failure': {
      const layer = needLayer(doc, action.layerId);
      return update(layer, {
        ...layer,
        failure: action.failure,
        ...(action.request ? { request: action.request } : {}),
      });
    }
  }
}

/** Applies an action: the new document and the diff that leads there. */
export function applyAction(
  doc: DocumentRecord,
  action: DocumentAction,
): { doc: DocumentRecord; diff: DocumentDiff } {
  const diff = planAction(doc, action);
  return { doc: applyDiff(doc, diff), diff };
}

function quoted(text: string, max = 40): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return `“${oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine}”`;
}

/** A short label for undo/redo menus ("Undo Rename layer"). */
export function actionLabel(doc: DocumentRecord, action: DocumentAction): string {
  const name = 'layerId' in action ? (doc.layers[action.layerId]?.name ?? 'layer') : '';
  switch (action.type) {
    case 'add-edit':
      return `Edit ${quoted(action.layer.request.instruction)}`;
    case 'add-variant':
      return `Re-run ${quoted(action.variant.request.instruction)}`;
    case 'pick-variant':
      return `Pick variant of ${quoted(name)}`;
    case 'delete-layer':
      return `Delete ${quoted(name)}`;
    case 'move-layer':
      return `Move ${quoted(name)}`;
    case 'set-visibility':
      return `${action.visible ? 'Show' : 'Hide'} ${quoted(name)}`;
    case 'rename-layer':
      return `Rename ${quoted(name)}`;
    case 'set-opacity':
      return `Opacity of ${quoted(name)}`;
    case 'set-blend-mode':
      return `Blend mode of ${quoted(name)}`;
    case 'set-mask':
      return (
        { paint: 'Paint mask', invert: 'Invert mask', clear: 'Clear mask', set: 'Set mask' }[action.how] +
        ` of ${quoted(name)}`
      );
    case 'duplicate-layer':
      return `Duplicate ${quoted(name)}`;
    case 'set-failure':
      return `Failed run of ${quoted(name)}`;
  }
}
