/**
 * Which file system paths the renderer may name. The renderer never gets to read or write an
 * arbitrary path: a path is usable only when the user chose it — through a native dialog, the
 * recent-files list, the command line (`--model`, `--allow-dir`), or (browser mode) a model folder
 * typed into the model dialog. Everything else is refused with 'forbidden'.
 */
import { realpathSync } from 'node:fs';
import { dirname, isAbsolute, normalize, relative, resolve, sep } from 'node:path';
import { ContractError } from '../../shared/contract/errors';

export type PathPurpose = 'read' | 'write' | 'model';

export class PathPolicy {
  private readonly files = new Map<string, Set<PathPurpose>>();
  private readonly dirs = new Map<string, Set<PathPurpose>>();

  /** A file the user chose (dialog, recent list). */
  grantFile(path: string, ...purposes: PathPurpose[]): void {
    const key = canonical(path);
    const set = this.files.get(key) ?? new Set();
    for (const purpose of purposes) set.add(purpose);
    this.files.set(key, set);
  }

  /** A folder the user chose: everything below it may be used for these purposes. */
  grantDir(path: string, ...purposes: PathPurpose[]): void {
    const key = canonical(path);
    const set = this.dirs.get(key) ?? new Set();
    for (const purpose of purposes) set.add(purpose);
    this.dirs.set(key, set);
  }

  isAllowed(path: string, purpose: PathPurpose): boolean {
    if (!isAbsolute(path) || path.includes('\0')) return false;
    const key = canonical(path);
    if (this.files.get(key)?.has(purpose)) return true;
    for (const [dir, purposes] of this.dirs) {
      // A write target is a file inside a granted folder, never the folder itself.
      if (purposes.has(purpose) && isInside(dir, key) && !(purpose === 'write' && key === dir)) return true;
    }
    return false;
  }

  /** Returns the normalized path, or throws 'forbidden'. */
  check(path: string, purpose: PathPurpose): string {
    if (!this.isAllowed(path, purpose)) {
      throw new ContractError(
        'forbidden',
        `Not a ${purpose === 'model' ? 'model folder' : 'file'} you chose: ${path.slice(0, 300)}`,
      );
    }
    return canonical(path);
  }
}

export function isInside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel) && !rel.split(sep).includes('..'));
}

/**
 * Resolves `..` and, where the path (or its folder, for a file about to be written) exists,
 * symbolic links, so a link inside a granted folder cannot point outside it.
 */
function canonical(path: string): string {
  const absolute = normalize(resolve(path));
  try {
    return realpathSync.native(absolute);
  } catch {
    try {
      const parent = realpathSync.native(dirname(absolute));
      return resolve(parent, absolute.slice(dirname(absolute).length + 1));
    } catch {
      return absolute;
    }
  }
}
