/** Starts the engine worker as an Electron utilityProcess (its own OS process, Node APIs, no window). */
import { utilityProcess } from 'electron';
import type { WorkerLauncher } from '../engine-host';
import { createChildHandle, describeUtilityProcessError } from '../engine/child-handle';
import { ENGINE_KIND_ENV } from '../engine/protocol';

export function createUtilityLauncher(entry: string): WorkerLauncher {
  return () => {
    const child = utilityProcess.fork(entry, [], {
      serviceName: 'Instruct Edit engine',
      stdio: 'inherit',
      env: { ...process.env, [ENGINE_KIND_ENV]: process.env[ENGINE_KIND_ENV] === 'fake' ? 'fake' : 'onnx' },
    });
    return createChildHandle(child, {
      send: (running, message) => running.postMessage(message),
      kill: (running) => running.kill(),
      describeError: describeUtilityProcessError,
    });
  };
}
