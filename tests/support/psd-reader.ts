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
