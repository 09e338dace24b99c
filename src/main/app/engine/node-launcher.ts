/**
 * Starts the engine worker as a Node child process (browser mode, tests). In development the
 * worker is TypeScript and runs under tsx; built, it is plain JS.
 */
import { fork, type Serializable } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkerLauncher } from '../engine-host';
import { createChildHandle } from './child-handle';
import { ENGINE_KIND_ENV, type EngineKind } from './protocol';

export interface NodeLauncherOptions {
  /** The worker entry: a .ts file (run with tsx) or a built .js file. Default: worker.ts beside this file. */
  entry?: string;
  engine?: EngineKind;
  env?: NodeJS.ProcessEnv;
  /** Extra Node flags, e.g. ['--max-old-space-size=8192']. */
  execArgv?: string[];
}

export function defaultWorkerEntry(): string {
  const ts = join(__dirname, 'worker.ts');
  if (existsSync(ts)) return ts;
  return join(__dirname, 'engine-worker.js');
}

export function createNodeLauncher(options: NodeLauncherOptions = {}): WorkerLauncher {
  return () => {
    const entry = options.entry ?? defaultWorkerEntry();
    const execArgv = [...(entry.endsWith('.ts') ? ['--import', 'tsx'] : []), ...(options.execArgv ?? [])];
    const child = fork(entry, [], {
      execArgv,
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, ...options.env, [ENGINE_KIND_ENV]: options.engine ?? 'onnx' },
    });
    return createChildHandle(child, {
      send: (running, message) => {
        // A write to a worker that just died fails: its exit, not the write error, says why.
        if (running.connected) running.send(message as Serializable, () => undefined);
      },
      kill: (running) => running.kill('SIGKILL'),
      describeError: (error) => `could not run: ${error instanceof Error ? error.message : String(error)}`,
    });
  };
}
