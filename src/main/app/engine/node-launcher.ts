/**
 * Starts the engine worker as a Node child process (browser mode, tests). In development the
 * worker is TypeScript and runs under tsx; built, it is plain JS.
 */
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkerHandle, WorkerLauncher } from '../engine-host';
import { ENGINE_KIND_ENV, type EngineKind, type WorkerToHost } from './protocol';

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
    const exitListeners: ((reason: string) => void)[] = [];
    let exited = false;
    const finish = (reason: string) => {
      if (exited) return;
      exited = true;
      for (const listener of exitListeners) listener(reason);
    };
    child.on('exit', (code, signal) => finish(signal ? `killed by ${signal}` : `exit code ${code}`));
    child.on('error', (error) => finish(`could not run: ${error.message}`));
    const handle: WorkerHandle = {
      get pid() {
        return child.pid ?? null;
      },
      send(message) {
        if (!exited && child.connected) child.send(message);
      },
      onMessage(listener) {
        child.on('message', (message) => listener(message as WorkerToHost));
      },
      onExit(listener) {
        exitListeners.push(listener);
      },
      kill() {
        if (!exited) child.kill('SIGKILL');
      },
    };
    return handle;
  };
}
