/** The editor window, with the secure web preferences the app relies on. */
import { BrowserWindow } from 'electron';
import { join } from 'node:path';
import { APP_ORIGIN } from './security';
import { secureWebPreferences } from './web-preferences';

export function createEditorWindow(devUrl: string | undefined): BrowserWindow {
  const window = new BrowserWindow({
    width: 1440,
    height: 900,
    minWidth: 960,
    minHeight: 600,
    show: false,
    title: 'Instruct Edit',
    backgroundColor: '#1b1c1f',
    webPreferences: secureWebPreferences(join(__dirname, '../preload/index.js')),
  });
  window.once('ready-to-show', () => window.show());
  void window.loadURL(devUrl ?? `${APP_ORIGIN}/index.html`);
  return window;
}
