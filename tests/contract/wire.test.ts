/** The WebSocket wire format: bytes travel as binary segments, and hostile frames are refused before any work. */
import { describe, expect, it, vi } from 'vitest';
import {
  decodeWire,
  encodeWire,
  encodeWireParts,
  scanJson,
  WIRE_LIMITS,
} from '../../src/shared/contract/wire';

function pattern(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed) & 255;
  return bytes;
}

describe('wire format', () => {
  it('sends a message without bytes as plain JSON text', () => {
    const frame = encodeWire({ type: 'call', id: 1, name: 'app.info', payload: {} });
    expect(frame).toBe('{"type":"call","id":1,"name":"app.info","payload":{}}');
    expect(decodeWire(frame as string)).toEqual({
      ok: true,
      message: { type: 'call', id: 1, name: 'app.info', payload: {} },
    });
  });

  it('carries bytes as raw segments after a JSON header, not as base64', () => {
    const png = pattern(100_000, 3);
    const mask = pattern(7, 200);
    const frame = encodeWire({ type: 'call', id: 2, name: 'x', payload: { png, nested: [{ mask }] } });
    expect(frame).toBeInstanceOf(Uint8Array);
    const bytes = frame as Uint8Array;
    // Header + both segments, nothing more: base64 would need 4/3 of the bytes.
    const headerLength = new DataView(bytes.buffer).getUint32(4, true);
    expect(bytes.length).toBe(8 + headerLength + png.length + mask.length);
    expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe('IEW1');
    expect(JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)))).toEqual({
      sizes: [100_000, 7],
      message: {
        type: 'call',
        id: 2,
        name: 'x',
        payload: { png: { $bytes: 0 }, nested: [{ mask: { $bytes: 1 } }] },
      },
    });
    const decoded = decodeWire(bytes);
    expect(decoded.ok).toBe(true);
    const payload = (decoded as { message: { payload: { png: Uint8Array; nested: [{ mask: Uint8Array }] } } })
      .message.payload;
    expect(payload.png).toBeInstanceOf(Uint8Array);
    expect(Array.from(payload.png.subarray(0, 5))).toEqual(Array.from(png.subarray(0, 5)));
    expect(Buffer.compare(payload.png, png)).toBe(0);
    expect(payload.nested[0].mask).toEqual(mask);
  });

  it('keeps a Node Buffer as bytes and hands segments over without joining them', () => {
    const buffer = Buffer.from([9, 8, 7]);
    const parts = encodeWireParts({ type: 'event', name: 'e', payload: { data: buffer } });
    expect(Array.isArray(parts)).toBe(true);
    expect((parts as Uint8Array[])[1]).toBe(buffer);
    const decoded = decodeWire(encodeWire({ data: buffer }) as Uint8Array);
    expect(decoded).toEqual({ ok: true, message: { data: new Uint8Array([9, 8, 7]) } });
  });

  it('refuses unreadable frames, and readable ones that break a rule with their call id', () => {
    const limits = { ...WIRE_LIMITS, jsonBytes: 1000, frameBytes: 5000 };
    expect(decodeWire('not json', limits)).toMatchObject({ ok: false, kind: 'unreadable' });
    expect(decodeWire('x'.repeat(1001), limits)).toMatchObject({ ok: false, kind: 'unreadable' });
    expect(decodeWire(new Uint8Array([1, 2, 3]), limits)).toMatchObject({ ok: false, kind: 'unreadable' });
    const big = encodeWire({ id: 1, data: new Uint8Array(5000) }) as Uint8Array;
    expect(decodeWire(big, limits)).toMatchObject({
      ok: false,
      kind: 'unreadable',
      reason: 'frame over 5000 bytes',
    });
    // Old-style base64 bytes in a text frame: there is no segment to point at.
    expect(decodeWire('{"id":4,"payload":{"$bytes":"AAAA"}}', limits)).toMatchObject({
      ok: false,
      kind: 'refused',
      id: 4,
    });
    expect(decodeWire('{"id":5,"payload":{"$bytes":0}}', limits)).toMatchObject({ kind: 'refused', id: 5 });
    expect(decodeWire('[1]', limits)).toMatchObject({ kind: 'refused', id: null });
    // A header whose sizes claim more bytes than the frame has.
    const frame = encodeWire({ id: 6, data: new Uint8Array(10) }) as Uint8Array;
    expect(decodeWire(frame.subarray(0, frame.length - 1), limits)).toMatchObject({ kind: 'refused', id: 6 });
    // Bytes after the last segment.
    const longer = new Uint8Array(frame.length + 1);
    longer.set(frame);
    expect(decodeWire(longer, limits)).toMatchObject({ kind: 'refused', id: 6 });
  });

  it('refuses a million levels of nesting without a stack overflow, naming the call id', () => {
    const depth = 1_000_000;
    const text = `{"type":"call","id":8,"name":"app.info","payload":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    const decoded = decodeWire(text, { ...WIRE_LIMITS, jsonBytes: 4 * depth });
    expect(decoded).toMatchObject({ ok: false, kind: 'refused', id: 8 });
    expect((decoded as { reason: string }).reason).toContain(`more than ${WIRE_LIMITS.depth} levels`);
    const nested = { a: [[[[{ b: 1 }]]]] };
    expect(decodeWire(JSON.stringify(nested))).toEqual({ ok: true, message: nested });
  });

  it('refuses deep nesting from a scan, without parsing, in text frames and binary headers', () => {
    const depth = 100_000;
    const nested = `${'['.repeat(depth)}${']'.repeat(depth)}`;
    const parse = vi.spyOn(JSON, 'parse');
    try {
      const text = decodeWire(`{"type":"call","payload":${nested},"id":12}`);
      expect(text).toMatchObject({ ok: false, kind: 'refused', id: 12 });
      const frame = encodeWire({
        type: 'call',
        id: 13,
        payload: { bytes: new Uint8Array([1]), deep: 0 },
      }) as Uint8Array;
      // Put the deep value into the header in place of the 0.
      const headerLength = new DataView(frame.buffer).getUint32(4, true);
      const header = new TextDecoder()
        .decode(frame.subarray(8, 8 + headerLength))
        .replace('"deep":0', `"deep":${nested}`);
      const headerBytes = new TextEncoder().encode(header);
      const rebuilt = new Uint8Array(8 + headerBytes.length + 1);
      rebuilt.set(frame.subarray(0, 4));
      new DataView(rebuilt.buffer).setUint32(4, headerBytes.length, true);
      rebuilt.set(headerBytes, 8);
      rebuilt[rebuilt.length - 1] = 1;
      expect(decodeWire(rebuilt)).toMatchObject({ ok: false, kind: 'refused', id: 13 });
      expect(parse).not.toHaveBeenCalled();
    } finally {
      parse.mockRestore();
    }
    // Strings with brackets and escaped quotes do not count as nesting.
    expect(scanJson('{"id":5,"a":"[[[[\\"[[[[","b":[[1]]}', 3)).toEqual({ tooDeep: false, id: 5 });
    expect(scanJson('{"a":{"id":7},"id":8}', 64)).toEqual({ tooDeep: false, id: 8 });
  });
});
