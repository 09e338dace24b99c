/**
 * Optimised copies of model folders (optimizer.ts) kept in the user's cache, one folder per source:
 *   <cacheRoot>/<sha256 of the source UNet's files and OPTIMIZER_VERSION>/   the optimised model
 *   <cacheRoot>/index.json   source folder → { signature, key }, so a later load of the same source
 *                            finds its copy from file sizes and times without hashing gigabytes again.
 * Looking a copy up (here) only stats files; hashing and optimising (optimize-into-cache.ts) read
 * the whole UNet and run in the engine worker, never on the app's event loop.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** optimizer.ts' OPTIMIZATION_FILE; not imported so that looking up stays free of onnxruntime. */
export const OPTIMIZATION_FILE = 'optimization.json';

/** Part of every cache key: a new optimiser (other rewrites) must not reuse older copies. */
export const OPTIMIZER_VERSION = 'fused-attention-1';
export const INDEX_FILE = 'index.json';

export interface IndexEntry {
  signature: string;
  key: string;
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

export function readIndex(cacheRoot: string): Record<string, IndexEntry> {
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
