/** Starts the engine worker as an Electron utilityProcess (its own OS process, Node APIs, no window). */
import { utilityProcess } from 'electron';
import type { WorkerHandle, WorkerLauncher } from '../engine-host';
import { ENGINE_KIND_ENV, type WorkerToHost } from '../engine/protocol';

export function createUtilityLauncher(entry: string): WorkerLauncher {
  return () => {
    const child = utilityProcess.fork(entry, [], {
      serviceName: 'Instruct Edit engine',
      stdio: 'inherit',
      env: { ...process.env, [ENGINE_KIND_ENV]: process.env[ENGINE_KIND_ENV] === 'fake' ? 'fake' : 'onnx' },
    });
    const exitListeners: ((reason: string) => void)[] = [];
    let exited = false;
    child.on('exit', (code) => {
      if (exited) return;
      exited = true;
      for (const listener of exitListeners) listener(`exit code ${code}`);
    });
    const handle: WorkerHandle = {
      get pid() {
        return child.pid ?? null;
      },
      send(message) {
        if (!exited) child.postMessage(message);
      },
      onMessage(listener) {
        child.on('message', (message) => listener(message as WorkerToHost));
      },
      onExit(listener) {
        exitListeners.push(listener);
      },
      kill() {
        if (!exited) child.kill();
      },
    };
    return handle;
  };
}
