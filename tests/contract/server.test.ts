/** Browser mode's server: the token is required, Host/Origin are checked, calls and events flow. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type RunningServer } from '../../src/main/server/server';
import { createClient } from '../../src/shared/contract/client';
import { ContractError } from '../../src/shared/contract/errors';
import {
  decodeWire,
  encodeWire,
  encodeWireParts,
  frameFromData,
  largestMessageBytes,
  WIRE_LIMITS,
  wireMessages,
} from '../../src/shared/contract/wire';
import { createWsTransport, type WebSocketLike } from '../../src/shared/contract/ws-transport';
import { tempDir, testCore, type TestCore } from './helpers';

function openSocket(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ ws: WebSocket; closed: Promise<{ code: number }>; opened: Promise<boolean> }> {
  const ws = new WebSocket(url, { headers });
  const closed = new Promise<{ code: number }>((resolve) => ws.on('close', (code) => resolve({ code })));
  const opened = new Promise<boolean>((resolve) => {
    ws.on('open', () => resolve(true));
    ws.on('error', () => resolve(false));
    ws.on('unexpected-response', () => resolve(false));
  });
  return Promise.resolve({ ws, closed, opened });
}

/**
 * Sends messages on a fresh connection, then a well-formed call (id 99); returns the results that
 * came back and, if the server closed the connection, its close code.
 */
async function exchangeOn(
  server: RunningServer,
  frames: (string | Uint8Array)[],
): Promise<{ answers: Record<string, unknown>[]; code: number | null }> {
  const url = `ws://127.0.0.1:${server.port}/api?token=${server.token}`;
  const { ws, opened, closed } = await openSocket(url);
  expect(await opened).toBe(true);
  const answers: Record<string, unknown>[] = [];
  ws.on('message', (data, isBinary) => {
    const decoded = decodeWire(isBinary ? frameFromData(data)! : data.toString());
    if (decoded.ok) answers.push(decoded.message as Record<string, unknown>);
  });
  for (const frame of frames) ws.send(frame);
  // A well-formed call last: when its answer arrives, the answers to the frames before it have too.
  ws.send(encodeWire({ type: 'call', id: 99, name: 'app.info', payload: {} }));
  const outcome = await Promise.race([
    closed.then(({ code }) => ({ code })),
    new Promise<{ code: null }>((resolve) => {
      const timer = setInterval(() => {
        if (answers.some((answer) => answer.id === 99)) {
          clearInterval(timer);
          resolve({ code: null });
        }
      }, 10);
    }),
  ]);
  ws.close();
  return { answers: answers.filter((answer) => answer.type === 'result'), code: outcome.code };
}

function pattern(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 7 + (i >> 11) + seed) & 255;
  return bytes;
}

function refusal(answers: Record<string, unknown>[], id: number | null) {
  return answers.find((answer) => answer.id === id && answer.ok === false) as
    { error: { code: string; message: string } } | undefined;
}

describe('browser-mode server', () => {
  let core: TestCore;
  let server: RunningServer;
  beforeAll(async () => {
    core = testCore({ mode: 'browser' });
    const rendererDir = tempDir('renderer-');
    mkdirSync(join(rendererDir, 'assets'));
    writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>t</title>');
    writeFileSync(join(rendererDir, 'assets', 'app.js'), 'console.log(1)');
    server = await startServer({ dispatcher: core.dispatcher, bus: core.bus, rendererDir });
  });
  afterAll(async () => {
    await server.close();
    await core.dispose();
  });

  it('binds to 127.0.0.1 with a random token and prints the URL', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{20,}$/);
    expect(server.server.address()).toMatchObject({ address: '127.0.0.1' });
  });

  it('serves the renderer with a CSP and refuses paths outside it and foreign hosts', async () => {
    const base = `http://127.0.0.1:${server.port}`;
    const index = await fetch(`${base}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(index.headers.get('referrer-policy')).toBe('no-referrer');
    expect((await fetch(`${base}/assets/app.js`)).status).toBe(200);
    expect((await fetch(`${base}/..%2f..%2fetc%2fpasswd`)).status).toBeGreaterThanOrEqual(400);
    expect((await fetch(`${base}/assets/../../../etc/passwd`)).status).toBeGreaterThanOrEqual(400);
    const foreign = await new Promise<number>((resolve) => {
      // fetch() cannot override Host; use a raw request.
      import('node:http').then(({ request }) => {
        const req = request(
          { host: '127.0.0.1', port: server.port, path: '/', headers: { Host: 'evil.example:80' } },
          (res) => resolve(res.statusCode ?? 0),
        );
        req.end();
      });
    });
    expect(foreign).toBe(421);
  });

  it('sends the same security headers with 404, 403, 405 and 421 as with 200', async () => {
    const { request } = await import('node:http');
    const raw = (path: string, method = 'GET', host = `127.0.0.1:${server.port}`) =>
      new Promise<{ status: number; headers: Record<string, unknown> }>((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port: server.port, path, method, headers: { Host: host } },
          (res) => {
            res.resume();
            resolve({ status: res.statusCode ?? 0, headers: res.headers });
          },
        );
        req.on('error', reject);
        req.end();
      });
    const ok = await raw('/');
    expect(ok.status).toBe(200);
    const names = ['content-security-policy', 'x-content-type-options', 'referrer-policy', 'x-frame-options'];
    for (const [status, answer] of [
      [404, await raw('/missing.js')],
      [403, await raw('/..%2f..%2fetc%2fpasswd')],
      [405, await raw('/', 'POST')],
      [421, await raw('/', 'GET', 'evil.example')],
    ] as const) {
      expect(answer.status).toBe(status);
      for (const name of names)
        expect([status, name, answer.headers[name]]).toEqual([status, name, ok.headers[name]]);
    }
    // The WebSocket upgrade's refusal too.
    const upgradeHeaders = await new Promise<Record<string, unknown>>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/other?token=${server.token}`);
      ws.on('unexpected-response', (_request, response) => resolve(response.headers));
      ws.on('error', () => undefined);
    });
    for (const name of names) expect([name, upgradeHeaders[name]]).toEqual([name, ok.headers[name]]);
  });

  it('closes API connections without the right token before reading any call', async () => {
    const wsBase = `ws://127.0.0.1:${server.port}/api`;
    for (const url of [
      wsBase,
      `${wsBase}?token=`,
      `${wsBase}?token=wrong`,
      `${wsBase}?token=${server.token}x`,
    ]) {
      const { ws, closed } = await openSocket(url);
      ws.on('open', () =>
        ws.send(encodeWire({ type: 'call', id: 1, name: 'settings.update', payload: { provider: 'cpu' } })),
      );
      const answers: unknown[] = [];
      ws.on('message', (data) => answers.push(data));
      expect((await closed).code).toBe(4401);
      expect(answers).toEqual([]);
    }
  });

  it('refuses a cross-site Origin and a wrong path even with the token', async () => {
    const evil = await openSocket(`ws://127.0.0.1:${server.port}/api?token=${server.token}`, {
      Origin: 'http://evil.example',
    });
    expect(await evil.opened).toBe(false);
    const wrongPath = await openSocket(`ws://127.0.0.1:${server.port}/other?token=${server.token}`);
    expect(await wrongPath.opened).toBe(false);
  });

  it('answers calls and forwards events through the client', async () => {
    const transport = createWsTransport({
      baseUrl: `http://127.0.0.1:${server.port}`,
      token: server.token,
      createSocket: (url) => new WebSocket(url) as unknown as WebSocketLike,
    });
    const client = createClient(transport);
    try {
      const info = await client.call('app.info', {});
      expect(info).toMatchObject({ mode: 'browser', nativeDialogs: false });
      const events: string[] = [];
      client.on('document.changed', (payload) => events.push(payload.document?.name ?? 'none'));
      const view = await client.call('document.openBytes', {
        name: 'photo.png',
        bytes: new Uint8Array([1, 2, 3]),
      });
      expect(view.name).toBe('photo.png');
      const image = await client.call('document.layerImage', { layerId: 'L1', what: 'pixels' });
      expect(image.png).toBeInstanceOf(Uint8Array);
      expect(image.png[1]).toBe(80);
      await expect(client.call('document.openPath', { path: '/etc/passwd' })).rejects.toMatchObject({
        code: 'forbidden',
      });
      await expect(client.call('layer.update', { layerId: 'L1', opacity: 7 })).rejects.toBeInstanceOf(
        ContractError,
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(events).toContain('photo.png');
    } finally {
      client.close();
    }
  });

  it('sends the answers queued for a connection together, not one per turn of a busy event loop', async () => {
    // The server shares this process's event loop: hold it in 20 ms slices (as a long job does
    // between its turns) while one client has 40 app.info calls waiting for answers, and note in
    // which slice each answer arrives. One answer per turn would spread them over 40 slices.
    const url = `ws://127.0.0.1:${server.port}/api?token=${server.token}`;
    const { ws, opened } = await openSocket(url);
    expect(await opened).toBe(true);
    let slice = 0;
    const arrivedIn: number[] = [];
    ws.on('message', (data, isBinary) => {
      const decoded = decodeWire(isBinary ? frameFromData(data)! : data.toString());
      if (decoded.ok && (decoded.message as { type?: string }).type === 'result') arrivedIn.push(slice);
    });
    const calls = 40;
    for (let id = 1; id <= calls; id++)
      ws.send(encodeWire({ type: 'call', id, name: 'app.info', payload: {} }));
    while (arrivedIn.length < calls && slice < 200) {
      const until = performance.now() + 20;
      while (performance.now() < until) {
        /* busy, as a slice of pixel work */
      }
      slice++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    ws.close();
    expect(arrivedIn).toHaveLength(calls);
    expect(
      arrivedIn.at(-1)! - arrivedIn[0]!,
      `slices the answers arrived in: ${arrivedIn.join(',')}`,
    ).toBeLessThanOrEqual(3);
  });

  it('answers every malformed frame: bad-request with the call id when readable, else closes', async () => {
    const exchange = (frames: (string | Uint8Array)[]) => exchangeOn(server, frames);
    const refused = refusal;

    const deep = 1_000_000;
    const calls = await exchange([
      '{"type":"call"}',
      '{"type":"call","id":"x","name":"app.info"}',
      '{"type":"call","id":3,"name":"app.info","payload":{"$bytes":"!!"}}',
      `{"type":"call","id":4,"name":"app.info","payload":${'['.repeat(deep)}${']'.repeat(deep)}}`,
      '{"type":"result","id":5}',
    ]);
    expect(calls.code).toBeNull();
    for (const id of [null, 3, 4, 5]) expect(refused(calls.answers, id)?.error.code).toBe('bad-request');
    expect(refused(calls.answers, 4)?.error.message).toContain('levels deep');
    expect(calls.answers.filter((answer) => answer.id === null)).toHaveLength(2);
    expect(calls.answers.find((answer) => answer.id === 99)).toMatchObject({ ok: true });

    // A binary frame whose segment sizes disagree with its length: readable header, refused with its id.
    const frame = encodeWire({
      type: 'call',
      id: 6,
      name: 'document.openBytes',
      payload: { name: 'a', bytes: new Uint8Array(9) },
    });
    const short = await exchange([(frame as Uint8Array).subarray(0, (frame as Uint8Array).length - 2)]);
    expect(refused(short.answers, 6)?.error.code).toBe('bad-request');

    // Frames that cannot be parsed at all close the connection (1007) without an answer.
    for (const garbage of [
      'not json',
      new Uint8Array([1, 2, 3]),
      new Uint8Array([73, 69, 87, 49, 255, 255, 255, 255]),
    ]) {
      const result = await exchange([garbage]);
      expect(result.code).toBe(1007);
      expect(result.answers).toEqual([]);
    }
  });

  describe('with small limits (pieces of 64 KiB, frames up to 1 MiB)', () => {
    const PIECE = 64 * 1024;
    const limits = { ...WIRE_LIMITS, jsonBytes: 64 * 1024, frameBytes: 1024 * 1024, pieceBytes: PIECE };
    const calls: { name: string; bytes: Uint8Array | null }[] = [];
    let small: RunningServer;
    beforeAll(async () => {
      small = await startServer({
        dispatcher: {
          async dispatch(name, payload) {
            const bytes = (payload as { bytes?: unknown } | null)?.bytes;
            calls.push({ name: String(name), bytes: bytes instanceof Uint8Array ? bytes : null });
            return { ok: true, value: null };
          },
        },
        bus: core.bus,
        rendererDir: tempDir('renderer-'),
        wireLimits: limits,
      });
    });
    afterAll(() => small.close());
    /** A client on the real transport; `sent`: the size of every message it sent. */
    const smallClient = (sent: number[] = []) =>
      createClient(
        createWsTransport({
          baseUrl: `http://127.0.0.1:${small.port}`,
          token: small.token,
          pieceBytes: PIECE,
          createSocket: (url) => {
            const ws = new WebSocket(url);
            const send = ws.send.bind(ws);
            ws.send = ((data: string | Uint8Array) => {
              sent.push(typeof data === 'string' ? Buffer.byteLength(data) : data.length);
              send(data);
            }) as typeof ws.send;
            return ws as unknown as WebSocketLike;
          },
        }),
      );
    const openBytes = (id: number, bytes: Uint8Array) =>
      encodeWire({ type: 'call', id, name: 'document.openBytes', payload: { name: 'a.png', bytes } });

    it('closes a connection whose one message is over a piece (ws: 1009), and keeps serving others', async () => {
      calls.length = 0;
      const other = smallClient();
      try {
        await other.call('app.info', {});
        for (const frame of [
          openBytes(1, new Uint8Array(2 * 1024 * 1024)), // over the frame limit too
          openBytes(2, new Uint8Array(PIECE + 100)), // under the frame limit: a client must send pieces
          encodeWire({ type: 'call', id: 3, name: 'app.info', payload: { x: 'y'.repeat(100 * 1024) } }),
        ]) {
          const result = await exchangeOn(small, [frame]);
          expect(result).toEqual({ answers: [], code: 1009 });
        }
        await other.call('app.info', {});
        expect(calls.map((call) => call.name)).toEqual(['app.info', 'app.info']);
      } finally {
        other.close();
      }
    });

    it('takes an upload larger than a piece in pieces, byte for byte, and refuses one over the limit with its id', async () => {
      calls.length = 0;
      const sent: number[] = [];
      const client = smallClient(sent);
      try {
        const bytes = pattern(300 * 1024 + 7, 5);
        await client.call('document.openBytes', { name: 'a.png', bytes });
        expect(calls).toHaveLength(1);
        expect(Buffer.compare(calls[0]!.bytes!, bytes)).toBe(0);
        expect(sent.length).toBeGreaterThanOrEqual(5);
        expect(Math.max(...sent)).toBeLessThanOrEqual(PIECE + 12);
        // Over the frame limit: refused when its first piece arrives, the rest dropped unanswered.
        await expect(
          client.call('document.openBytes', { name: 'b.png', bytes: new Uint8Array(2 * 1024 * 1024) }),
        ).rejects.toMatchObject({
          code: 'bad-request',
          message: expect.stringMatching(/over the 1048576-byte limit/),
        });
        expect(calls).toHaveLength(1);
        // The connection stays open and the next call is answered.
        await expect(client.call('app.info', {})).resolves.toBeNull();
      } finally {
        client.close();
      }
    });

    it('refuses a broken piece sequence with a bad-request naming the call, and runs none of it', async () => {
      calls.length = 0;
      const bytes = pattern(200 * 1024, 1);
      const frame = openBytes(7, bytes) as Uint8Array;
      const pieces = wireMessages(
        encodeWireParts({
          type: 'call',
          id: 7,
          name: 'document.openBytes',
          payload: { name: 'a.png', bytes },
        }),
        PIECE,
      ) as Uint8Array[];
      expect(pieces).toHaveLength(4);
      const total = frame.length;
      const withTotal = (message: Uint8Array, value: number) => {
        const copy = Uint8Array.from(message);
        new DataView(copy.buffer).setUint32(4, value, true);
        return copy;
      };
      const longer = new Uint8Array(pieces[3]!.length + 1);
      longer.set(pieces[3]!);
      const cases: {
        label: string;
        messages: (string | Uint8Array)[];
        ids: (number | null)[];
        reason: RegExp;
      }[] = [
        {
          label: 'total over the limit',
          messages: pieces.map((message) => withTotal(message, 1024 * 1024 + 1)),
          ids: [7],
          reason: /a message of 1048577 bytes is over the 1048576-byte limit/,
        },
        {
          label: 'a piece beyond the total',
          messages: [pieces[0]!, pieces[1]!, pieces[2]!, longer],
          ids: [7],
          reason: new RegExp(`a piece runs past the message's ${total} bytes`),
        },
        {
          label: 'pieces out of order',
          messages: [pieces[0]!, pieces[2]!, pieces[1]!, pieces[3]!],
          ids: [7],
          reason: /a piece at offset 131072 came where offset 65536 was due/,
        },
        {
          label: 'a text frame in the middle',
          messages: [
            pieces[0]!,
            pieces[1]!,
            '{"type":"call","id":8,"name":"app.info","payload":{}}',
            pieces[2]!,
            pieces[3]!,
          ],
          ids: [7, 8],
          reason: /in the middle/,
        },
      ];
      for (const { label, messages, ids, reason } of cases) {
        const result = await exchangeOn(small, messages);
        expect([label, result.code]).toEqual([label, null]);
        const refusals = result.answers.filter((answer) => answer.ok === false);
        expect([label, refusals.map((answer) => answer.id)]).toEqual([label, ids]);
        for (const answer of refusals)
          expect([label, answer.error]).toMatchObject([
            label,
            { code: 'bad-request', message: expect.stringMatching(reason) },
          ]);
        expect(refusal(result.answers, 99), label).toBeUndefined();
      }
      // Only the well-formed calls that closed each exchange ran.
      expect(calls.map((call) => call.name)).toEqual(['app.info', 'app.info', 'app.info', 'app.info']);
    });

    it('forgets a sequence when its connection drops; a new connection works', async () => {
      calls.length = 0;
      const bytes = pattern(200 * 1024, 2);
      const pieces = wireMessages(
        encodeWireParts({
          type: 'call',
          id: 1,
          name: 'document.openBytes',
          payload: { name: 'a.png', bytes },
        }),
        PIECE,
      ) as Uint8Array[];
      const { ws, opened, closed } = await openSocket(
        `ws://127.0.0.1:${small.port}/api?token=${small.token}`,
      );
      expect(await opened).toBe(true);
      ws.send(pieces[0]!);
      ws.send(pieces[1]!);
      ws.terminate();
      await closed;
      const again = await exchangeOn(small, pieces.slice(2));
      // The rest of the dropped sequence, on a new connection, has no start.
      expect(refusal(again.answers, null)?.error.message).toMatch(/came without the pieces before it/);
      const client = smallClient();
      try {
        await client.call('document.openBytes', { name: 'a.png', bytes });
      } finally {
        client.close();
      }
      expect(calls.map((call) => call.name)).toEqual(['app.info', 'document.openBytes']);
      expect(Buffer.compare(calls[1]!.bytes!, bytes)).toBe(0);
    });
  });

  it('moves bytes both ways as binary frames, byte for byte (20 MiB up, in pieces)', async () => {
    const sent: Uint8Array[] = [];
    const frames: { binary: boolean; length: number }[] = [];
    const messagesSent: number[] = [];
    const echo = await startServer({
      dispatcher: {
        async dispatch(name, payload) {
          const bytes = (payload as { bytes: Uint8Array }).bytes;
          sent.push(bytes);
          const reversed = Uint8Array.from(bytes).reverse();
          return { ok: true, value: { name: String(name), mime: 'x', bytes: reversed } };
        },
      },
      bus: core.bus,
      rendererDir: tempDir('renderer-'),
    });
    const transport = createWsTransport({
      baseUrl: `http://127.0.0.1:${echo.port}`,
      token: echo.token,
      createSocket: (url) => {
        const ws = new WebSocket(url);
        ws.on('message', (data, isBinary) =>
          frames.push({ binary: isBinary, length: (data as ArrayBuffer).byteLength }),
        );
        const send = ws.send.bind(ws);
        ws.send = ((data: Uint8Array) => {
          messagesSent.push(data.length);
          send(data);
        }) as typeof ws.send;
        return ws as unknown as WebSocketLike;
      },
    });
    try {
      const bytes = pattern(20 * 1024 * 1024 + 1, 0);
      const result = await transport.call('document.openBytes', { name: 'big.png', bytes });
      expect(result.ok).toBe(true);
      expect(sent[0]!.length).toBe(bytes.length);
      expect(Buffer.compare(sent[0]!, bytes)).toBe(0);
      const back = (result as { value: { bytes: Uint8Array } }).value.bytes;
      expect(back).toBeInstanceOf(Uint8Array);
      expect(back.length).toBe(bytes.length);
      expect([back[0], back[back.length - 1]]).toEqual([bytes[bytes.length - 1], bytes[0]]);
      expect(Buffer.compare(Buffer.from(back).reverse(), bytes)).toBe(0);
      // Up, the call went in 6 pieces, none over what the server takes in one message.
      expect(messagesSent).toHaveLength(6);
      expect(Math.max(...messagesSent)).toBe(largestMessageBytes(WIRE_LIMITS));
      // The answer came as one binary frame not much larger than the bytes (base64 would be 4/3).
      const answer = frames.find((frame) => frame.binary);
      expect(answer!.length).toBeGreaterThan(bytes.length);
      expect(answer!.length).toBeLessThan(bytes.length + 1024);
    } finally {
      transport.close?.();
      await echo.close();
    }
  });
});
