/**
 * Picks the transport: the preload's bridge when the page runs in Electron, else the browser-mode
 * WebSocket with the access token from the address bar (kept in sessionStorage so a reload works,
 * and removed from the visible URL).
 */
import { createIpcTransport, type BridgeApi } from '../../../shared/contract/bridge';
import { BRIDGE_GLOBAL, TOKEN_PARAM } from '../../../shared/contract/channels';
import { createClient, type AppClient } from '../../../shared/contract/client';
import { createWsTransport, type WebSocketLike } from '../../../shared/contract/ws-transport';

const TOKEN_KEY = 'instruct-edit:token';

function bridge(): BridgeApi | undefined {
  return (window as unknown as Record<string, BridgeApi | undefined>)[BRIDGE_GLOBAL];
}

export function readToken(): string {
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get(TOKEN_PARAM);
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete(TOKEN_PARAM);
    window.history.replaceState(null, '', url.pathname + url.search + url.hash);
    return fromUrl;
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

export function connect(): AppClient {
  const api = bridge();
  if (api) return createClient(createIpcTransport(api));
  return createClient(
    createWsTransport({
      baseUrl: window.location.origin,
      token: readToken(),
      createSocket: (url) => new WebSocket(url) as unknown as WebSocketLike,
    }),
  );
}
