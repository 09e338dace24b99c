/**
 * One layer as drawn on the canvas: its pixels with its mask applied (mask grey → alpha), kept in
 * an offscreen canvas that Konva draws. Mask painting edits the mask canvas in place, so strokes
 * show immediately; the finished mask is sent to the main side as one grey byte per pixel.
 */
import type { LayerView } from '../../../../shared/contract/schemas';
import { loadLayerImage } from '../../hooks/images';

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

export class LayerSurface {
  readonly output: HTMLCanvasElement = document.createElement('canvas');
  private pixels: HTMLImageElement | null = null;
  private mask: HTMLCanvasElement | null = null;
  private pixelsRevision = -1;
  private maskRevision = -1;
  private hasMask = false;
  private seq = 0;
  /** Whether the surface has pixels to draw. */
  ready = false;

  /** Brings the surface up to the layer's revisions; resolves true when something changed. */
  async sync(layer: LayerView): Promise<boolean> {
    const seq = ++this.seq;
    const wantPixels = layer.pixelsRevision !== this.pixelsRevision;
    const wantMask =
      layer.hasMask !== this.hasMask || (layer.hasMask && layer.maskRevision !== this.maskRevision);
    if (!wantPixels && !wantMask) return false;
    const [pixels, mask] = await Promise.all([
      wantPixels ? loadLayerImage(layer.id, 'pixels', layer.pixelsRevision) : Promise.resolve(this.pixels),
      wantMask && layer.hasMask
        ? loadLayerImage(layer.id, 'mask', layer.maskRevision).then(greyToAlpha)
        : Promise.resolve(layer.hasMask ? this.mask : null),
    ]);
    if (seq !== this.seq) return false;
    this.pixels = pixels;
    this.mask = mask;
    this.pixelsRevision = layer.pixelsRevision;
    this.maskRevision = layer.maskRevision;
    this.hasMask = layer.hasMask;
    this.compose();
    return true;
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
    const radius = Math.max(0.5, brush.size / 2);
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

  /** The mask as one grey byte per pixel (255 = the edit shows). */
  maskBytes(): { width: number; height: number; data: Uint8Array } | null {
    const mask = this.mask;
    if (!mask) return null;
    const pixels = context2d(mask).getImageData(0, 0, mask.width, mask.height).data;
    const data = new Uint8Array(mask.width * mask.height);
    for (let i = 0; i < data.length; i++) data[i] = pixels[i * 4 + 3] ?? 0;
    return { width: mask.width, height: mask.height, data };
  }
}
