/** The editor window, with the secure web preferences the app relies on. */
import { BrowserWindow } from 'electron';
import { join } from 'node:path';
import { appIconPath } from '../app-icon';
import { APP_ORIGIN } from './security';
import { secureWebPreferences } from './web-preferences';

export function createEditorWindow(devUrl: string | undefined): BrowserWindow {
  const window = new BrowserWindow({
    width: 1440,
    height: 900,
    minWidth: 880,
    minHeight: 560,
    // macOS takes the icon from the app bundle; Linux (and an unpackaged Windows run) need it here.
    ...(process.platform === 'darwin' ? {} : { icon: appIconPath(__dirname) }),
    show: false,
    title: 'Instruct Edit',
    backgroundColor: '#1b1c1f',
    webPreferences: secureWebPreferences(join(__dirname, '../preload/index.js')),
  });
  window.once('ready-to-show', () => window.show());
  void window.loadURL(devUrl ?? `${APP_ORIGIN}/index.html`);
  return window;
}
