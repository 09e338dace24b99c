/** The WebSocket wire format: bytes travel as binary segments, and hostile frames are refused before any work. */
import { describe, expect, it, vi } from 'vitest';
import { LIMITS } from '../../src/shared/contract/limits';
import {
  allocateWithHeadroom,
  decodeWire,
  encodeWire,
  encodeWireParts,
  largestMessageBytes,
  offerHeadroom,
  PieceAssembler,
  scanJson,
  WIRE_HEADROOM_BYTES,
  WIRE_LIMITS,
  wireMessages,
  type PieceStep,
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

  it('writes the header into the headroom in front of a result’s bytes: one part, once', () => {
    const bytes = allocateWithHeadroom(100_000);
    bytes.set(pattern(100_000, 5));
    const before = bytes.slice();
    const message = { type: 'result', id: 3, ok: true, value: { name: 'photo.psd', bytes } };
    const parts = encodeWireParts(message) as Uint8Array[];
    expect(parts).toHaveLength(1);
    // The one part is the very frame encodeWire joins, and its tail is the result's own memory.
    expect(parts[0]).toEqual(encodeWire(message));
    expect(parts[0]!.buffer).toBe(bytes.buffer);
    expect(parts[0]!.byteOffset + parts[0]!.length).toBe(bytes.byteOffset + bytes.length);
    expect(bytes).toEqual(before);
    const decoded = decodeWire(parts[0]!);
    expect(decoded.ok && (decoded.message as typeof message).value.bytes).toEqual(before);
    // Once only: the header of a second frame would overwrite the first while a socket may still hold it.
    expect(encodeWireParts(message)).toHaveLength(2);
    expect(offerHeadroom(bytes)).toBe(bytes);
    expect(encodeWireParts(message)).toHaveLength(1);
    // Not for arrays without the room in front, nor with more than one segment, nor a header past it.
    const plain = pattern(1000, 1).subarray(10);
    offerHeadroom(plain);
    expect(encodeWireParts({ bytes: plain })).toHaveLength(2);
    const a = allocateWithHeadroom(10);
    const b = allocateWithHeadroom(10);
    expect(encodeWireParts({ a, b })).toHaveLength(3);
    const long = allocateWithHeadroom(10);
    expect(encodeWireParts({ name: 'x'.repeat(WIRE_HEADROOM_BYTES), long })).toHaveLength(2);
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

/** A piece made by hand: "IEP1", total, offset, then the slice. */
function piece(total: number, offset: number, slice: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(12 + slice.length);
  bytes.set([0x49, 0x45, 0x50, 0x31]);
  new DataView(bytes.buffer).setUint32(4, total, true);
  new DataView(bytes.buffer).setUint32(8, offset, true);
  bytes.set(slice, 12);
  return bytes;
}

/** Feeds messages to the assembler; every step, in order. */
function feed(assembler: PieceAssembler, messages: (string | Uint8Array)[]): PieceStep[] {
  return messages.map((message) => assembler.accept(message));
}

describe('large frames travel as pieces', () => {
  const PIECE = 1000;
  const limits = { ...WIRE_LIMITS, jsonBytes: 4000, frameBytes: 10_000, pieceBytes: PIECE };
  const call = (id: number, bytes: Uint8Array) => ({
    type: 'call',
    id,
    name: 'document.openBytes',
    payload: { name: 'a.png', empty: new Uint8Array(0), bytes },
  });

  it('keeps a piece (with its prefix) within what the server takes in one message', () => {
    expect(LIMITS.wirePieceBytes).toBe(4 * 1024 * 1024);
    expect(largestMessageBytes(WIRE_LIMITS)).toBe(4 * 1024 * 1024 + 12);
    expect(largestMessageBytes(limits)).toBe(4000);
  });

  it('sends a frame up to one piece as it is, a larger one as ordered pieces that add up to it', () => {
    expect(wireMessages(encodeWireParts({ id: 1 }), PIECE)).toEqual(['{"id":1}']);
    const small = call(2, pattern(500, 1));
    expect(wireMessages(encodeWireParts(small), PIECE)).toEqual([encodeWire(small)]);

    const bytes = pattern(7654, 9);
    const frame = encodeWire(call(3, bytes)) as Uint8Array;
    const messages = wireMessages(encodeWireParts(call(3, bytes)), PIECE) as Uint8Array[];
    expect(messages).toHaveLength(Math.ceil(frame.length / PIECE));
    let offset = 0;
    for (const message of messages) {
      const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
      expect(new TextDecoder().decode(message.subarray(0, 4))).toBe('IEP1');
      expect([view.getUint32(4, true), view.getUint32(8, true)]).toEqual([frame.length, offset]);
      expect(message.length).toBeLessThanOrEqual(PIECE + 12);
      expect(Buffer.compare(message.subarray(12), frame.subarray(offset, offset + message.length - 12))).toBe(
        0,
      );
      offset += message.length - 12;
    }
    expect(offset).toBe(frame.length);

    const assembler = new PieceAssembler(limits);
    const steps = feed(assembler, messages);
    expect(steps.slice(0, -1).every((step) => step.kind === 'pending')).toBe(true);
    const last = steps.at(-1)!;
    expect(last.kind).toBe('frame');
    const assembled = (last as { frame: Uint8Array }).frame;
    expect(Buffer.compare(assembled, frame)).toBe(0);
    const decoded = decodeWire(assembled, limits) as { ok: true; message: ReturnType<typeof call> };
    expect(decoded.ok).toBe(true);
    expect(Buffer.compare(decoded.message.payload.bytes, bytes)).toBe(0);
    expect(decoded.message.payload.empty).toEqual(new Uint8Array(0));
    expect(assembler.assembling).toBe(false);
    // Ordinary messages pass straight through.
    expect(assembler.accept('{"id":4}')).toEqual({ kind: 'frame', frame: '{"id":4}' });
  });

  it('refuses a broken piece sequence with the call’s id, drops it, and takes the next good one', () => {
    const frame = encodeWire(call(21, pattern(3500, 4))) as Uint8Array;
    const total = frame.length;
    const good = wireMessages(encodeWireParts(call(22, pattern(2500, 5))), PIECE) as Uint8Array[];
    const goodFrame = encodeWire(call(22, pattern(2500, 5))) as Uint8Array;
    const slice = (from: number, to: number) => frame.subarray(from, to);
    const cases: {
      label: string;
      messages: (string | Uint8Array)[];
      reason: RegExp;
      id: number | null;
      interrupting?: string | Uint8Array;
    }[] = [
      {
        label: 'total over the frame limit (refused from the first piece, before any allocation)',
        messages: [piece(10_001, 0, slice(0, 1000)), piece(10_001, 1000, slice(1000, 2000))],
        reason: /a message of 10001 bytes is over the 10000-byte limit/,
        id: 21,
      },
      {
        label: 'a piece past the total',
        messages: [piece(total, 0, slice(0, 1000)), piece(total, 1000, new Uint8Array(total))],
        reason: new RegExp(`a piece runs past the message's ${total} bytes`),
        id: 21,
      },
      {
        label: 'a piece out of order',
        messages: [piece(total, 0, slice(0, 1000)), piece(total, 2000, slice(2000, 3000))],
        reason: /a piece at offset 2000 came where offset 1000 was due/,
        id: 21,
      },
      {
        label: 'a repeated piece',
        messages: [piece(total, 0, slice(0, 1000)), piece(total, 0, slice(0, 1000))],
        reason: /a piece at offset 0 came where offset 1000 was due/,
        id: 21,
      },
      {
        label: 'a piece without the ones before it',
        messages: [piece(total, 1000, slice(1000, 2000))],
        reason: /a piece at offset 1000 of \d+ bytes came without the pieces before it/,
        id: null,
      },
      {
        label: 'a piece with another total',
        messages: [piece(total, 0, slice(0, 1000)), piece(total + 1, 1000, slice(1000, 2000))],
        reason: /a piece of a \d+-byte message came in the middle of a \d+-byte one/,
        id: 21,
      },
      {
        label: 'an empty piece',
        messages: [piece(total, 0, slice(0, 1000)), piece(total, 1000, new Uint8Array(0))],
        reason: /an empty piece/,
        id: 21,
      },
      {
        label: 'a text frame in the middle',
        messages: [piece(total, 0, slice(0, 1000)), '{"type":"call","id":30}'],
        reason: /a message arrived in the middle of a \d+-byte piece sequence \(1000 bytes in\)/,
        id: 21,
        interrupting: '{"type":"call","id":30}',
      },
      {
        label: 'an ordinary binary frame in the middle',
        messages: [piece(total, 0, slice(0, 1000)), goodFrame],
        reason: /in the middle of a \d+-byte piece sequence/,
        id: 21,
        interrupting: goodFrame,
      },
    ];
    for (const { label, messages, reason, id, interrupting } of cases) {
      const assembler = new PieceAssembler(limits);
      const steps = feed(assembler, messages);
      const refused = steps.filter((step) => step.kind === 'refused');
      expect([label, refused.length]).toEqual([label, 1]);
      expect(refused[0], label).toMatchObject({ id, reason: expect.stringMatching(reason) });
      expect((refused[0] as { interrupting?: unknown }).interrupting, label).toBe(interrupting);
      expect(assembler.assembling, label).toBe(false);
      // The rest of the refused sequence is dropped without another answer...
      const first = new DataView((messages[0] as Uint8Array).buffer).getUint32(4, true);
      const rest = feed(assembler, [piece(first, 3000, slice(3000, total))]);
      expect([label, rest.map((step) => step.kind)]).toEqual([label, ['dropped']]);
      // ...and the next well-formed message goes through whole.
      const next = feed(assembler, good);
      expect(next.at(-1)!.kind, label).toBe('frame');
      expect(Buffer.compare((next.at(-1) as { frame: Uint8Array }).frame, goodFrame), label).toBe(0);
    }
  });
});
