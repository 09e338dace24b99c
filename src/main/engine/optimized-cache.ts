/**
 * Optimised copies of model folders (optimizer.ts) kept in the user's cache, one folder per source:
 *   <cacheRoot>/<sha256 of the source UNet's files and OPTIMIZER_VERSION>/   the optimised model
 *   <cacheRoot>/index.json   source folder → { signature, key }, so a later load of the same source
 *                            finds its copy from file sizes and times without hashing gigabytes again.
 * Hashing and optimising read the whole UNet: they run in the engine worker, never on the app's
 * event loop. Looking a copy up (lookupOptimizedCopy) only stats files.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../util/atomic-write';

/** optimizer.ts' OPTIMIZATION_FILE; not imported so that looking up stays free of onnxruntime. */
const OPTIMIZATION_FILE = 'optimization.json';

/** Part of every cache key: a new optimiser (other rewrites) must not reuse older copies. */
export const OPTIMIZER_VERSION = 'fused-attention-1';
const INDEX_FILE = 'index.json';

interface IndexEntry {
  signature: string;
  key: string;
}

export interface CacheProgress {
  stage: 'hashing' | 'rewriting';
  fraction: number;
}

/** The UNet's graph and weight files, sorted (the json/txt files beside them do not change results). */
export function unetFiles(dir: string): string[] {
  const unetDir = join(dir, 'unet');
  if (!existsSync(unetDir)) return [];
  return readdirSync(unetDir)
    .filter((name) => !name.endsWith('.json') && !name.endsWith('.txt'))
    .sort()
    .map((name) => join(unetDir, name));
}

/** Names, sizes and modification times of the UNet's files: cheap, and changes when they do. */
export function unetSignature(dir: string): string {
  return unetFiles(dir)
    .map((path) => {
      const info = statSync(path);
      return `${path}:${info.size}:${Math.round(info.mtimeMs)}`;
    })
    .join('|');
}

/** Whether the folder's UNet can be offered to the optimiser: an ONNX UNet not optimised already. */
export function isOptimizable(dir: string): boolean {
  return existsSync(join(dir, 'unet', 'model.onnx')) && !isOptimized(dir);
}

export function isOptimized(dir: string): boolean {
  return existsSync(join(dir, 'unet', OPTIMIZATION_FILE));
}

function readIndex(cacheRoot: string): Record<string, IndexEntry> {
  try {
    const value: unknown = JSON.parse(readFileSync(join(cacheRoot, INDEX_FILE), 'utf8'));
    return typeof value === 'object' && value !== null ? (value as Record<string, IndexEntry>) : {};
  } catch {
    return {};
  }
}

/** The cached optimised copy of `dir`, when one was made from the UNet files it has now. */
export function lookupOptimizedCopy(cacheRoot: string, dir: string): string | null {
  const entry = readIndex(cacheRoot)[resolve(dir)];
  if (!entry || !/^[0-9a-f]{64}$/.test(entry.key)) return null;
  const copy = join(cacheRoot, entry.key);
  try {
    return entry.signature === unetSignature(dir) && isOptimized(copy) ? copy : null;
  } catch {
    return null;
  }
}

function abortError(): Error {
  const error = new Error('Optimising was cancelled');
  error.name = 'AbortError';
  return error;
}

/** sha256 over the UNet files' names and contents and OPTIMIZER_VERSION, streamed. */
export async function hashUnet(
  dir: string,
  options: { signal?: AbortSignal; onProgress?: (fraction: number) => void } = {},
): Promise<string> {
  const files = unetFiles(dir);
  const total = files.reduce((sum, path) => sum + statSync(path).size, 0) || 1;
  const hash = createHash('sha256').update(OPTIMIZER_VERSION);
  let done = 0;
  for (const path of files) {
    hash.update(`\0${path.slice(join(dir, 'unet').length + 1)}\0`);
    for await (const chunk of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 })) {
      if (options.signal?.aborted) throw abortError();
      hash.update(chunk as Buffer);
      done += (chunk as Buffer).length;
      options.onProgress?.(done / total);
    }
  }
  return hash.digest('hex');
}

/**
 * The optimised copy of `dir` in the cache: reused when a copy with the same key exists, otherwise
 * written (to a temporary folder, renamed when complete) and recorded in the index. The optimiser's
 * refusal (OptimizeRefusedError) passes through and leaves nothing behind.
 */
export async function optimizeIntoCache(
  dir: string,
  cacheRoot: string,
  options: { signal?: AbortSignal; onProgress?: (progress: CacheProgress) => void } = {},
): Promise<{ dir: string; key: string; reused: boolean; attentionRewritten: number }> {
  const signature = unetSignature(dir);
  const key = await hashUnet(dir, {
    ...(options.signal ? { signal: options.signal } : {}),
    onProgress: (fraction) => options.onProgress?.({ stage: 'hashing', fraction: fraction * 0.3 }),
  });
  const copy = join(cacheRoot, key);
  let reused = true;
  let attentionRewritten: number;
  if (!isOptimized(copy)) {
    if (options.signal?.aborted) throw abortError();
    reused = false;
    options.onProgress?.({ stage: 'rewriting', fraction: 0.3 });
    await mkdir(cacheRoot, { recursive: true });
    const partial = join(cacheRoot, `${key}.partial-${process.pid}`);
    rmSync(partial, { recursive: true, force: true });
    rmSync(copy, { recursive: true, force: true });
    try {
      const { optimizeModelFolder } = await import('./optimizer');
      attentionRewritten = (await optimizeModelFolder(dir, partial)).attentionRewritten;
      await rename(partial, copy);
    } finally {
      rmSync(partial, { recursive: true, force: true });
    }
  } else {
    const written: unknown = JSON.parse(readFileSync(join(copy, 'unet', OPTIMIZATION_FILE), 'utf8'));
    const rewritten = (written as { attentionRewritten?: unknown }).attentionRewritten;
    attentionRewritten = typeof rewritten === 'number' ? rewritten : 0;
  }
  const index = readIndex(cacheRoot);
  index[resolve(dir)] = { signature, key };
  await writeFileAtomic(
    join(cacheRoot, INDEX_FILE),
    new TextEncoder().encode(`${JSON.stringify(index, null, 2)}\n`),
  );
  options.onProgress?.({ stage: 'rewriting', fraction: 1 });
  return { dir: copy, key, reused, attentionRewritten };
}
