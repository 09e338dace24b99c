/**
 * Writes optimised copies into the cache that optimized-cache.ts looks up: hashes the source UNet,
 * reuses a copy with the same key or runs the optimiser into a temporary folder and renames it.
 * Reads the whole UNet: the engine worker runs it, never the app's event loop.
 */
import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../util/atomic-write';
import { optimizeModelFolder } from './optimizer';
import {
  INDEX_FILE,
  isOptimized,
  OPTIMIZATION_FILE,
  OPTIMIZER_VERSION,
  readIndex,
  unetFiles,
  unetSignature,
} from './optimized-cache';

export interface CacheProgress {
  stage: 'hashing' | 'rewriting';
  fraction: number;
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
    // A worker ended mid-rewrite (a cancel that did not stop in time) leaves its partial folder.
    for (const name of readdirSync(cacheRoot))
      if (name.startsWith(`${key}.partial-`)) rmSync(join(cacheRoot, name), { recursive: true, force: true });
    rmSync(copy, { recursive: true, force: true });
    try {
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
