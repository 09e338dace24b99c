/**
 * The zip container of project files, written from the zip specification (APPNOTE): a writer for
 * stored and deflated entries whose sizes and CRCs are known up front (no data descriptors, no
 * ZIP64), and a reader that works from bytes or from an open file. The reader parses the central
 * directory first and then reads only the entries asked for, checking every offset and size against
 * the file, so a damaged or hostile file fails with a clear error instead of a huge allocation.
 *
 * Kept small on purpose: projects only need what this writer writes, plus what common tools write
 * when a user re-zips a project folder (stored or deflated entries, data descriptors, a comment).
 */
import type { FileHandle } from 'node:fs/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { crc32, createInflateRaw, deflateRawSync } from 'node:zlib';
import { allocateWithHeadroom } from '../../shared/contract/wire';

const LOCAL_HEADER_SIGNATURE = 0x04034b50;
const CENTRAL_HEADER_SIGNATURE = 0x02014b50;
const END_OF_CENTRAL_DIRECTORY_SIGNATURE = 0x06054b50;
const LOCAL_HEADER_SIZE = 30;
const CENTRAL_HEADER_SIZE = 46;
const END_OF_CENTRAL_DIRECTORY_SIZE = 22;
const MAX_COMMENT = 0xffff;
/** Sizes and offsets are 32-bit without ZIP64 (0xffffffff itself means "see the ZIP64 record"). */
export const ZIP32_MAX_BYTES = 0xfffffffe;
export const ZIP32_MAX_ENTRIES = 0xfffe;
const METHOD_STORED = 0;
const METHOD_DEFLATED = 8;
const FLAG_ENCRYPTED = 0x0001;
const FLAG_UTF8 = 0x0800;
/** Reads from files go in slices of this size (fs reads take at most 2 GiB at once). */
const READ_SLICE = 256 * 1024 * 1024;

export type ZipErrorKind = 'not-zip' | 'corrupt' | 'too-large';

export class ZipError extends Error {
  override name = 'ZipError';
  constructor(
    readonly kind: ZipErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

// ---- Writing ------------------------------------------------------------------------------------

export interface ZipInputEntry {
  /** ASCII path inside the zip ("project.json", "pixels/<hash>.png"). */
  name: string;
  data: Uint8Array;
  /** zlib level; 0 stores the bytes as they are (PNGs are compressed already). */
  level: number;
  /** The data's CRC-32 when the caller has it already (computed off the event loop). */
  crc32?: number;
}

/** A zip as the chunks to write in order (entry data is referenced, not copied) and its total size. */
export interface ZipLayout {
  chunks: Uint8Array[];
  size: number;
}

function dosDateTime(date: Date): { time: number; date: number } {
  const year = Math.min(Math.max(date.getFullYear(), 1980), 2107);
  return {
    time: (date.getHours() << 11) | (date.getMinutes() << 5) | (date.getSeconds() >> 1),
    date: ((year - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate(),
  };
}

/** Lays out a zip. Throws ZipError('too-large') past what a zip without ZIP64 can hold. */
export function buildZip(entries: readonly ZipInputEntry[], modified: Date = new Date()): ZipLayout {
  if (entries.length > ZIP32_MAX_ENTRIES) {
    throw new ZipError('too-large', `${entries.length} entries are more than a zip can hold`);
  }
  const { time, date } = dosDateTime(modified);
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  const names = new Set<string>();
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    if (names.has(entry.name) || name.length === 0 || name.length > 0xffff) {
      throw new Error(`invalid or duplicate zip entry name ${JSON.stringify(entry.name)}`);
    }
    names.add(entry.name);
    let method = METHOD_STORED;
    let stored = entry.data;
    if (entry.level > 0) {
      const deflated = deflateRawSync(entry.data, { level: entry.level });
      if (deflated.length < entry.data.length) {
        method = METHOD_DEFLATED;
        stored = deflated;
      }
    }
    if (entry.data.length > ZIP32_MAX_BYTES || offset > ZIP32_MAX_BYTES) {
      throw new ZipError('too-large', 'the data is larger than the 4 GiB a zip can hold');
    }
    const crc = entry.crc32 ?? crc32(entry.data);
    const local = Buffer.alloc(LOCAL_HEADER_SIZE + name.length);
    local.writeUInt32LE(LOCAL_HEADER_SIGNATURE, 0);
    local.writeUInt16LE(20, 4); // version needed: 2.0 (deflate)
    local.writeUInt16LE(FLAG_UTF8, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(time, 10);
    local.writeUInt16LE(date, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(stored.length, 18);
    local.writeUInt32LE(entry.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28); // no extra field
    name.copy(local, LOCAL_HEADER_SIZE);

    const header = Buffer.alloc(CENTRAL_HEADER_SIZE + name.length);
    header.writeUInt32LE(CENTRAL_HEADER_SIGNATURE, 0);
    header.writeUInt16LE(20, 4); // version made by: 2.0, MS-DOS attributes
    header.writeUInt16LE(20, 6);
    header.writeUInt16LE(FLAG_UTF8, 8);
    header.writeUInt16LE(method, 10);
    header.writeUInt16LE(time, 12);
    header.writeUInt16LE(date, 14);
    header.writeUInt32LE(crc, 16);
    header.writeUInt32LE(stored.length, 20);
    header.writeUInt32LE(entry.data.length, 24);
    header.writeUInt16LE(name.length, 28);
    // extra length, comment length, disk number, internal and external attributes: 0
    header.writeUInt32LE(offset, 42);
    name.copy(header, CENTRAL_HEADER_SIZE);
    central.push(header);

    chunks.push(local, stored);
    offset += local.length + stored.length;
  }
  const centralSize = central.reduce((sum, c) => sum + c.length, 0);
  if (offset + centralSize + END_OF_CENTRAL_DIRECTORY_SIZE > ZIP32_MAX_BYTES) {
    throw new ZipError('too-large', 'the data is larger than the 4 GiB a zip can hold');
  }
  const end = Buffer.alloc(END_OF_CENTRAL_DIRECTORY_SIZE);
  end.writeUInt32LE(END_OF_CENTRAL_DIRECTORY_SIGNATURE, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  chunks.push(...central, end);
  return { chunks, size: offset + centralSize + END_OF_CENTRAL_DIRECTORY_SIZE };
}

/** The layout as one buffer. */
export function concatZip(layout: ZipLayout): Uint8Array {
  const out = new Uint8Array(layout.size);
  let at = 0;
  for (const chunk of layout.chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** Bytes copied (concatZipAsync) or checksummed (crc32Sliced) between turns of the event loop. */
const ASYNC_SLICE = 4 * 1024 * 1024;

/** The CRC-32 of `data`, a slice at a time, so other calls are answered meanwhile. */
export async function crc32Sliced(data: Uint8Array): Promise<number> {
  let crc = 0;
  for (let from = 0; from < data.length; from += ASYNC_SLICE) {
    crc = crc32(data.subarray(from, Math.min(data.length, from + ASYNC_SLICE)), crc);
    if (from + ASYNC_SLICE < data.length) await nextTurn();
  }
  return crc;
}

/** The layout as one buffer, copied a slice at a time so other calls are answered meanwhile. */
export async function concatZipAsync(layout: ZipLayout): Promise<Uint8Array> {
  // Room for the wire's header in front: browser mode sends a save as one frame, uncopied.
  const out = allocateWithHeadroom(layout.size);
  let at = 0;
  let sinceYield = 0;
  for (const chunk of layout.chunks) {
    for (let from = 0; from < chunk.length; from += ASYNC_SLICE) {
      const part = chunk.subarray(from, Math.min(chunk.length, from + ASYNC_SLICE));
      out.set(part, at);
      at += part.length;
      sinceYield += part.length;
      if (sinceYield >= ASYNC_SLICE) {
        sinceYield = 0;
        await nextTurn();
      }
    }
  }
  return out;
}

// ---- Reading ------------------------------------------------------------------------------------

/** Random access to the zip's bytes. */
export interface ZipSource {
  readonly size: number;
  /** Exactly `length` bytes at `offset` (the caller checks the range against `size`). */
  read(offset: number, length: number): Promise<Uint8Array>;
}

export function bytesSource(bytes: Uint8Array): ZipSource {
  return {
    size: bytes.length,
    read: async (offset, length) => bytes.subarray(offset, offset + length),
  };
}

/** Reads from an open file of the given size; a file that shrinks meanwhile fails as 'corrupt'. */
export function fileSource(handle: FileHandle, size: number): ZipSource {
  return {
    size,
    read: async (offset, length) => {
      const out = Buffer.allocUnsafe(length);
      let done = 0;
      while (done < length) {
        const want = Math.min(READ_SLICE, length - done);
        const { bytesRead } = await handle.read(out, done, want, offset + done);
        if (bytesRead === 0)
          throw new ZipError('corrupt', 'the file ended early (was it changed while reading?)');
        done += bytesRead;
      }
      return out;
    },
  };
}

export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated. */
  method: number;
  flags: number;
  crc: number;
  compressedSize: number;
  /** Uncompressed size as the central directory declares it (checked when the entry is read). */
  size: number;
  localOffset: number;
}

const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

function startsWith(bytes: Uint8Array, magic: readonly number[]): boolean {
  return magic.every((b, i) => bytes[i] === b);
}

/** Reads and checks the central directory; entries by name. */
export async function readZipDirectory(
  source: ZipSource,
  options: { maxDirectoryBytes?: number } = {},
): Promise<Map<string, ZipEntry>> {
  const { size } = source;
  if (size === 0) throw new ZipError('not-zip', 'the file is empty');
  const head = await source.read(0, Math.min(4, size));
  const looksLikeZip =
    startsWith(head, [0x50, 0x4b, 0x03, 0x04]) || startsWith(head, [0x50, 0x4b, 0x05, 0x06]);
  if (size < END_OF_CENTRAL_DIRECTORY_SIZE) {
    throw new ZipError(looksLikeZip ? 'corrupt' : 'not-zip', `the file is only ${size} bytes`);
  }
  // The end record sits at the very end, followed only by an optional comment of up to 64 KiB.
  const tailLength = Math.min(size, END_OF_CENTRAL_DIRECTORY_SIZE + MAX_COMMENT);
  const tailStart = size - tailLength;
  const tail = await source.read(tailStart, tailLength);
  const tailView = view(tail);
  let endAt = -1;
  for (let i = tail.length - END_OF_CENTRAL_DIRECTORY_SIZE; i >= 0; i--) {
    if (
      tailView.getUint32(i, true) === END_OF_CENTRAL_DIRECTORY_SIGNATURE &&
      tailView.getUint16(i + 20, true) === tail.length - i - END_OF_CENTRAL_DIRECTORY_SIZE
    ) {
      endAt = i;
      break;
    }
  }
  if (endAt < 0) {
    throw looksLikeZip
      ? new ZipError('corrupt', 'the zip is truncated or damaged (its end-of-archive record is missing)')
      : new ZipError('not-zip', 'the file is not a zip archive');
  }
  const diskNumber = tailView.getUint16(endAt + 4, true);
  const directoryDisk = tailView.getUint16(endAt + 6, true);
  const entriesOnDisk = tailView.getUint16(endAt + 8, true);
  const count = tailView.getUint16(endAt + 10, true);
  const directorySize = tailView.getUint32(endAt + 12, true);
  const directoryOffset = tailView.getUint32(endAt + 16, true);
  if (count === 0xffff || directorySize === 0xffffffff || directoryOffset === 0xffffffff) {
    throw new ZipError(
      'too-large',
      'the zip uses ZIP64 (over 4 GiB or 65,535 entries), which is not supported',
    );
  }
  if (diskNumber !== 0 || directoryDisk !== 0 || entriesOnDisk !== count) {
    throw new ZipError('corrupt', 'multi-part zip archives are not supported');
  }
  const endOffset = tailStart + endAt;
  if (directoryOffset + directorySize > endOffset) {
    throw new ZipError('corrupt', 'the zip is truncated or damaged (its directory lies outside the file)');
  }
  const maxDirectoryBytes = options.maxDirectoryBytes ?? 64 * 1024 * 1024;
  if (directorySize > maxDirectoryBytes) {
    throw new ZipError('too-large', `the zip directory is ${directorySize} bytes, over the limit`);
  }
  const directory = await source.read(directoryOffset, directorySize);
  const dir = view(directory);
  const decoder = new TextDecoder('utf-8', { fatal: false });
  const entries = new Map<string, ZipEntry>();
  let at = 0;
  for (let n = 0; n < count; n++) {
    if (at + CENTRAL_HEADER_SIZE > directory.length || dir.getUint32(at, true) !== CENTRAL_HEADER_SIGNATURE) {
      throw new ZipError('corrupt', `the zip directory is damaged (entry ${n + 1} of ${count})`);
    }
    const nameLength = dir.getUint16(at + 28, true);
    const extraLength = dir.getUint16(at + 30, true);
    const commentLength = dir.getUint16(at + 32, true);
    const next = at + CENTRAL_HEADER_SIZE + nameLength + extraLength + commentLength;
    if (next > directory.length) {
      throw new ZipError('corrupt', `the zip directory is damaged (entry ${n + 1} of ${count})`);
    }
    const entry: ZipEntry = {
      name: decoder.decode(
        directory.subarray(at + CENTRAL_HEADER_SIZE, at + CENTRAL_HEADER_SIZE + nameLength),
      ),
      flags: dir.getUint16(at + 8, true),
      method: dir.getUint16(at + 10, true),
      crc: dir.getUint32(at + 16, true),
      compressedSize: dir.getUint32(at + 20, true),
      size: dir.getUint32(at + 24, true),
      localOffset: dir.getUint32(at + 42, true),
    };
    if (
      entry.compressedSize === 0xffffffff ||
      entry.size === 0xffffffff ||
      entry.localOffset === 0xffffffff
    ) {
      throw new ZipError('too-large', `zip entry ${entry.name} uses ZIP64, which is not supported`);
    }
    if (entries.has(entry.name)) {
      throw new ZipError('corrupt', `the zip lists ${entry.name} twice`);
    }
    entries.set(entry.name, entry);
    at = next;
  }
  return entries;
}

/**
 * One entry's uncompressed bytes. The declared sizes are checked against the file and against
 * `maxBytes` before anything is allocated, and inflating stops at the declared size, so a zip bomb
 * costs at most `maxBytes`. The CRC is checked unless `checkCrc` is false (the caller checks a
 * stronger hash).
 */
export async function readZipEntry(
  source: ZipSource,
  entry: ZipEntry,
  options: { maxBytes: number; checkCrc?: boolean },
): Promise<Uint8Array> {
  if (entry.flags & FLAG_ENCRYPTED) throw new ZipError('corrupt', `${entry.name} is encrypted`);
  if (entry.method !== METHOD_STORED && entry.method !== METHOD_DEFLATED) {
    throw new ZipError('corrupt', `${entry.name} uses an unsupported compression method (${entry.method})`);
  }
  if (entry.size > options.maxBytes) {
    throw new ZipError(
      'too-large',
      `${entry.name} is ${entry.size} bytes uncompressed, over the ${options.maxBytes}-byte limit`,
    );
  }
  if (entry.method === METHOD_STORED && entry.compressedSize !== entry.size) {
    throw new ZipError('corrupt', `${entry.name} is stored with inconsistent sizes`);
  }
  if (entry.localOffset + LOCAL_HEADER_SIZE > source.size) {
    throw new ZipError('corrupt', `${entry.name} lies outside the file (truncated?)`);
  }
  const local = view(await source.read(entry.localOffset, LOCAL_HEADER_SIZE));
  if (local.getUint32(0, true) !== LOCAL_HEADER_SIGNATURE) {
    throw new ZipError('corrupt', `the header of ${entry.name} is damaged`);
  }
  const dataOffset =
    entry.localOffset + LOCAL_HEADER_SIZE + local.getUint16(26, true) + local.getUint16(28, true);
  if (dataOffset + entry.compressedSize > source.size) {
    throw new ZipError('corrupt', `${entry.name} lies outside the file (truncated?)`);
  }
  const stored = await source.read(dataOffset, entry.compressedSize);
  if (entry.method === METHOD_STORED) {
    if (options.checkCrc !== false && (await crc32Sliced(stored)) !== entry.crc) {
      throw new ZipError('corrupt', `${entry.name} fails its CRC check`);
    }
    return stored;
  }
  const { data, crc } = await inflateInto(stored, entry);
  if (options.checkCrc !== false && crc !== entry.crc) {
    throw new ZipError('corrupt', `${entry.name} fails its CRC check`);
  }
  return data;
}

/** Output bytes zlib hands back at a time while inflating. */
const INFLATE_CHUNK = 64 * 1024;

/**
 * Inflates an entry in zlib's thread pool straight into one array of its declared size, with the
 * CRC taken chunk by chunk: the event loop only ever copies one chunk at a time (zlib's own
 * one-buffer inflate joins every chunk at the end, in one go: ~0.2 s for 40 MB here). An entry
 * that inflates past its declared size is stopped there.
 */
function inflateInto(compressed: Uint8Array, entry: ZipEntry): Promise<{ data: Uint8Array; crc: number }> {
  const data = new Uint8Array(entry.size);
  let filled = 0;
  let crc = 0;
  return new Promise((resolve, reject) => {
    const inflater = createInflateRaw({ chunkSize: INFLATE_CHUNK });
    inflater.on('data', (chunk: Buffer) => {
      if (filled + chunk.length > data.length) {
        inflater.destroy(
          new ZipError('corrupt', `${entry.name} decompresses to more than its declared ${entry.size} bytes`),
        );
        return;
      }
      data.set(chunk, filled);
      filled += chunk.length;
      crc = crc32(chunk, crc);
    });
    inflater.on('error', (error) =>
      reject(
        error instanceof ZipError
          ? error
          : new ZipError('corrupt', `${entry.name} cannot be decompressed: ${error.message}`, {
              cause: error,
            }),
      ),
    );
    inflater.on('end', () => {
      if (filled !== data.length) {
        reject(
          new ZipError(
            'corrupt',
            `${entry.name} decompresses to fewer bytes than its declared ${entry.size}`,
          ),
        );
      } else {
        resolve({ data, crc });
      }
    });
    inflater.end(compressed);
  });
}
