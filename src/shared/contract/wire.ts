/**
 * Messages on the browser-mode WebSocket. A message without bytes is a text frame of plain JSON. A
 * message with bytes (uploads, saves, exports, layer images) is one binary frame, so bytes travel as
 * bytes, never as base64 text:
 *
 *   "IEW1" | header length (uint32, little-endian) | header (UTF-8 JSON) | segment 0 | segment 1 | …
 *
 * The header is `{"sizes":[n0,n1,…],"message":…}`; inside the message every Uint8Array is replaced by
 * `{"$bytes": i}`, the index of its segment. Decoding checks sizes, nesting and placeholders before
 * anything else looks at the message; segments come back as views into the frame (no copy).
 *
 * A frame larger than a piece (LIMITS.wirePieceBytes) goes to the server as several binary messages,
 * so that no received message is large:
 *
 *   "IEP1" | frame's total length (uint32, LE) | this slice's offset in it (uint32, LE) | slice
 *
 * sent in order; the server puts them back together (`PieceAssembler`) and decodes the whole.
 * Works in browsers and in Node (no Buffer): the renderer and the server share it.
 */
import { LIMITS } from './limits';

const BYTES_KEY = '$bytes';
const MAGIC = [0x49, 0x45, 0x57, 0x31]; // "IEW1"
const PREFIX_BYTES = 8;
const PIECE_MAGIC = [0x49, 0x45, 0x50, 0x31]; // "IEP1"
/** A piece's prefix: magic, total, offset. */
export const PIECE_PREFIX_BYTES = 12;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

/** Messages on the WebSocket. Client → server: call. Server → client: result, event. */
export type WireMessage =
  | { type: 'call'; id: number; name: string; payload: unknown }
  | { type: 'result'; id: number; ok: true; value: unknown }
  /** `id` is null when the call's id could not be read from a refused frame. */
  | { type: 'result'; id: number | null; ok: false; error: { code: string; message: string } }
  | { type: 'event'; name: string; payload: unknown }
  | { type: 'hello'; mode: 'browser' };

export interface WireLimits {
  /** A text frame, or a binary frame's JSON header. */
  jsonBytes: number;
  /** A whole frame, header and bytes. */
  frameBytes: number;
  /** Arrays and objects inside one another. */
  depth: number;
  /** A frame larger than this is sent as pieces of at most this many bytes (plus their prefix). */
  pieceBytes: number;
}

export const WIRE_LIMITS: WireLimits = {
  jsonBytes: LIMITS.wireJsonBytes,
  frameBytes: LIMITS.wireFrameBytes,
  depth: LIMITS.wireDepth,
  pieceBytes: LIMITS.wirePieceBytes,
};

/** The largest WebSocket message a receiver needs to take: a text frame or one piece. */
export function largestMessageBytes(limits: WireLimits): number {
  return Math.max(limits.jsonBytes, limits.pieceBytes + PIECE_PREFIX_BYTES);
}

/**
 * What decoding found. `unreadable`: not a frame of this protocol at all (the connection should
 * close). `refused`: readable JSON that breaks a rule; `id` is the call's id when it could be read.
 */
export type DecodedWire =
  | { ok: true; message: unknown }
  | { ok: false; kind: 'unreadable'; reason: string; tooLarge?: boolean }
  | { ok: false; kind: 'refused'; reason: string; id: number | null };

/** Past this many objects and arrays, `holdsNoBytes` stops looking (and the replacer decides). */
const BYTES_SEARCH_LIMIT = 1_000_000;

/**
 * Whether `value` surely holds no Uint8Array and nothing with a toJSON method, so plain
 * JSON.stringify gives the same text as the replacer below. A replacer is called for every key and
 * makes stringifying a large document view several times slower; this walk costs a fraction of it.
 */
function holdsNoBytes(value: unknown): boolean {
  const stack: unknown[] = [value];
  let visited = 0;
  while (stack.length > 0) {
    const item = stack.pop();
    if (item === null || typeof item !== 'object') continue;
    if (++visited > BYTES_SEARCH_LIMIT || ArrayBuffer.isView(item)) return false;
    if (typeof (item as { toJSON?: unknown }).toJSON === 'function') return false;
    if (Array.isArray(item)) {
      for (const element of item) if (element !== null && typeof element === 'object') stack.push(element);
    } else {
      for (const key in item) {
        if (!Object.hasOwn(item, key)) continue;
        const field = (item as Record<string, unknown>)[key];
        if (field !== null && typeof field === 'object') stack.push(field);
      }
    }
  }
  return true;
}

/**
 * Bytes kept free in front of a large result (a save, an export) so that its frame's header can be
 * written there and the frame sent as one piece of memory: a receiver then takes it in as one
 * message, where a message in two fragments (header, bytes) cost Node's `ws` client twice the time.
 */
export const WIRE_HEADROOM_BYTES = 64 * 1024;
const viewsWithHeadroom = new WeakSet<Uint8Array>();

/** `size` zeroed bytes with WIRE_HEADROOM_BYTES free in front of them (see offerHeadroom). */
export function allocateWithHeadroom(size: number): Uint8Array {
  return offerHeadroom(
    new Uint8Array(new ArrayBuffer(WIRE_HEADROOM_BYTES + size), WIRE_HEADROOM_BYTES, size),
  );
}

/**
 * Lets the next frame that carries `view` as its only bytes write its header into the free bytes in
 * front of it. Only for arrays made by allocateWithHeadroom (here, or in a worker and moved here):
 * whatever lies in front of the view is overwritten. Used once; the view itself is never changed.
 */
export function offerHeadroom(view: Uint8Array): Uint8Array {
  if (view.byteOffset >= WIRE_HEADROOM_BYTES) viewsWithHeadroom.add(view);
  return view;
}

/**
 * The frame as parts (header, then each byte segment as given): a sender may write them without
 * joining. A single segment with headroom (offerHeadroom) comes back as one part, header included.
 */
export function encodeWireParts(value: unknown): string | Uint8Array[] {
  if (holdsNoBytes(value)) return JSON.stringify(value);
  const segments: Uint8Array[] = [];
  // `this[key]` is the value before toJSON ran: a Node Buffer would otherwise arrive as {type, data}.
  const json = JSON.stringify(value, function (this: Record<string, unknown>, key: string, item: unknown) {
    const original = this[key];
    if (original instanceof Uint8Array) {
      segments.push(original);
      return { [BYTES_KEY]: segments.length - 1 };
    }
    return item;
  });
  if (segments.length === 0) return json;
  const header = textEncoder.encode(
    `{"sizes":${JSON.stringify(segments.map((segment) => segment.length))},"message":${json}}`,
  );
  const prefix = new Uint8Array(PREFIX_BYTES + header.length);
  prefix.set(MAGIC, 0);
  new DataView(prefix.buffer).setUint32(4, header.length, true);
  prefix.set(header, PREFIX_BYTES);
  const only = segments.length === 1 ? segments[0]! : null;
  if (only && viewsWithHeadroom.has(only) && prefix.length <= WIRE_HEADROOM_BYTES) {
    // Once: a second frame written in front of bytes still waiting in a socket would change them.
    viewsWithHeadroom.delete(only);
    const frame = new Uint8Array(only.buffer, only.byteOffset - prefix.length, prefix.length + only.length);
    frame.set(prefix);
    return [frame];
  }
  return [prefix, ...segments];
}

/** One frame: a string (text frame) or the joined bytes (binary frame). */
export function encodeWire(value: unknown): string | Uint8Array {
  const parts = encodeWireParts(value);
  if (typeof parts === 'string') return parts;
  return joinParts(
    parts,
    parts.reduce((sum, part) => sum + part.length, 0),
  );
}

/**
 * The WebSocket messages that carry one frame: a text frame as it is, a binary frame up to
 * `pieceBytes` joined, a larger one as pieces cut straight from its parts (never joined whole).
 */
export function wireMessages(
  parts: string | Uint8Array[],
  pieceBytes: number = WIRE_LIMITS.pieceBytes,
): (string | Uint8Array)[] {
  if (typeof parts === 'string') return [parts];
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  if (total <= pieceBytes) return [joinParts(parts, total)];
  if (total > 0xffffffff) throw new RangeError(`a frame of ${total} bytes is too large to send`);
  const pieces: Uint8Array[] = [];
  let part = 0;
  let partOffset = 0;
  for (let offset = 0; offset < total; offset += pieceBytes) {
    const length = Math.min(pieceBytes, total - offset);
    const piece = new Uint8Array(PIECE_PREFIX_BYTES + length);
    piece.set(PIECE_MAGIC, 0);
    const view = new DataView(piece.buffer);
    view.setUint32(4, total, true);
    view.setUint32(8, offset, true);
    let filled = PIECE_PREFIX_BYTES;
    while (filled < piece.length) {
      const source = parts[part]!;
      const take = Math.min(source.length - partOffset, piece.length - filled);
      piece.set(source.subarray(partOffset, partOffset + take), filled);
      filled += take;
      partOffset += take;
      if (partOffset === source.length) {
        part++;
        partOffset = 0;
      }
    }
    pieces.push(piece);
  }
  return pieces;
}

function joinParts(parts: Uint8Array[], total: number): Uint8Array {
  const frame = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    frame.set(part, offset);
    offset += part.length;
  }
  return frame;
}

function readableId(parsed: unknown): number | null {
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
  const id = (parsed as Record<string, unknown>).id;
  return typeof id === 'number' && Number.isSafeInteger(id) ? id : null;
}

/**
 * Walks the parsed JSON without recursion (a hostile frame may nest a million levels deep), checks
 * the depth and swaps byte placeholders for their segments. Returns a reason when a rule is broken.
 */
function resolvePlaceholders(root: unknown, segments: Uint8Array[], maxDepth: number): string | null {
  const stack: { holder: Record<string, unknown> | unknown[]; depth: number }[] = [];
  if (root && typeof root === 'object') stack.push({ holder: root as Record<string, unknown>, depth: 1 });
  while (stack.length > 0) {
    const { holder, depth } = stack.pop()!;
    if (depth > maxDepth) return `nested more than ${maxDepth} levels deep`;
    const keys = Array.isArray(holder) ? holder.keys() : Object.keys(holder).values();
    for (const key of keys) {
      const item = (holder as Record<string | number, unknown>)[key];
      if (!item || typeof item !== 'object') continue;
      if (!Array.isArray(item) && Object.hasOwn(item, BYTES_KEY)) {
        const index = (item as Record<string, unknown>)[BYTES_KEY];
        if (Object.keys(item).length !== 1 || typeof index !== 'number' || !Number.isInteger(index))
          return 'a $bytes placeholder must be {"$bytes": <segment index>}';
        const segment = segments[index];
        if (!segment) return `no byte segment ${index} in this frame (bytes travel in binary frames)`;
        (holder as Record<string | number, unknown>)[key] = segment;
        continue;
      }
      stack.push({ holder: item as Record<string, unknown>, depth: depth + 1 });
    }
  }
  return null;
}

const ID_VALUE = /\s*:\s*(-?\d+)(?![\d.eE])/y;

/**
 * One pass over JSON text, before it is parsed: how deep arrays and objects nest, and the "id" key's
 * number at `idDepth` (1: the top level) when there is one. Parsing a million-deep frame takes seconds of the event loop; this scan
 * takes milliseconds and lets such a frame be refused (with its call id) without parsing it.
 */
export function scanJson(
  text: string,
  maxDepth: number,
  idDepth = 1,
): { tooDeep: boolean; id: number | null } {
  let depth = 0;
  let tooDeep = false;
  let id: number | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const start = i + 1;
      for (i = start; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
      if (depth === idDepth && id === null && i - start === 2 && text.startsWith('id', start)) {
        ID_VALUE.lastIndex = i + 1;
        const match = ID_VALUE.exec(text);
        const value = match ? Number(match[1]) : NaN;
        if (Number.isSafeInteger(value)) id = value;
      }
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) tooDeep = true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return { tooDeep, id };
}

function tooDeep(text: string, limits: WireLimits, idDepth: number): DecodedWire | null {
  const scan = scanJson(text, limits.depth, idDepth);
  return scan.tooDeep
    ? { ok: false, kind: 'refused', reason: `nested more than ${limits.depth} levels deep`, id: scan.id }
    : null;
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

function decodeParsed(parsed: unknown, segments: Uint8Array[], limits: WireLimits): DecodedWire {
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    return { ok: false, kind: 'refused', reason: 'a message is a JSON object', id: null };
  const reason = resolvePlaceholders(parsed, segments, limits.depth);
  if (reason) return { ok: false, kind: 'refused', reason, id: readableId(parsed) };
  return { ok: true, message: parsed };
}

/** Decodes a text or binary frame; sizes are checked before any parsing. */
export function decodeWire(frame: string | Uint8Array, limits: WireLimits = WIRE_LIMITS): DecodedWire {
  if (typeof frame === 'string') {
    // A UTF-16 length bounds the UTF-8 size from below; a frame this long is refused unparsed.
    if (frame.length > limits.jsonBytes)
      return {
        ok: false,
        kind: 'unreadable',
        reason: `text frame over ${limits.jsonBytes} bytes`,
        tooLarge: true,
      };
    const deep = tooDeep(frame, limits, 1);
    if (deep) return deep;
    const parsed = parseJson(frame);
    if (!parsed.ok) return { ok: false, kind: 'unreadable', reason: 'not JSON' };
    return decodeParsed(parsed.value, [], limits);
  }
  if (frame.length > limits.frameBytes)
    return { ok: false, kind: 'unreadable', reason: `frame over ${limits.frameBytes} bytes`, tooLarge: true };
  if (frame.length < PREFIX_BYTES || MAGIC.some((byte, i) => frame[i] !== byte))
    return { ok: false, kind: 'unreadable', reason: 'not a frame of this protocol' };
  const headerLength = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(4, true);
  if (headerLength > limits.jsonBytes || PREFIX_BYTES + headerLength > frame.length)
    return { ok: false, kind: 'unreadable', reason: 'bad header length' };
  let headerText: string;
  try {
    headerText = textDecoder.decode(frame.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength));
  } catch {
    return { ok: false, kind: 'unreadable', reason: 'header is not UTF-8' };
  }
  // The call's id sits inside the header's "message", one level down.
  const deep = tooDeep(headerText, limits, 2);
  if (deep) return deep;
  const parsed = parseJson(headerText);
  if (!parsed.ok || !parsed.value || typeof parsed.value !== 'object')
    return { ok: false, kind: 'unreadable', reason: 'header is not JSON' };
  const { sizes, message } = parsed.value as { sizes?: unknown; message?: unknown };
  let offset = PREFIX_BYTES + headerLength;
  const segments: Uint8Array[] = [];
  const sizesOk =
    Array.isArray(sizes) &&
    sizes.length <= frame.length &&
    sizes.every((size) => typeof size === 'number' && Number.isSafeInteger(size) && size >= 0);
  if (sizesOk) {
    for (const size of sizes as number[]) {
      if (offset + size > frame.length) break;
      segments.push(frame.subarray(offset, offset + size));
      offset += size;
    }
  }
  if (!sizesOk || segments.length !== (sizes as unknown[]).length || offset !== frame.length) {
    return {
      ok: false,
      kind: 'refused',
      reason: 'byte segment sizes do not match the frame',
      id: readableId(message),
    };
  }
  return decodeParsed(message, segments, limits);
}

/** A received frame as `ws` or a browser hands it over: text, ArrayBuffer, Buffer, or Buffer[]. */
export function frameFromData(data: unknown): string | Uint8Array | null {
  if (typeof data === 'string') return data;
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return null;
}

/**
 * What one received message amounts to. `frame`: a whole frame to decode (an ordinary message, or
 * the last piece completed one). `pending`: a piece was kept, more are due. `dropped`: a later piece
 * of a sequence already refused, ignored without another answer. `refused`: a piece sequence broke
 * a rule and was dropped; `id` is its call's id when the first piece held it, and `interrupting` is
 * the ordinary message that arrived in its middle (refused too: the sender broke the order).
 */
export type PieceStep =
  | { kind: 'frame'; frame: string | Uint8Array }
  | { kind: 'pending' }
  | { kind: 'dropped' }
  | { kind: 'refused'; reason: string; id: number | null; interrupting?: string | Uint8Array };

interface Piece {
  total: number;
  offset: number;
  bytes: Uint8Array;
}

function readPiece(message: string | Uint8Array): Piece | null {
  if (typeof message === 'string' || message.length < PIECE_PREFIX_BYTES) return null;
  if (PIECE_MAGIC.some((byte, i) => message[i] !== byte)) return null;
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  return {
    total: view.getUint32(4, true),
    offset: view.getUint32(8, true),
    bytes: message.subarray(PIECE_PREFIX_BYTES),
  };
}

/** The call id in a frame's header, when the frame's start holds all of the header. */
function callIdAtStart(start: Uint8Array, limits: WireLimits): number | null {
  if (start.length < PREFIX_BYTES || MAGIC.some((byte, i) => start[i] !== byte)) return null;
  const headerLength = new DataView(start.buffer, start.byteOffset, start.byteLength).getUint32(4, true);
  if (headerLength > limits.jsonBytes || PREFIX_BYTES + headerLength > start.length) return null;
  try {
    const header = textDecoder.decode(start.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength));
    return scanJson(header, limits.depth, 2).id;
  } catch {
    return null;
  }
}

/**
 * Puts pieces back into frames, one sequence at a time per connection. The total is checked against
 * `limits.frameBytes` before the frame's buffer is allocated; pieces must come in order, each
 * continuing the last, and add up to the total exactly. Anything else drops the sequence.
 */
export class PieceAssembler {
  private frame: Uint8Array | null = null;
  private received = 0;
  /** Totals of refused sequences: their later pieces are dropped without more answers. */
  private dropping: number[] = [];

  constructor(private readonly limits: WireLimits = WIRE_LIMITS) {}

  /** Whether a sequence is part-way in. */
  get assembling(): boolean {
    return this.frame !== null;
  }

  accept(message: string | Uint8Array): PieceStep {
    const piece = readPiece(message);
    if (!piece) {
      this.dropping = [];
      if (!this.frame) return { kind: 'frame', frame: message };
      const step = this.refuse(
        `a message arrived in the middle of a ${this.frame.length}-byte piece sequence (${this.received} bytes in); the sequence was dropped`,
        [this.frame.length],
      );
      return { ...step, interrupting: message };
    }
    const { total, offset, bytes } = piece;
    if (!this.frame && offset > 0 && this.dropping.includes(total)) {
      if (offset + bytes.length >= total) this.dropping = this.dropping.filter((t) => t !== total);
      return { kind: 'dropped' };
    }
    this.dropping = [];
    if (!this.frame) {
      if (offset !== 0)
        return this.refuse(
          `a piece at offset ${offset} of ${total} bytes came without the pieces before it`,
          [total],
        );
      if (total > this.limits.frameBytes)
        return this.refuse(
          `a message of ${total} bytes is over the ${this.limits.frameBytes}-byte limit`,
          [total],
          bytes,
        );
    } else if (total !== this.frame.length) {
      return this.refuse(
        `a piece of a ${total}-byte message came in the middle of a ${this.frame.length}-byte one; both were dropped`,
        [this.frame.length, total],
      );
    } else if (offset !== this.received) {
      return this.refuse(`a piece at offset ${offset} came where offset ${this.received} was due`, [total]);
    }
    if (bytes.length === 0) return this.refuse('an empty piece', [total], bytes);
    if (offset + bytes.length > total)
      return this.refuse(`a piece runs past the message's ${total} bytes`, [total], bytes);
    if (!this.frame) this.frame = new Uint8Array(total);
    this.frame.set(bytes, offset);
    this.received += bytes.length;
    if (this.received < total) return { kind: 'pending' };
    const frame = this.frame;
    this.frame = null;
    this.received = 0;
    return { kind: 'frame', frame };
  }

  /**
   * Drops the sequence in progress, if any, and the rest of those of `totals` bytes. The call's id is
   * read from the bytes received so far, or from `first` when the refused piece starts a sequence.
   */
  private refuse(reason: string, totals: number[], first?: Uint8Array): PieceStep & { kind: 'refused' } {
    const held = this.frame ? this.frame.subarray(0, this.received) : first;
    const id = held ? callIdAtStart(held, this.limits) : null;
    this.frame = null;
    this.received = 0;
    this.dropping = totals;
    return { kind: 'refused', reason, id };
  }
}
