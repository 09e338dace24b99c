/**
 * Window and session hardening: a strict Content-Security-Policy, no navigation away from the app,
 * no new windows, no webviews, every permission request denied.
 */
import { app, session, type Session } from 'electron';
import { devContentSecurityPolicy, isAppUrl } from './csp';

export { APP_ORIGIN, APP_SCHEME, CONTENT_SECURITY_POLICY, isAppUrl } from './csp';

function hardenSession(target: Session, devUrl: string | undefined): void {
  target.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  target.setPermissionCheckHandler(() => false);
  target.setDevicePermissionHandler(() => false);
  if (devUrl) {
    const csp = devContentSecurityPolicy(devUrl);
    target.webRequest.onHeadersReceived((details, callback) => {
      callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [csp] } });
    });
  }
}

export function applySecurity(devUrl: string | undefined): void {
  hardenSession(session.defaultSession, devUrl);
  app.on('web-contents-created', (_event, contents) => {
    // The app is one page: any navigation (a dropped file, a link, script) is refused.
    contents.on('will-navigate', (event) => event.preventDefault());
    contents.on('will-frame-navigate', (event) => {
      if (!isAppUrl(event.url, devUrl)) event.preventDefault();
    });
    contents.on('will-redirect', (event) => event.preventDefault());
    contents.on('will-attach-webview', (event) => event.preventDefault());
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  });
}
