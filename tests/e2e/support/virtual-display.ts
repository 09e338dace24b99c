/**
 * A display for headed apps on Linux without one (CI, SSH): an Xvfb server on a free display
 * number, as xvfb-run would start. Playwright's _electron.launch adds its own flags to the
 * executable's arguments, so the xvfb-run script cannot wrap the binary; Xvfb is started directly.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface VirtualDisplay {
  /** e.g. ":99" */
  display: string;
  close(): void;
}

/** Null when a display is already there, or on other platforms than Linux. */
export async function virtualDisplayIfNeeded(
  env: NodeJS.ProcessEnv = process.env,
): Promise<VirtualDisplay | null> {
  if (process.platform !== 'linux' || env.DISPLAY || env.WAYLAND_DISPLAY) return null;
  return startXvfb();
}

export function startXvfb(screen = '1280x800x24'): Promise<VirtualDisplay> {
  const server: ChildProcess = spawn(
    'Xvfb',
    ['-displayfd', '3', '-screen', '0', screen, '-nolisten', 'tcp'],
    {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    },
  );
  return new Promise<VirtualDisplay>((resolve, reject) => {
    let written = '';
    let errors = '';
    server.stderr?.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    const numberPipe = server.stdio[3] as NodeJS.ReadableStream;
    numberPipe.on('data', (chunk: Buffer) => {
      written += chunk.toString();
      const match = /^(\d+)\n/.exec(written);
      if (match) resolve({ display: `:${match[1]}`, close: () => server.kill() });
    });
    server.on('error', (error) => reject(new Error(`Xvfb could not start (${error.message}); install xvfb`)));
    server.on('exit', (code) => reject(new Error(`Xvfb exited (${code}): ${errors.trim().slice(-300)}`)));
  });
}
