/**
 * Layer pixels, masks and thumbnails come from the main side as PNG bytes; this turns them into
 * decoded images, cached by layer, kind and revision so each version is fetched once.
 */
import { useEffect, useState } from 'react';
import { api } from '../state/actions';

type What = 'pixels' | 'mask' | 'thumbnail';

const cache = new Map<string, Promise<HTMLImageElement>>();
const MAX_ENTRIES = 200;

export function imageKey(layerId: string, what: What, revision: number, variantId?: string): string {
  return `${layerId}|${what}|${variantId ?? ''}|${revision}`;
}

export function decodePng(png: Uint8Array): Promise<HTMLImageElement> {
  const url = URL.createObjectURL(new Blob([png as Uint8Array<ArrayBuffer>], { type: 'image/png' }));
  const image = new Image();
  return new Promise<HTMLImageElement>((resolve, reject) => {
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error('could not decode an image from the editor'));
    image.src = url;
  }).finally(() => URL.revokeObjectURL(url));
}

export function loadLayerImage(
  layerId: string,
  what: What,
  revision: number,
  variantId?: string,
): Promise<HTMLImageElement> {
  const key = imageKey(layerId, what, revision, variantId);
  let entry = cache.get(key);
  if (!entry) {
    entry = api()
      .call('document.layerImage', { layerId, what, ...(variantId ? { variantId } : {}) })
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

/** A decoded image for a layer (or one of its variants), or null while it loads. */
export function useLayerImage(
  layerId: string | null,
  what: What,
  revision: number,
  variantId?: string,
): HTMLImageElement | null {
  const [image, setImage] = useState<HTMLImageElement | null>(null);
  useEffect(() => {
    if (!layerId) {
      setImage(null);
      return;
    }
    let live = true;
    loadLayerImage(layerId, what, revision, variantId).then(
      (loaded) => {
        if (live) setImage(loaded);
      },
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [layerId, what, revision, variantId]);
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
