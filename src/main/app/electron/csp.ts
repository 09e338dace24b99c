/** The app's origin and Content-Security-Policy (no electron import: shared with tests). */

export const APP_SCHEME = 'app';
export const APP_ORIGIN = `${APP_SCHEME}://renderer`;

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The dev server (electron-vite dev) needs its HMR socket and React's inline refresh preamble. */
export function devContentSecurityPolicy(devUrl: string): string {
  const origin = new URL(devUrl);
  return CONTENT_SECURITY_POLICY.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'").replace(
    "connect-src 'self'",
    `connect-src 'self' ws://${origin.host} ${origin.origin}`,
  );
}

export function isAppUrl(url: string, devUrl: string | undefined): boolean {
  if (url.startsWith(`${APP_ORIGIN}/`)) return true;
  return devUrl !== undefined && url.startsWith(new URL(devUrl).origin + '/');
}
