/**
 * Runs encode tasks (encode-tasks.ts) in one worker thread, so that flattening, PSD encoding and
 * checksums of large buffers never hold up the event loop that answers every other call. Images are
 * posted one message each (the event loop gets a turn between them); results come back moved, not
 * copied. The worker starts on first use, is unref'd while idle (it never keeps the process alive)
 * and stops after a while without work; if it dies, the jobs it held fail and the next one starts
 * a new worker.
 *
 * Where its code is: built, `document-worker.js` beside the bundle (electron.vite.config.ts);
 * from source (`npm run serve`, the CLI, tests), encode-worker.ts beside this file, run through tsx.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { copyInSteps } from '../util/turns';
import type { EncodeResult, EncodeTask } from './encode-tasks';

export type EncoderRequest =
  | { type: 'image'; job: number; index: number; data: Uint8Array }
  | { type: 'run'; job: number; task: EncodeTask };

export type EncoderReply =
  | { job: number; ok: true; result: EncodeResult }
  | { job: number; ok: false; error: { name: string; message: string } };

/** How long the worker stays after its last job (its heap is freed when it stops). */
const IDLE_STOP_MS = 20_000;

/**
 * A job whose images add up to this many bytes stops the worker once it is answered (and no other
 * job waits). The worker's copies of the images are garbage by then, but an idle isolate does not
 * collect them: they would stay resident beside the result (the size of a PSD) while it travels on.
 */
const LARGE_JOB_BYTES = 64 * 1024 * 1024;

export function encodeWorkerEntry(): string {
  const source = join(__dirname, 'encode-worker.ts');
  return existsSync(source) ? source : join(__dirname, 'document-worker.js');
}

/** The worker's bootstrap: a require, so Electron's loader (asar) and tsx's hook both apply. */
function bootstrap(entry: string): string {
  const lines: string[] = [];
  if (entry.endsWith('.ts'))
    lines.push(`require(${JSON.stringify(createRequire(entry).resolve('tsx/cjs'))});`);
  lines.push(`require(${JSON.stringify(entry)});`);
  return lines.join('\n');
}

interface Pending {
  resolve: (result: EncodeResult) => void;
  reject: (error: Error) => void;
  large: boolean;
}

function rebuildError(error: { name: string; message: string }): Error {
  const made = error.name === 'RangeError' ? new RangeError(error.message) : new Error(error.message);
  if (error.name !== 'RangeError' && error.name !== 'Error') made.name = error.name;
  return made;
}

export class EncoderThread {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextJob = 1;
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(private readonly entry: string = encodeWorkerEntry()) {}

  /** Runs `task` over `images` (copied for the worker: the caller keeps its arrays). */
  async run(task: EncodeTask, images: readonly Uint8Array[]): Promise<EncodeResult> {
    const worker = this.start();
    const job = this.nextJob++;
    const large = images.reduce((sum, image) => sum + image.byteLength, 0) >= LARGE_JOB_BYTES;
    const done = new Promise<EncodeResult>((resolve, reject) =>
      this.pending.set(job, { resolve, reject, large }),
    );
    this.busy();
    try {
      for (const [index, image] of images.entries()) {
        // A copy of its own, made in steps, to be moved: posting the caller's array would clone it
        // through V8's serializer in one go on this thread, several times slower.
        const data = await copyInSteps(image);
        const request: EncoderRequest = { type: 'image', job, index, data };
        worker.postMessage(request, [data.buffer as ArrayBuffer]);
        await nextTurn();
      }
      const request: EncoderRequest = { type: 'run', job, task };
      worker.postMessage(request);
    } catch (error) {
      this.settle(job)?.reject(error as Error);
    }
    return done;
  }

  /** Whether a worker is started (it stops when idle, and after a large job). */
  get running(): boolean {
    return this.worker !== null;
  }

  /** Stops the worker; jobs it held fail. */
  async dispose(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.failAll(new Error('The encoder was stopped'));
    await worker?.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(bootstrap(this.entry), { eval: true });
    worker.on('message', (reply: EncoderReply) => {
      const pending = this.settle(reply.job);
      if (!pending) return;
      if (reply.ok) pending.resolve(reply.result);
      else pending.reject(rebuildError(reply.error));
    });
    const lost = (error: Error) => {
      if (this.worker !== worker) return;
      this.worker = null;
      this.failAll(error);
    };
    worker.on('error', (error) => lost(new Error(`The encoder failed: ${error.message}`)));
    worker.on('exit', (code) => lost(new Error(`The encoder stopped (exit code ${code})`)));
    this.worker = worker;
    return worker;
  }

  private settle(job: number): Pending | undefined {
    const pending = this.pending.get(job);
    this.pending.delete(job);
    if (this.pending.size === 0) {
      if (pending?.large) this.stop();
      else this.idle();
    }
    return pending;
  }

  /** Stops the worker (between jobs), freeing its heap now; the next job starts another. */
  private stop(): void {
    const worker = this.worker;
    this.worker = null;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    void worker?.terminate();
  }

  private failAll(error: Error): void {
    const jobs = [...this.pending.values()];
    this.pending.clear();
    for (const job of jobs) job.reject(error);
  }

  private busy(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.worker?.ref();
  }

  private idle(): void {
    const worker = this.worker;
    if (!worker) return;
    worker.unref();
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (this.worker === worker && this.pending.size === 0) this.stop();
    }, IDLE_STOP_MS);
    this.idleTimer.unref();
  }
}

let shared: EncoderThread | null = null;

/** The process's encoder (one worker for every document). */
export function sharedEncoder(): EncoderThread {
  return (shared ??= new EncoderThread());
}

export async function encodeOffThread(
  task: EncodeTask,
  images: readonly Uint8Array[],
): Promise<EncodeResult> {
  return sharedEncoder().run(task, images);
}
