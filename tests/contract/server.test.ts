/** Browser mode's server: the token is required, Host/Origin are checked, calls and events flow. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type RunningServer } from '../../src/main/server/server';
import { createClient } from '../../src/shared/contract/client';
import { ContractError } from '../../src/shared/contract/errors';
import { decodeWire, encodeWire } from '../../src/shared/contract/wire';
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
      ws.on('message', (data) => answers.push(decodeWire(data.toString())));
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

  it('survives garbage frames', async () => {
    const { ws, opened } = await openSocket(`ws://127.0.0.1:${server.port}/api?token=${server.token}`);
    expect(await opened).toBe(true);
    const answers: unknown[] = [];
    ws.on('message', (data) => answers.push(decodeWire(data.toString())));
    for (const frame of [
      'not json',
      '{"type":"call"}',
      '{"type":"call","id":"x","name":"app.info"}',
      '[]',
      'null',
      '{"$bytes":"!!"}',
      Buffer.from([1, 2, 3]),
    ]) {
      ws.send(frame);
    }
    ws.send(encodeWire({ type: 'call', id: 9, name: 'app.info', payload: {} }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(answers.some((answer) => (answer as { id?: number }).id === 9)).toBe(true);
    ws.close();
  });
});
