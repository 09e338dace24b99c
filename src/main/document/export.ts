/**
 * Export: the flattened picture as PNG (with the edit history in a text chunk) and the layered
 * document as PSD/PSB.
 *
 * The flattened composite is the one the app shows: the base, then every visible edit layer that has
 * a result (its active variant), blended bottom-first with composite.ts's formulas (opacity as one
 * byte, blend mode, mask). ag-psd does not composite, so the PSD's composite image is that same
 * picture; PSD readers that recomposite the layers arrive at it too (same normal/multiply/screen
 * formulas, up to rounding).
 *
 * PSD layout, bottom first: the base as an opaque background layer, then one PSD layer per edit
 * layer that has a result, hidden ones included (with the hidden flag). An edit with no result (one
 * cancelled, failed or still running before its first result) is left out of both the PSD and the
 * PNG's history: it adds nothing to the picture and an empty layer would only mislead.
 *
 * Neither file carries a resolution (DPI): the document does not know the source's, and a made-up
 * one (libvips writes 1 pixel/mm by default) would change the print size other programs show.
 * The history names the model by its folder's name, never by a path on this computer. Masks are user masks at
 * document size with default colour 0 (hidden outside, though they cover the whole canvas anyway).
 */
import { writePsdUint8Array, type BlendMode as PsdBlendMode, type Layer as PsdLayer, type Psd } from 'ag-psd';
import {
  activeVariant,
  orderedLayers,
  type BlendMode,
  type DocumentRecord,
  type EditRequest,
  type Layer,
} from '../../shared/document/records';
import { contributes, opacityByte } from '../../shared/document/staleness';
import type { RgbImage } from '../../shared/engine-types';
import { encodePng } from '../engine/image-io';
import { blendInto, rgbToRgba } from './composite';
import { PSD_MAX_SIDE } from './import';
import type { GrayImage, PixelStore } from './pixel-store';

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

async function basePixels(doc: DocumentRecord, store: PixelStore): Promise<RgbImage> {
  const base = await store.getRgb(doc.base.pixels);
  if (base.width !== doc.width || base.height !== doc.height) {
    throw new RangeError(`the base is ${base.width}×${base.height}, the document ${doc.width}×${doc.height}`);
  }
  return base;
}

/**
 * The flattened composite (RGB, document size). Layers are fetched and blended one at a time (with
 * composite.ts's blendInto, as compositeLayers does), so only one layer's pixels need be decoded at
 * once whatever the number of layers.
 */
export async function flattenDocument(doc: DocumentRecord, store: PixelStore): Promise<RgbImage> {
  const base = await basePixels(doc, store);
  const out: RgbImage = { width: base.width, height: base.height, data: new Uint8Array(base.data) };
  for (const layer of orderedLayers(doc)) {
    const variant = activeVariant(layer);
    if (!contributes(layer) || !variant) continue;
    const opacity = opacityByte(layer.opacity);
    if (opacity === 0) continue;
    const pixels = await store.getRgb(variant.pixels);
    const mask = layer.mask === null ? null : await store.getGray(layer.mask);
    blendInto(out, { pixels, opacity, blendMode: layer.blendMode, mask });
  }
  return out;
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

const PSD_BLEND_MODES: Record<BlendMode, PsdBlendMode> = {
  normal: 'normal',
  multiply: 'multiply',
  screen: 'screen',
};

/** A grey mask as RGBA image data for ag-psd, which reads a mask's grey from the red channel. */
function grayToRgba(mask: GrayImage): Uint8ClampedArray {
  const n = mask.width * mask.height;
  const out = new Uint8ClampedArray(n * 4);
  const src = mask.data;
  for (let p = 0, o = 0; p < n; p++, o += 4) {
    const v = src[p] as number;
    out[o] = v;
    out[o + 1] = v;
    out[o + 2] = v;
    out[o + 3] = 255;
  }
  return out;
}

async function psdLayer(doc: DocumentRecord, layer: Layer, store: PixelStore): Promise<PsdLayer> {
  const { width, height } = doc;
  const out: PsdLayer = {
    name: layer.name,
    hidden: !layer.visible,
    opacity: opacityByte(layer.opacity) / 255,
    blendMode: PSD_BLEND_MODES[layer.blendMode],
    top: 0,
    left: 0,
  };
  const variant = activeVariant(layer);
  if (variant) {
    const pixels = await store.getRgb(variant.pixels);
    if (pixels.width !== width || pixels.height !== height) {
      throw new RangeError(
        `layer “${layer.name}” is ${pixels.width}×${pixels.height}, the document ${width}×${height}`,
      );
    }
    out.imageData = { width, height, data: rgbToRgba(pixels) };
  }
  if (layer.mask !== null) {
    const mask = await store.getGray(layer.mask);
    if (mask.width !== width || mask.height !== height) {
      throw new RangeError(
        `the mask of “${layer.name}” is ${mask.width}×${mask.height}, the document ${width}×${height}`,
      );
    }
    out.mask = { top: 0, left: 0, defaultColor: 0, imageData: { width, height, data: grayToRgba(mask) } };
  }
  return out;
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
  const flat = await flattenDocument(doc, store);
  const base = await basePixels(doc, store);
  const children: PsdLayer[] = [
    {
      name: doc.base.name.trim() || 'Background',
      top: 0,
      left: 0,
      imageData: { width, height, data: rgbToRgba(base) },
    },
  ];
  for (const layer of exportedLayers(doc)) children.push(await psdLayer(doc, layer, store));
  const psd: Psd = { width, height, children, imageData: { width, height, data: rgbToRgba(flat) } };
  return writePsdUint8Array(psd, { generateThumbnail: false, psb: needsPsb(width, height) });
}
