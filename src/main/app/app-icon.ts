/**
 * Where the app icon is, for the window's `icon` (Linux and Windows; macOS takes it from the bundle).
 * resources/ sits beside out/ in the project and inside app.asar (electron-builder.yml `files`), and
 * the main bundle runs from out/main, so the same relative path works in development and packaged.
 */
import { join } from 'node:path';

/** `mainDir`: the directory of the built main bundle (its `__dirname`, i.e. out/main). */
export function appIconPath(mainDir: string): string {
  return join(mainDir, '..', '..', 'resources', 'icon.png');
}
