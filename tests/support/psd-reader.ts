/**
 * Reads a PSD with ag-psd into plain pixel arrays, for tests. ag-psd decodes layer pixels into image
 * data objects it asks a factory for; without a DOM we give it plain objects, and no canvas at all.
 */
import { initializeCanvas, readPsd, type Psd, type ReadOptions } from 'ag-psd';

let initialized = false;

export function readPsdPixels(bytes: Uint8Array, options: ReadOptions = {}): Psd {
  if (!initialized) {
    initializeCanvas(
      () => {
        throw new Error('no canvas in tests: read with useImageData');
      },
      (width: number, height: number) => ({
        width,
        height,
        data: new Uint8ClampedArray(width * height * 4),
        colorSpace: 'srgb',
      }),
    );
    initialized = true;
  }
  return readPsd(bytes, { ...options, useImageData: true });
}

/** RGBA image data (as ag-psd reads it) → RGB bytes. */
export function rgbaToRgb(data: ArrayLike<number>, n: number): Uint8Array {
  const out = new Uint8Array(n * 3);
  for (let p = 0; p < n; p++) {
    out[p * 3] = data[p * 4] ?? 0;
    out[p * 3 + 1] = data[p * 4 + 1] ?? 0;
    out[p * 3 + 2] = data[p * 4 + 2] ?? 0;
  }
  return out;
}

/** 'equal', or where two byte arrays first differ (a readable failure for large arrays). */
export function firstDiff(a: Uint8Array, b: Uint8Array): string {
  if (a.length !== b.length) return `lengths ${a.length} vs ${b.length}`;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `byte ${i}: ${a[i]} vs ${b[i]}`;
  return 'equal';
}
