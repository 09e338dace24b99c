import { randomBytes } from 'node:crypto';
import { open, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /**
   * Before writing, remove temp files that earlier writes of the same path left behind because
   * their process was killed (or crashed) mid-write: those whose process is no longer running, and
   * this process's own that no write of it is using. Off by default.
   */
  removeStaleTemps?: boolean;
  /**
   * Permissions of a new file (e.g. 0o600 for private files). A file that exists keeps its own
   * permissions whatever this says; without either, a new file gets the process's default.
   */
  mode?: number;
}

/** The permission bits of the file at `path`, or null when there is none. */
async function existingMode(path: string): Promise<number | null> {
  try {
    const info = await stat(path);
    return info.isFile() ? info.mode & 0o7777 : null;
  } catch {
    return null;
  }
}

/** Temp files of writes running in this process (names), so stale-temp cleanup never removes them. */
const inFlight = new Set<string>();

/** Writes go in slices of this size (a single fs write takes at most 2 GiB). */
const WRITE_SLICE = 64 * 1024 * 1024;

/**
 * Writes a file so that a crash leaves either the old or the new content, never a torn file:
 * write a temp file beside it (`.<name>.<pid>-<random>.tmp`), fsync, rename over the target, fsync
 * the folder. On failure the temp file is removed and the target is untouched. A file replaced keeps
 * its permissions. `data` may be given as chunks (written in order, never concatenated in memory).
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | readonly Uint8Array[],
  options: AtomicWriteOptions = {},
): Promise<void> {
  const dir = dirname(path);
  if (options.removeStaleTemps) await removeStaleTemps(path);
  const name = `.${basename(path)}.${process.pid}-${randomBytes(6).toString('hex')}.tmp`;
  const temp = join(dir, name);
  inFlight.add(name);
  const mode = (await existingMode(path)) ?? options.mode ?? null;
  try {
    // Created with at most the final permissions, so a private file is never readable by others.
    const handle = await open(temp, 'wx', mode ?? 0o666);
    try {
      // chmod, unlike open's mode, is not narrowed by the umask: the replacement gets the exact bits.
      if (mode !== null) await handle.chmod(mode);
      for (const chunk of data instanceof Uint8Array ? [data] : data) await writeAll(handle, chunk);
      await handle.sync();
    } catch (error) {
      await handle.close().catch(() => undefined);
      await rm(temp, { force: true });
      throw error;
    }
    await handle.close();
    try {
      await rename(temp, path);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  } finally {
    inFlight.delete(name);
  }
  await syncDirectory(dir);
}

async function writeAll(
  handle: { write(buffer: Uint8Array, offset: number, length: number): Promise<{ bytesWritten: number }> },
  chunk: Uint8Array,
): Promise<void> {
  let done = 0;
  while (done < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, done, Math.min(WRITE_SLICE, chunk.length - done));
    done += bytesWritten;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  // Not every platform can open a folder for fsync (Windows cannot); the rename is durable enough there.
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    /* best effort */
  }
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Temp files that writes of `path` made and have not (yet) renamed, with the process that made each. */
export async function atomicTempFiles(path: string): Promise<{ name: string; pid: number }[]> {
  const pattern = new RegExp(`^\\.${escapeRegExp(basename(path))}\\.(\\d+)-[0-9a-f]{12}\\.tmp$`);
  let names: string[];
  try {
    names = await readdir(dirname(path));
  } catch {
    return [];
  }
  const out: { name: string; pid: number }[] = [];
  for (const name of names) {
    const match = pattern.exec(name);
    if (match) out.push({ name, pid: Number(match[1]) });
  }
  return out;
}

function processRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the temp files of killed writes of `path` (best effort); returns how many it removed. */
export async function removeStaleTemps(path: string): Promise<number> {
  let removed = 0;
  for (const { name, pid } of await atomicTempFiles(path)) {
    const stale = pid === process.pid ? !inFlight.has(name) : !processRunning(pid);
    if (!stale) continue;
    try {
      await rm(join(dirname(path), name), { force: true });
      removed++;
    } catch {
      /* best effort */
    }
  }
  return removed;
}
