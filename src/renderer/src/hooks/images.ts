/**
 * Layer pixels, masks and thumbnails come from the main side as PNG bytes; this turns them into
 * decoded images, cached by document, layer, kind, revision and size so each version is fetched once.
 * Revisions are unique within one run of the main side; the cache is emptied on (re)connecting, when
 * the main side may have restarted and numbered its revisions afresh.
 */
import { useEffect, useState } from 'react';
import { api } from '../state/actions';
import { useAppState } from '../state/store';

type What = 'pixels' | 'mask' | 'thumbnail';

const cache = new Map<string, Promise<HTMLImageElement>>();
const MAX_ENTRIES = 200;

export interface ImageRequest {
  docId: string;
  layerId: string;
  what: What;
  revision: number;
  variantId?: string;
  /** Longest side wanted; the full size when absent. */
  maxSide?: number;
}

export function imageKey(request: ImageRequest): string {
  const { docId, layerId, what, revision, variantId, maxSide } = request;
  return `${docId}|${layerId}|${what}|${variantId ?? ''}|${revision}|${maxSide ?? 'full'}`;
}

export function clearImageCache(): void {
  cache.clear();
}

export async function decodePng(png: Uint8Array): Promise<HTMLImageElement> {
  const url = URL.createObjectURL(new Blob([png as Uint8Array<ArrayBuffer>], { type: 'image/png' }));
  const image = new Image();
  image.src = url;
  try {
    // decode() decodes off the main thread, so a large image does not stall a frame.
    await image.decode();
    return image;
  } catch {
    throw new Error('could not decode an image from the editor');
  } finally {
    URL.revokeObjectURL(url);
  }
}

export function loadImage(request: ImageRequest): Promise<HTMLImageElement> {
  const key = imageKey(request);
  let entry = cache.get(key);
  if (!entry) {
    const { layerId, what, variantId, maxSide } = request;
    entry = api()
      .call('document.layerImage', {
        layerId,
        what,
        ...(variantId ? { variantId } : {}),
        ...(maxSide !== undefined ? { maxSide } : {}),
      })
      .then((result) => decodePng(result.png));
    entry.catch(() => cache.delete(key));
    cache.set(key, entry);
    if (cache.size > MAX_ENTRIES) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
  }
  return entry;
}

/** A decoded image for a layer (or one of its variants) of the open document, or null while it loads. */
export function useLayerImage(
  layerId: string | null,
  what: What,
  revision: number,
  variantId?: string,
): HTMLImageElement | null {
  const docId = useAppState((state) => state.doc?.id ?? '');
  const [image, setImage] = useState<HTMLImageElement | null>(null);
  useEffect(() => {
    if (!layerId) {
      setImage(null);
      return;
    }
    let live = true;
    loadImage({ docId, layerId, what, revision, ...(variantId ? { variantId } : {}) }).then(
      (loaded) => {
        if (live) setImage(loaded);
      },
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [docId, layerId, what, revision, variantId]);
  return image;
}

/** Draws raw RGB/RGBA pixels (a live preview) onto a canvas. */
export function drawRaw(
  canvas: HTMLCanvasElement,
  image: { width: number; height: number; channels: number; data: Uint8Array },
): void {
  canvas.width = image.width;
  canvas.height = image.height;
  const context = canvas.getContext('2d');
  if (!context) return;
  const pixels = context.createImageData(image.width, image.height);
  const count = image.width * image.height;
  for (let i = 0; i < count; i++) {
    const source = i * image.channels;
    const r = image.data[source] ?? 0;
    pixels.data[i * 4] = r;
    pixels.data[i * 4 + 1] = image.channels >= 3 ? (image.data[source + 1] ?? 0) : r;
    pixels.data[i * 4 + 2] = image.channels >= 3 ? (image.data[source + 2] ?? 0) : r;
    pixels.data[i * 4 + 3] = image.channels === 4 ? (image.data[source + 3] ?? 255) : 255;
  }
  context.putImageData(pixels, 0, 0);
}
