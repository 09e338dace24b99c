/**
 * Downloads an InstructPix2Pix ONNX export from the Hugging Face Hub into a local folder:
 * only the files the engine reads, each into `<file>.part` first (so an interrupted download resumes
 * with an HTTP range request where it stopped), then verified (size, and the SHA-256 the Hub lists
 * for LFS files or the git blob SHA-1 for small files) and renamed into place. Before starting, the
 * free disk space is checked against what is left to fetch.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, open, rename, rm, stat, statfs } from 'node:fs/promises';
import { dirname, join, normalize, sep } from 'node:path';

export interface HubFile {
  path: string;
  size: number;
  /** SHA-256 of the content (LFS files). */
  sha256?: string;
  /** Git blob SHA-1 (small files stored in git). */
  gitOid?: string;
}

/** The two Hub operations the downloader needs; the default uses @huggingface/hub, tests inject a fake. */
export interface HubApi {
  list(repo: string, revision: string): AsyncIterable<HubFile>;
  /** The file's bytes from `offset` to the end. */
  open(repo: string, path: string, revision: string, offset: number): Promise<ReadableStream<Uint8Array>>;
}

export interface DownloadProgress {
  state: 'checking' | 'downloading' | 'verifying' | 'done' | 'failed' | 'cancelled';
  file: string | null;
  bytesDone: number;
  bytesTotal: number;
  message: string | null;
}

export interface DownloadOptions {
  repo: string;
  revision?: string;
  dir: string;
  hub?: HubApi;
  signal?: AbortSignal;
  onProgress?: (progress: DownloadProgress) => void;
  /** Free space to keep beyond the download, in bytes. */
  marginBytes?: number;
  /** For tests: pretend this much space is free. */
  freeBytes?: () => Promise<number>;
}

export class DownloadError extends Error {
  override name = 'DownloadError';
}

const WANTED_FOLDERS = ['text_encoder', 'unet', 'vae_encoder', 'vae_decoder', 'tokenizer', 'scheduler'];

export function isWantedFile(path: string): boolean {
  if (path === 'model_index.json') return true;
  const [folder, ...rest] = path.split('/');
  return rest.length > 0 && WANTED_FOLDERS.includes(folder ?? '') && !path.endsWith('.md');
}

/** The Hub through @huggingface/hub (loaded lazily: only the download needs it). */
export function defaultHubApi(): HubApi {
  return {
    async *list(repo, revision) {
      const { listFiles } = await import('@huggingface/hub');
      for await (const entry of listFiles({ repo, revision, recursive: true })) {
        if (entry.type !== 'file') continue;
        yield {
          path: entry.path,
          size: entry.lfs?.size ?? entry.size,
          ...(entry.lfs ? { sha256: entry.lfs.oid } : entry.oid ? { gitOid: entry.oid } : {}),
        };
      }
    },
    async open(repo, path, revision, offset) {
      const { downloadFile } = await import('@huggingface/hub');
      const blob = await downloadFile({ repo, path, revision });
      if (!blob) throw new DownloadError(`${path} is missing from ${repo}`);
      return (offset > 0 ? blob.slice(offset) : blob).stream() as ReadableStream<Uint8Array>;
    },
  };
}

function safeTarget(dir: string, path: string): string {
  const target = normalize(join(dir, path));
  if (!target.startsWith(normalize(dir) + sep))
    throw new DownloadError(`Refusing a file outside the model folder: ${path}`);
  return target;
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

function newHash(file: HubFile): Hash | null {
  if (file.sha256) return createHash('sha256');
  if (file.gitOid) return createHash('sha1').update(`blob ${file.size}\0`);
  return null;
}

async function hashExisting(hash: Hash, path: string): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

async function verify(file: HubFile, path: string): Promise<void> {
  const size = await fileSize(path);
  if (size !== file.size) throw new DownloadError(`${file.path}: expected ${file.size} bytes, got ${size}`);
  const hash = newHash(file);
  if (!hash) return;
  await hashExisting(hash, path);
  const digest = hash.digest('hex');
  const expected = file.sha256 ?? file.gitOid;
  if (digest !== expected)
    throw new DownloadError(`${file.path}: checksum mismatch (expected ${expected}, got ${digest})`);
}

const NETWORK_CODES = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENETDOWN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

/** The error codes in an error and its causes (fetch wraps the socket's error in `cause`). */
function errorCodes(error: unknown): string[] {
  const codes: string[] = [];
  for (let current = error, depth = 0; current && typeof current === 'object' && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    current = (current as { cause?: unknown }).cause;
  }
  return codes;
}

/** A download failure in plain words: "cannot reach the Hub" when the network is the problem. */
export function explainDownloadError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const codes = errorCodes(error);
  const network = codes.find((code) => NETWORK_CODES.has(code));
  if (network || /^fetch failed$/i.test(message)) {
    return (
      `Cannot reach huggingface.co: this computer seems to be offline or the network blocks it` +
      ` (${network ?? message}). Try again when online, or download the model elsewhere and choose its folder.`
    );
  }
  return message;
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${Math.round(bytes / 1e3)} kB`;
}

export async function downloadModel(options: DownloadOptions): Promise<void> {
  const hub = options.hub ?? defaultHubApi();
  const revision = options.revision ?? 'main';
  const report = (progress: DownloadProgress) => options.onProgress?.(progress);
  const throwIfCancelled = () => {
    if (options.signal?.aborted) throw new DownloadError('cancelled');
  };
  let bytesTotal = 0;
  let bytesDone = 0;
  report({ state: 'checking', file: null, bytesDone, bytesTotal, message: `Listing ${options.repo}` });

  const files: HubFile[] = [];
  for await (const file of hub.list(options.repo, revision)) {
    if (isWantedFile(file.path)) files.push(file);
  }
  const folders = new Set(files.map((file) => file.path.split('/')[0]));
  const missing = ['model_index.json', 'text_encoder', 'unet', 'vae_encoder', 'vae_decoder'].filter(
    (name) => !folders.has(name),
  );
  if (missing.length > 0) {
    throw new DownloadError(
      `${options.repo} does not look like an InstructPix2Pix ONNX export (missing ${missing.join(', ')})`,
    );
  }

  await mkdir(options.dir, { recursive: true });
  let remaining = 0;
  for (const file of files) {
    bytesTotal += file.size;
    const target = safeTarget(options.dir, file.path);
    if (existsSync(target) && (await fileSize(target)) === file.size) bytesDone += file.size;
    else {
      const partial = Math.min(await fileSize(`${target}.part`), file.size);
      bytesDone += partial;
      remaining += file.size - partial;
    }
  }
  const free = options.freeBytes ? await options.freeBytes() : await freeSpace(options.dir);
  const margin = options.marginBytes ?? 200e6;
  if (free < remaining + margin) {
    throw new DownloadError(
      `Not enough free disk space in ${options.dir}: ${formatBytes(remaining)} more are needed (plus ${formatBytes(margin)} to spare), ${formatBytes(free)} are free`,
    );
  }

  for (const file of files) {
    throwIfCancelled();
    const target = safeTarget(options.dir, file.path);
    if (existsSync(target) && (await fileSize(target)) === file.size) continue;
    await mkdir(dirname(target), { recursive: true });
    const partPath = `${target}.part`;
    let offset = await fileSize(partPath);
    if (offset > file.size) {
      await rm(partPath, { force: true });
      bytesDone -= file.size;
      offset = 0;
    }
    report({ state: 'downloading', file: file.path, bytesDone, bytesTotal, message: null });
    if (offset < file.size) {
      const stream = await hub.open(options.repo, file.path, revision, offset);
      const handle = await open(partPath, offset > 0 ? 'a' : 'w');
      const reader = stream.getReader();
      let lastReport = 0;
      try {
        for (;;) {
          if (options.signal?.aborted) {
            await reader.cancel().catch(() => undefined);
            throw new DownloadError('cancelled');
          }
          const { done, value } = await reader.read();
          if (done) break;
          await handle.write(value);
          bytesDone += value.length;
          const now = Date.now();
          if (now - lastReport > 250) {
            lastReport = now;
            report({ state: 'downloading', file: file.path, bytesDone, bytesTotal, message: null });
          }
        }
      } finally {
        await handle.close();
      }
    }
    report({ state: 'verifying', file: file.path, bytesDone, bytesTotal, message: null });
    try {
      await verify(file, partPath);
    } catch (error) {
      // A corrupt partial download cannot be resumed: start that file over next time.
      await rm(partPath, { force: true });
      throw error;
    }
    await rename(partPath, target);
  }
  report({
    state: 'done',
    file: null,
    bytesDone,
    bytesTotal,
    message: `Downloaded ${formatBytes(bytesTotal)} to ${options.dir}`,
  });
}

async function freeSpace(dir: string): Promise<number> {
  const stats = await statfs(dir);
  return Number(stats.bavail) * Number(stats.bsize);
}
