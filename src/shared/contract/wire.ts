/**
 * JSON with bytes, for the WebSocket transport: a Uint8Array becomes `{ "$bytes": "<base64>" }`.
 * Works in browsers and in Node (no Buffer): the renderer and the server share it.
 */

const BYTES_KEY = '$bytes';

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64_LOOKUP = (() => {
  const table = new Int16Array(128).fill(-1);
  for (let i = 0; i < BASE64_ALPHABET.length; i++) table[BASE64_ALPHABET.charCodeAt(i)] = i;
  return table;
})();

export function bytesToBase64(bytes: Uint8Array): string {
  const parts: string[] = [];
  const chunk = 3 * 4096;
  for (let start = 0; start < bytes.length; start += chunk) {
    const end = Math.min(bytes.length, start + chunk);
    let out = '';
    for (let i = start; i < end; i += 3) {
      const a = bytes[i] ?? 0;
      const b = i + 1 < end ? (bytes[i + 1] ?? 0) : 0;
      const c = i + 2 < end ? (bytes[i + 2] ?? 0) : 0;
      const triple = (a << 16) | (b << 8) | c;
      out += BASE64_ALPHABET[(triple >> 18) & 63]! + BASE64_ALPHABET[(triple >> 12) & 63]!;
      out += i + 1 < end ? BASE64_ALPHABET[(triple >> 6) & 63]! : '=';
      out += i + 2 < end ? BASE64_ALPHABET[triple & 63]! : '=';
    }
    parts.push(out);
  }
  return parts.join('');
}

export function base64ToBytes(text: string): Uint8Array {
  if (text.length % 4 !== 0) throw new Error('invalid base64 length');
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - padding);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    let triple = 0;
    for (let k = 0; k < 4; k++) {
      const code = text.charCodeAt(i + k);
      const value = text[i + k] === '=' ? 0 : code < 128 ? (BASE64_LOOKUP[code] ?? -1) : -1;
      if (value < 0) throw new Error('invalid base64 character');
      triple = (triple << 6) | value;
    }
    if (o < out.length) out[o++] = (triple >> 16) & 255;
    if (o < out.length) out[o++] = (triple >> 8) & 255;
    if (o < out.length) out[o++] = triple & 255;
  }
  return out;
}

export function encodeWire(value: unknown): string {
  // `this[key]` is the value before toJSON ran: a Node Buffer would otherwise arrive as {type, data}.
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, item: unknown) {
    const original = this[key];
    if (original instanceof Uint8Array) return { [BYTES_KEY]: bytesToBase64(original) };
    return item;
  });
}

export function decodeWire(text: string): unknown {
  return JSON.parse(text, (_key, item: unknown) => {
    if (item && typeof item === 'object' && !Array.isArray(item)) {
      const keys = Object.keys(item);
      if (keys.length === 1 && keys[0] === BYTES_KEY) {
        const encoded = (item as Record<string, unknown>)[BYTES_KEY];
        if (typeof encoded === 'string') return base64ToBytes(encoded);
      }
    }
    return item;
  });
}

/** Messages on the WebSocket. Client → server: call. Server → client: result, event. */
export type WireMessage =
  | { type: 'call'; id: number; name: string; payload: unknown }
  | { type: 'result'; id: number; ok: true; value: unknown }
  | { type: 'result'; id: number; ok: false; error: { code: string; message: string } }
  | { type: 'event'; name: string; payload: unknown }
  | { type: 'hello'; mode: 'browser' };
