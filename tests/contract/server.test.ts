/** Browser mode's server: the token is required, Host/Origin are checked, calls and events flow. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type RunningServer } from '../../src/main/server/server';
import { createClient } from '../../src/shared/contract/client';
import { ContractError } from '../../src/shared/contract/errors';
import type { Dispatcher } from '../../src/main/app/dispatcher';
import { decodeWire, encodeWire, frameFromData, WIRE_LIMITS } from '../../src/shared/contract/wire';
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

  it('answers every malformed frame: bad-request with the call id when readable, else closes', async () => {
    const url = `ws://127.0.0.1:${server.port}/api?token=${server.token}`;
    /** Sends frames on a fresh connection; returns the answers and, if it closed, the close code. */
    const exchange = async (frames: (string | Uint8Array)[]) => {
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
    };
    const refused = (answers: Record<string, unknown>[], id: number | null) =>
      answers.find((answer) => answer.id === id && answer.ok === false) as
        { error: { code: string; message: string } } | undefined;

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

  it('refuses a frame over the size limit without decoding it (closes with 1009)', async () => {
    const calls: string[] = [];
    const dispatcher: Dispatcher = {
      async dispatch(name) {
        calls.push(String(name));
        return { ok: true, value: null };
      },
    };
    const small = await startServer({
      dispatcher,
      bus: core.bus,
      rendererDir: tempDir('renderer-'),
      wireLimits: { ...WIRE_LIMITS, jsonBytes: 64 * 1024, frameBytes: 1024 * 1024 },
    });
    try {
      const url = `ws://127.0.0.1:${small.port}/api?token=${small.token}`;
      for (const frame of [
        encodeWire({
          type: 'call',
          id: 1,
          name: 'app.info',
          payload: { x: new Uint8Array(2 * 1024 * 1024) },
        }),
        encodeWire({ type: 'call', id: 2, name: 'app.info', payload: { x: 'y'.repeat(100 * 1024) } }),
      ]) {
        const { ws, opened, closed } = await openSocket(url);
        expect(await opened).toBe(true);
        ws.send(frame);
        expect((await closed).code).toBe(1009);
      }
      expect(calls).toEqual([]);
    } finally {
      await small.close();
    }
  });

  it('moves bytes both ways as binary frames, byte for byte', async () => {
    const sent: Uint8Array[] = [];
    const frames: { binary: boolean; length: number }[] = [];
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
        return ws as unknown as WebSocketLike;
      },
    });
    try {
      const bytes = new Uint8Array(3 * 1024 * 1024 + 1);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + (i >> 11)) & 255;
      const result = await transport.call('document.openBytes', { name: 'big.png', bytes });
      expect(result.ok).toBe(true);
      expect(sent[0]!.length).toBe(bytes.length);
      expect(Buffer.compare(sent[0]!, bytes)).toBe(0);
      const back = (result as { value: { bytes: Uint8Array } }).value.bytes;
      expect(back).toBeInstanceOf(Uint8Array);
      expect(back.length).toBe(bytes.length);
      expect([back[0], back[back.length - 1]]).toEqual([bytes[bytes.length - 1], bytes[0]]);
      expect(Buffer.compare(Buffer.from(back).reverse(), bytes)).toBe(0);
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
