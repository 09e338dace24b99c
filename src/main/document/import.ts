/**
 * Opening a picture as a new document: the decoding itself (formats, EXIF orientation, 16-bit and
 * CMYK to 8-bit sRGB, header-checked pixel limit, truncated/corrupt detection) is image-io's
 * decodeImage; this adds what the document needs: a pixel limit the document chose, the notices
 * kept with the base image, and a notice when the size is past what PSD (not PSB) can hold.
 */
import { basename } from 'node:path';
import { LIMITS } from '../../shared/contract/schemas';
import type { RgbImage } from '../../shared/engine-types';
import { decodeImage, ImageDecodeError } from '../engine/image-io';

export { ImageDecodeError };

/** Documents refuse images with more pixels than this unless told otherwise (100 MP). */
export const DOCUMENT_MAX_PIXELS = LIMITS.documentPixels;

/** The PSD format's side limit (larger needs PSB, which export writes instead). */
export const PSD_MAX_SIDE = 30_000;

export interface ImportedImage {
  image: RgbImage;
  /** Conversions applied (bit depth, colour space, orientation…), for the user to see. */
  notices: string[];
  format: string;
  fileName: string | null;
}

export interface ImportOptions {
  maxPixels?: number;
  /** How to name a byte input in messages and in the document ("photo.jpg"). */
  name?: string;
}

export async function importImage(
  input: string | Uint8Array,
  options: ImportOptions = {},
): Promise<ImportedImage> {
  const maxPixels = options.maxPixels ?? DOCUMENT_MAX_PIXELS;
  const source =
    typeof input === 'string' ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const decoded = await decodeImage(source, {
    maxPixels,
    // The contract's side limit: every call on the document (masks, layers) must be able to name it.
    maxSide: LIMITS.imageSide,
    ...(options.name !== undefined ? { name: options.name } : {}),
  });
  const notices = [...decoded.notices];
  const { width, height } = decoded.image;
  if (width > PSD_MAX_SIDE || height > PSD_MAX_SIDE) {
    notices.push(
      `${width}×${height} is over PSD's ${PSD_MAX_SIDE}-pixel side limit; PSD export writes a PSB (large document) file`,
    );
  }
  const fileName = typeof input === 'string' ? basename(input) : (options.name ?? null);
  return { image: decoded.image, notices, format: decoded.format, fileName };
}
