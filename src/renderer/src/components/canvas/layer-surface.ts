/**
 * One layer as drawn on the canvas: its pixels with its mask applied (mask grey → alpha), kept in
 * an offscreen canvas that Konva draws. The pixels may be a screen-size version of the layer (see
 * `prepare`); Konva scales the surface to the layer's size. Mask painting edits the mask canvas in
 * place, so strokes show immediately; the finished mask is sent to the main side as one grey byte
 * per document pixel.
 *
 * Updating is two-phase so the canvas never shows a half-updated document: `prepare` fetches and
 * decodes what changed without touching the surface, and the returned `apply` swaps it in; the
 * canvas applies all layers of one document state together and then redraws.
 */
import type { LayerView } from '../../../../shared/contract/schemas';
import { loadImage } from '../../hooks/images';

export interface Brush {
  size: number;
  /** 0 (soft) … 1 (hard edge). */
  hardness: number;
  erase: boolean;
}

function context2d(canvas: HTMLCanvasElement): CanvasRenderingContext2D {
  const context = canvas.getContext('2d', { willReadFrequently: true });
  if (!context) throw new Error('no 2D canvas');
  return context;
}

/** A grey mask image → a white canvas whose alpha is the grey level. */
function greyToAlpha(image: HTMLImageElement): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = image.naturalWidth;
  canvas.height = image.naturalHeight;
  const context = context2d(canvas);
  context.drawImage(image, 0, 0);
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height);
  const data = pixels.data;
  for (let i = 0; i < data.length; i += 4) {
    data[i + 3] = data[i] ?? 0;
    data[i] = 255;
    data[i + 1] = 255;
    data[i + 2] = 255;
  }
  context.putImageData(pixels, 0, 0);
  return canvas;
}

/** What a surface holds, as keys: revision and size of its pixels and of its mask. */
function keysFor(layer: LayerView, maxSide: number) {
  const wanted: { maxSide?: number } = maxSide < Math.max(layer.width, layer.height) ? { maxSide } : {};
  const size = wanted.maxSide ?? 'full';
  return {
    wanted,
    pixelsKey: `${layer.pixelsRevision}@${size}`,
    maskKey: layer.hasMask ? `${layer.maskRevision}@${size}` : '',
  };
}

export class LayerSurface {
  readonly output: HTMLCanvasElement = document.createElement('canvas');
  private pixels: HTMLImageElement | null = null;
  private mask: HTMLCanvasElement | null = null;
  private pixelsKey = '';
  private maskKey = '';
  /** The layer's size in document pixels (the surface may hold fewer). */
  private layerWidth = 0;
  /** Whether the surface has pixels to draw. */
  ready = false;

  /** Surface pixels per layer pixel (1 at full resolution, less for a screen-size version). */
  get resolution(): number {
    return this.layerWidth > 0 && this.ready ? this.output.width / this.layerWidth : 1;
  }

  /**
   * Fetches what differs from the surface (pixels, mask) for `layer` at most `maxSide` pixels on
   * its longest side; resolves to a function that puts it in place, or null when nothing changed.
   */
  async prepare(docId: string, layer: LayerView, maxSide: number): Promise<(() => void) | null> {
    const { wanted, pixelsKey, maskKey } = keysFor(layer, maxSide);
    if (pixelsKey === this.pixelsKey && maskKey === this.maskKey) return null;
    const [pixels, mask] = await Promise.all([
      pixelsKey === this.pixelsKey
        ? this.pixels
        : loadImage({ docId, layerId: layer.id, what: 'pixels', revision: layer.pixelsRevision, ...wanted }),
      !layer.hasMask
        ? null
        : maskKey === this.maskKey
          ? this.mask
          : loadImage({
              docId,
              layerId: layer.id,
              what: 'mask',
              revision: layer.maskRevision,
              ...wanted,
            }).then(greyToAlpha),
    ]);
    return () => {
      this.pixels = pixels;
      this.mask = mask;
      this.pixelsKey = pixelsKey;
      this.maskKey = maskKey;
      this.layerWidth = layer.width;
      this.compose();
    };
  }

  /** Whether the surface already shows `layer` at this size (nothing to fetch). */
  isCurrent(layer: LayerView, maxSide: number): boolean {
    const { pixelsKey, maskKey } = keysFor(layer, maxSide);
    return pixelsKey === this.pixelsKey && maskKey === this.maskKey;
  }

  compose(): void {
    const pixels = this.pixels;
    if (!pixels) return;
    const { output } = this;
    if (output.width !== pixels.naturalWidth || output.height !== pixels.naturalHeight) {
      output.width = pixels.naturalWidth;
      output.height = pixels.naturalHeight;
    }
    const context = context2d(output);
    context.globalCompositeOperation = 'source-over';
    context.clearRect(0, 0, output.width, output.height);
    context.drawImage(pixels, 0, 0);
    if (this.mask) {
      context.globalCompositeOperation = 'destination-in';
      context.drawImage(this.mask, 0, 0, output.width, output.height);
      context.globalCompositeOperation = 'source-over';
    }
    this.ready = true;
  }

  /** The mask as the canvas shows it (white, alpha = mask), or null when the layer has none. */
  get maskCanvas(): HTMLCanvasElement | null {
    return this.mask;
  }

  /** Starts painting: a layer without a mask gets an empty one (the edit hidden until painted in). */
  beginMaskEdit(): void {
    if (this.mask || !this.pixels) return;
    const mask = document.createElement('canvas');
    mask.width = this.pixels.naturalWidth;
    mask.height = this.pixels.naturalHeight;
    this.mask = mask;
    this.compose();
  }

  /** Paints (or erases) the mask along a segment, in layer pixel coordinates. */
  stroke(x0: number, y0: number, x1: number, y1: number, brush: Brush): void {
    const mask = this.mask;
    if (!mask) return;
    const context = context2d(mask);
    // Layer pixels → mask pixels (the mask may be a screen-size version).
    const k = this.resolution;
    [x0, y0, x1, y1] = [x0 * k, y0 * k, x1 * k, y1 * k];
    const radius = Math.max(0.5, (brush.size / 2) * k);
    const inner = radius * Math.min(0.99, Math.max(0, brush.hardness));
    const distance = Math.hypot(x1 - x0, y1 - y0);
    const spacing = Math.max(1, radius * 0.2);
    const dabs = Math.max(1, Math.ceil(distance / spacing));
    context.globalCompositeOperation = brush.erase ? 'destination-out' : 'source-over';
    for (let i = 0; i <= dabs; i++) {
      const t = dabs === 0 ? 0 : i / dabs;
      const x = x0 + (x1 - x0) * t;
      const y = y0 + (y1 - y0) * t;
      const gradient = context.createRadialGradient(x, y, inner, x, y, radius);
      gradient.addColorStop(0, 'rgba(255,255,255,1)');
      gradient.addColorStop(1, 'rgba(255,255,255,0)');
      context.fillStyle = gradient;
      context.beginPath();
      context.arc(x, y, radius, 0, Math.PI * 2);
      context.fill();
    }
    context.globalCompositeOperation = 'source-over';
    this.compose();
  }

  /**
   * The mask as one grey byte per layer pixel (255 = the edit shows); a screen-size mask is scaled
   * up to the layer's size.
   */
  maskBytes(width: number, height: number): { width: number; height: number; data: Uint8Array } | null {
    let mask = this.mask;
    if (!mask) return null;
    if (mask.width !== width || mask.height !== height) {
      const full = document.createElement('canvas');
      full.width = width;
      full.height = height;
      const context = context2d(full);
      context.imageSmoothingQuality = 'high';
      context.drawImage(mask, 0, 0, width, height);
      mask = full;
    }
    const pixels = context2d(mask).getImageData(0, 0, mask.width, mask.height).data;
    const data = new Uint8Array(mask.width * mask.height);
    for (let i = 0; i < data.length; i++) data[i] = pixels[i * 4 + 3] ?? 0;
    return { width: mask.width, height: mask.height, data };
  }
}
