/**
 * Export: the flattened picture as PNG (with the edit history in a text chunk) and the layered
 * document as PSD/PSB.
 *
 * The flattened composite is the one the app shows: the base, then every visible edit layer that has
 * a result (its active variant), blended bottom-first with composite.ts's formulas (opacity as one
 * byte, blend mode, mask). The PSD's composite image (its image data, shown by readers that do not
 * composite layers) is that same picture; PSD readers that recomposite the layers arrive at it too
 * (same normal/multiply/screen formulas, up to rounding).
 *
 * PSD layout, bottom first: the base as an opaque background layer, then one PSD layer per edit
 * layer that has a result, hidden ones included (with the hidden flag). An edit with no result (one
 * cancelled, failed or still running before its first result) is left out of both the PSD and the
 * PNG's history: it adds nothing to the picture and an empty layer would only mislead.
 *
 * Flattening and PSD encoding (psd-writer.ts, synchronous) run in the encode worker (encoder.ts),
 * so a large export never holds up the calls of other windows; the PNG is encoded by sharp, off the
 * event loop too.
 *
 * Neither file carries a resolution (DPI): the document does not know the source's, and a made-up
 * one (libvips writes 1 pixel/mm by default) would change the print size other programs show.
 * The history names the model by its folder's name, never by a path on this computer. Masks are user masks at
 * document size with default colour 0 (hidden outside, though they cover the whole canvas anyway).
 */
import {
  activeVariant,
  orderedLayers,
  type BlendMode,
  type DocumentRecord,
  type EditRequest,
  type Layer,
  type PixelRef,
} from '../../shared/document/records';
import { contributes, opacityByte } from '../../shared/document/staleness';
import type { RgbImage } from '../../shared/engine-types';
import { offerHeadroom } from '../../shared/contract/wire';
import { encodePng } from '../engine/image-io';
import type { FlattenStep, PsdLayerPlan } from './encode-tasks';
import { encodeOffThread } from './encoder';
import { PSD_MAX_SIDE } from './import';
import type { PixelStore } from './pixel-store';

/** The PNG text keyword the edit history is stored under. */
export const HISTORY_KEY = 'instruct-edit:history';

/** One edit layer in the exported history. */
export interface ExportedLayerHistory {
  name: string;
  /** The instruction of the request below (repeated for readers that want only this). */
  instruction: string;
  /**
   * The request that made the pixels shown: the active variant's; for a layer with no result yet,
   * the pending request it would run with.
   */
  request: EditRequest;
  visible: boolean;
  /** 0..1, as in the document. */
  opacity: number;
  blendMode: BlendMode;
  hasMask: boolean;
  /** null when the layer has no result yet (it then adds nothing to the picture). */
  activeVariantId: string | null;
  variantCount: number;
}

/** What the `instruct-edit:history` text chunk holds (as JSON). */
export interface ExportedHistory {
  format: 'instruct-edit-history';
  version: 1;
  width: number;
  height: number;
  base: { name: string; fileName: string | null };
  /** Bottom first: the order they are composited in. */
  layers: ExportedLayerHistory[];
}

export interface ExportPngOptions {
  /** Write the `instruct-edit:history` text chunk (default true). */
  includeHistory?: boolean;
}

/**
 * A model id as exported: a local folder (an absolute POSIX, Windows or home-relative path) by its
 * last segment; anything else (a repository id such as owner/name) unchanged.
 */
export function modelName(id: string): string {
  if (!/^(\/|~[\\/]|[A-Za-z]:[\\/]|\\\\)/.test(id)) return id;
  const parts = id.split(/[\\/]+/).filter((part) => part.length > 0);
  return parts.at(-1) ?? id;
}

/** The layers an export shows, bottom first: those with a result. */
function exportedLayers(doc: DocumentRecord): Layer[] {
  return orderedLayers(doc).filter((layer) => activeVariant(layer) !== null);
}

function layerHistory(layer: Layer): ExportedLayerHistory {
  const variant = activeVariant(layer);
  const shown = variant?.request ?? layer.request;
  const request: EditRequest = { ...shown, model: { ...shown.model, id: modelName(shown.model.id) } };
  return {
    name: layer.name,
    instruction: request.instruction,
    request,
    visible: layer.visible,
    opacity: layer.opacity,
    blendMode: layer.blendMode,
    hasMask: layer.mask !== null,
    activeVariantId: variant?.id ?? null,
    variantCount: layer.variants.length,
  };
}

/** The edit history exported with a PNG. */
export function exportHistory(doc: DocumentRecord): ExportedHistory {
  return {
    format: 'instruct-edit-history',
    version: 1,
    width: doc.width,
    height: doc.height,
    base: { name: doc.base.name, fileName: doc.base.origin.fileName },
    layers: exportedLayers(doc).map(layerHistory),
  };
}

/** The images a task refers to, each fetched from the store once, in the order first asked for. */
class ImageTable {
  readonly images: Uint8Array[] = [];
  private readonly indices = new Map<PixelRef, number>();

  constructor(
    private readonly doc: DocumentRecord,
    private readonly store: PixelStore,
  ) {}

  async rgb(ref: PixelRef, what: string): Promise<number> {
    return this.add(ref, what, 'rgb');
  }

  async gray(ref: PixelRef, what: string): Promise<number> {
    return this.add(ref, what, 'gray');
  }

  private async add(ref: PixelRef, what: string, kind: 'rgb' | 'gray'): Promise<number> {
    const known = this.indices.get(ref);
    if (known !== undefined) return known;
    const image = kind === 'rgb' ? await this.store.getRgb(ref) : await this.store.getGray(ref);
    const { width, height } = this.doc;
    if (image.width !== width || image.height !== height) {
      throw new RangeError(`${what} is ${image.width}×${image.height}, the document ${width}×${height}`);
    }
    const index = this.images.push(image.data) - 1;
    this.indices.set(ref, index);
    return index;
  }
}

/** The layers blended onto the base for the flattened composite, bottom first. */
async function flattenSteps(doc: DocumentRecord, table: ImageTable): Promise<FlattenStep[]> {
  const steps: FlattenStep[] = [];
  for (const layer of orderedLayers(doc)) {
    const variant = activeVariant(layer);
    if (!contributes(layer) || !variant) continue;
    const opacity = opacityByte(layer.opacity);
    if (opacity === 0) continue;
    steps.push({
      pixels: await table.rgb(variant.pixels, `layer “${layer.name}”`),
      mask: layer.mask === null ? null : await table.gray(layer.mask, `the mask of “${layer.name}”`),
      opacity,
      blendMode: layer.blendMode,
    });
  }
  return steps;
}

/**
 * The flattened composite (RGB, document size), blended in the encode worker with composite.ts's
 * blendInto, as compositeLayers does.
 */
export async function flattenDocument(doc: DocumentRecord, store: PixelStore): Promise<RgbImage> {
  const table = new ImageTable(doc, store);
  const base = await table.rgb(doc.base.pixels, 'the base');
  const steps = await flattenSteps(doc, table);
  const done = await encodeOffThread(
    { kind: 'flatten', width: doc.width, height: doc.height, base, steps },
    table.images,
  );
  if (done.kind !== 'flatten') throw new Error(`the encoder answered ${done.kind} to flatten`);
  return done.image;
}

/** The flattened composite as a lossless 8-bit RGB PNG at document size, with the edit history. */
export async function exportPng(
  doc: DocumentRecord,
  store: PixelStore,
  options: ExportPngOptions = {},
): Promise<Uint8Array> {
  const flat = await flattenDocument(doc, store);
  const text: Record<string, string> = {};
  if (options.includeHistory !== false) text[HISTORY_KEY] = JSON.stringify(exportHistory(doc));
  const png = await encodePng(flat, text);
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}

/** Whether a document of this size is written as PSB (large document format) rather than PSD. */
export function needsPsb(width: number, height: number): boolean {
  return width > PSD_MAX_SIDE || height > PSD_MAX_SIDE;
}

/**
 * The layered document as PSD (PSB when a side is over 30 000 pixels): the base as "Background"
 * (or its name), every edit layer above it, and the flattened composite as the file's image data.
 */
export async function exportPsd(doc: DocumentRecord, store: PixelStore): Promise<Uint8Array> {
  const { width, height } = doc;
  const table = new ImageTable(doc, store);
  const base = await table.rgb(doc.base.pixels, 'the base');
  const steps = await flattenSteps(doc, table);
  const layers: PsdLayerPlan[] = [];
  for (const layer of exportedLayers(doc)) {
    const variant = activeVariant(layer);
    layers.push({
      name: layer.name,
      hidden: !layer.visible,
      opacity: opacityByte(layer.opacity),
      blendMode: layer.blendMode,
      pixels: variant ? await table.rgb(variant.pixels, `layer “${layer.name}”`) : null,
      mask: layer.mask === null ? null : await table.gray(layer.mask, `the mask of “${layer.name}”`),
    });
  }
  const done = await encodeOffThread(
    {
      kind: 'psd',
      width,
      height,
      psb: needsPsb(width, height),
      baseName: doc.base.name.trim() || 'Background',
      base,
      steps,
      layers,
    },
    table.images,
  );
  if (done.kind !== 'psd') throw new Error(`the encoder answered ${done.kind} to psd`);
  // Written with the wire's headroom in front (encode-tasks.ts).
  return offerHeadroom(done.bytes);
}
