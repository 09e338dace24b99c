/**
 * Which command-line arguments are files to open: pictures and projects that exist, given as
 * paths (relative ones against the launching instance's working directory) or as file:// URIs
 * (what Linux desktops pass for %U).
 */
import { existsSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IMAGE_EXTENSIONS, PROJECT_EXTENSION } from './dialogs';

const OPENABLE_EXTENSIONS = new Set([...IMAGE_EXTENSIONS, PROJECT_EXTENSION]);

function toPath(arg: string, workingDirectory: string): string | null {
  if (/^file:/i.test(arg)) {
    try {
      return fileURLToPath(arg);
    } catch {
      return null;
    }
  }
  // Other URIs (and Chromium's switches) are not files.
  if (/^[a-z][a-z0-9+.-]+:\/\//i.test(arg) || arg.startsWith('-')) return null;
  return resolve(workingDirectory, arg);
}

export function openableFile(
  arg: string,
  workingDirectory: string,
  exists: (path: string) => boolean = existsSync,
): string | null {
  const path = toPath(arg, workingDirectory);
  if (!path) return null;
  if (!OPENABLE_EXTENSIONS.has(extname(path).slice(1).toLowerCase())) return null;
  return exists(path) ? path : null;
}

/** The files to open among a launch's arguments (argv without the executable). */
export function openableFiles(
  args: readonly string[],
  workingDirectory: string,
  exists: (path: string) => boolean = existsSync,
): string[] {
  const files: string[] = [];
  for (const arg of args) {
    const path = openableFile(arg, workingDirectory, exists);
    if (path && !files.includes(path)) files.push(path);
  }
  return files;
}
