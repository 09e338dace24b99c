/**
 * Content-addressed pixel storage. Every image the document uses (base, results, sources, masks) is
 * stored once under the sha-256 of its raw pixels and dimensions; records, diffs and history hold
 * only that hash. Raw pixels are kept in memory up to a budget; beyond it, images whose PNG is ready
 * drop their raw copy and are decoded again (and re-verified against the hash) when next needed.
 */
import { createHash } from 'node:crypto';
import type { OutputInfo } from 'sharp';
import sharp from '../native/sharp';
import type { RgbImage } from '../../shared/engine-types';
import type { PixelRef } from '../../shared/document/records';
import { copyInSteps } from '../util/turns';
import { ProjectFileError } from './errors';

export type PixelKind = 'rgb' | 'gray';

/** An 8-bit single-channel image (masks), row-major. */
export interface GrayImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface PixelInfo {
  kind: PixelKind;
  width: number;
  height: number;
}

interface Entry extends PixelInfo {
  raw: Uint8Array | null;
  png: Uint8Array | null;
  encoding: Promise<Uint8Array> | null;
  lastUsed: number;
}

const channelsOf = (kind: PixelKind): 1 | 3 => (kind === 'rgb' ? 3 : 1);

export function pixelHash(kind: PixelKind, width: number, height: number, data: Uint8Array): PixelRef {
  return createHash('sha256').update(`${kind} ${width} ${height}\n`).update(data).digest('hex');
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Bytes hashed per turn of the event loop by the InSteps functions (a few milliseconds' work). */
const HASH_STEP_BYTES = 2 * 1024 * 1024;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function digestInSteps(prefix: string, bytes: Uint8Array): Promise<string> {
  const hash = createHash('sha256').update(prefix);
  for (let start = 0; start < bytes.length; start += HASH_STEP_BYTES) {
    if (start > 0) await nextTurn();
    hash.update(bytes.subarray(start, start + HASH_STEP_BYTES));
  }
  return hash.digest('hex');
}

/**
 * pixelHash, a slice at a time with the event loop free between slices (a 6 MP picture is 18 MB,
 * a 100 MP one 300 MB of hashing). `data` must not change until it resolves.
 */
export function pixelHashInSteps(
  kind: PixelKind,
  width: number,
  height: number,
  data: Uint8Array,
): Promise<PixelRef> {
  return digestInSteps(`${kind} ${width} ${height}\n`, data);
}

/** sha256Hex a slice at a time (see pixelHashInSteps). */
export function sha256HexInSteps(bytes: Uint8Array): Promise<string> {
  return digestInSteps('', bytes);
}

function checkSize(kind: PixelKind, width: number, height: number, data: Uint8Array): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`invalid image size ${width}×${height}`);
  }
  if (data.length !== width * height * channelsOf(kind)) {
    throw new RangeError(
      `${kind} image data has ${data.length} bytes, expected ${width * height * channelsOf(kind)}`,
    );
  }
}

export interface PixelStoreOptions {
  /** Raw bytes to keep decoded in memory before evicting (default 1 GiB). */
  maxRawBytes?: number;
  /** zlib level for the PNGs (default 6). */
  pngCompressionLevel?: number;
}

export class PixelStore {
  private readonly entries = new Map<PixelRef, Entry>();
  private rawBytes = 0;
  private clock = 0;
  private readonly maxRawBytes: number;
  private readonly compressionLevel: number;

  constructor(options: PixelStoreOptions = {}) {
    this.maxRawBytes = options.maxRawBytes ?? 1024 ** 3;
    this.compressionLevel = options.pngCompressionLevel ?? 6;
  }

  has(ref: PixelRef): boolean {
    return this.entries.has(ref);
  }

  info(ref: PixelRef): PixelInfo | null {
    const e = this.entries.get(ref);
    return e ? { kind: e.kind, width: e.width, height: e.height } : null;
  }

  /** Stores raw pixels (copied) and returns their hash; identical pixels are stored once. */
  put(kind: PixelKind, image: { width: number; height: number; data: Uint8Array }): PixelRef {
    const { width, height, data } = image;
    checkSize(kind, width, height, data);
    const ref = pixelHash(kind, width, height, data);
    this.store(ref, kind, image, false);
    return ref;
  }

  private store(
    ref: PixelRef,
    kind: PixelKind,
    { width, height, data }: { width: number; height: number; data: Uint8Array },
    adopt: boolean,
  ): void {
    const existing = this.entries.get(ref);
    if (existing) {
      existing.lastUsed = ++this.clock;
      return;
    }
    const raw = adopt ? data : new Uint8Array(data); // own copy: callers may reuse their buffer
    this.entries.set(ref, { kind, width, height, raw, png: null, encoding: null, lastUsed: ++this.clock });
    this.rawBytes += raw.length;
    this.evict();
  }

  /**
   * put, with the pixels hashed in steps (see pixelHashInSteps); `image` must not change meanwhile.
   * With `adopt`, the store keeps `image.data` itself instead of a copy: the caller hands it over.
   */
  async putInSteps(
    kind: PixelKind,
    image: { width: number; height: number; data: Uint8Array },
    options: { adopt?: boolean } = {},
  ): Promise<PixelRef> {
    const { width, height, data } = image;
    checkSize(kind, width, height, data);
    const ref = await pixelHashInSteps(kind, width, height, data);
    if (options.adopt || this.entries.has(ref)) {
      this.store(ref, kind, image, options.adopt ?? false);
      return ref;
    }
    // The store's own copy, in steps too (a full-size picture copied at once holds the event loop).
    const own = await copyInSteps(data, HASH_STEP_BYTES);
    this.store(ref, kind, { width, height, data: own }, true);
    return ref;
  }

  putRgb(image: RgbImage): PixelRef {
    return this.put('rgb', image);
  }

  putGray(image: GrayImage): PixelRef {
    return this.put('gray', image);
  }

  /** Registers a PNG (from a project file) under its raw hash; decoded and verified when first used. */
  addPng(ref: PixelRef, info: PixelInfo, png: Uint8Array): void {
    if (this.entries.has(ref)) return;
    this.entries.set(ref, { ...info, raw: null, png, encoding: null, lastUsed: 0 });
  }

  /**
   * Decodes a PNG-only entry and checks that its pixels hash to its ref, without keeping them (the
   * project loader checks every image this way, so a tampered file is refused when it opens).
   */
  async verify(ref: PixelRef): Promise<void> {
    const e = this.entries.get(ref);
    if (!e) throw new ProjectFileError('missing-pixels', `No pixels stored under ${ref.slice(0, 12)}…`);
    if (!e.raw) await this.decode(ref, e);
  }

  /** The raw pixels (shared, do not modify). Decodes and verifies a PNG-only entry. */
  async get(ref: PixelRef): Promise<{ kind: PixelKind; width: number; height: number; data: Uint8Array }> {
    const e = this.entries.get(ref);
    if (!e) throw new ProjectFileError('missing-pixels', `No pixels stored under ${ref.slice(0, 12)}…`);
    e.lastUsed = ++this.clock;
    if (!e.raw) {
      const raw = await this.decode(ref, e);
      if (!e.raw) {
        e.raw = raw;
        this.rawBytes += raw.length;
        this.evict(ref);
      }
    }
    return { kind: e.kind, width: e.width, height: e.height, data: e.raw ?? (await this.decode(ref, e)) };
  }

  async getRgb(ref: PixelRef): Promise<RgbImage> {
    const img = await this.get(ref);
    if (img.kind !== 'rgb')
      throw new ProjectFileError('schema', `Pixels ${ref.slice(0, 12)}… are ${img.kind}, expected rgb`);
    return { width: img.width, height: img.height, data: img.data };
  }

  async getGray(ref: PixelRef): Promise<GrayImage> {
    const img = await this.get(ref);
    if (img.kind !== 'gray')
      throw new ProjectFileError('schema', `Pixels ${ref.slice(0, 12)}… are ${img.kind}, expected gray`);
    return { width: img.width, height: img.height, data: img.data };
  }

  /** The lossless PNG of an entry (encoded once, then kept). */
  async png(ref: PixelRef): Promise<Uint8Array> {
    const e = this.entries.get(ref);
    if (!e) throw new ProjectFileError('missing-pixels', `No pixels stored under ${ref.slice(0, 12)}…`);
    if (e.png) return e.png;
    if (!e.encoding) {
      const raw = e.raw;
      if (!raw) throw new Error(`pixels ${ref} have neither raw data nor a PNG`);
      e.encoding = this.encode(e, raw).then(
        (png) => {
          e.png = png;
          e.encoding = null;
          this.evict();
          return png;
        },
        (error: unknown) => {
          e.encoding = null;
          throw error;
        },
      );
    }
    return e.encoding;
  }

  /** Drops every entry not in `keep` (e.g. pixels no record or history entry references any more). */
  retainOnly(keep: ReadonlySet<PixelRef>): number {
    let dropped = 0;
    for (const [ref, e] of this.entries) {
      if (keep.has(ref)) continue;
      if (e.raw) this.rawBytes -= e.raw.length;
      this.entries.delete(ref);
      dropped++;
    }
    return dropped;
  }

  get stats(): { entries: number; rawBytes: number; pngBytes: number } {
    let pngBytes = 0;
    for (const e of this.entries.values()) pngBytes += e.png?.length ?? 0;
    return { entries: this.entries.size, rawBytes: this.rawBytes, pngBytes };
  }

  private async encode(info: PixelInfo, raw: Uint8Array): Promise<Uint8Array> {
    let image = sharp(raw, {
      raw: { width: info.width, height: info.height, channels: channelsOf(info.kind) },
    });
    // Without this, sharp writes one-channel raw input as an RGB PNG.
    if (info.kind === 'gray') image = image.toColourspace('b-w');
    const buf = await image
      .png({ compressionLevel: this.compressionLevel, adaptiveFiltering: true, palette: false })
      .toBuffer();
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
  }

  private async decode(ref: PixelRef, e: Entry): Promise<Uint8Array> {
    const png = e.png;
    if (!png) throw new Error(`pixels ${ref} have neither raw data nor a PNG`);
    const what = `The PNG for pixels ${ref.slice(0, 12)}…`;
    let data: Buffer;
    let info: OutputInfo;
    try {
      let image = sharp(png, { failOn: 'error', limitInputPixels: false });
      // sharp decodes a greyscale PNG to three channels unless told otherwise.
      if (e.kind === 'gray') image = image.extractChannel(0);
      ({ data, info } = await image.raw().toBuffer({ resolveWithObject: true }));
    } catch (error) {
      throw new ProjectFileError(
        'corrupt',
        `${what} cannot be decoded: ${(error as Error).message.split('\n')[0]}`,
        { cause: error },
      );
    }
    const channels = channelsOf(e.kind);
    if (info.width !== e.width || info.height !== e.height || info.channels !== channels) {
      throw new ProjectFileError(
        'corrupt',
        `${what} is ${info.width}×${info.height}×${info.channels}, expected ${e.width}×${e.height}×${channels}`,
      );
    }
    const raw = new Uint8Array(data.buffer, data.byteOffset, data.length);
    if ((await pixelHashInSteps(e.kind, e.width, e.height, raw)) !== ref) {
      throw new ProjectFileError('corrupt', `${what} decodes to different pixels than its hash says`);
    }
    return raw;
  }

  private evict(keep?: PixelRef): void {
    if (this.rawBytes <= this.maxRawBytes) return;
    const candidates = [...this.entries.entries()]
      .filter(([ref, e]) => e.raw && ref !== keep)
      .sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    for (const [ref, e] of candidates) {
      if (this.rawBytes <= this.maxRawBytes) break;
      if (!e.png) {
        // Not encoded yet: encode in the background; it becomes evictable afterwards.
        if (!e.encoding) void this.png(ref).catch(() => undefined);
        continue;
      }
      this.rawBytes -= e.raw?.length ?? 0;
      e.raw = null;
    }
  }
}
