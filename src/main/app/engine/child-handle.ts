/**
 * Turns a started child process (a Node ChildProcess or an Electron UtilityProcess: both are
 * event emitters with 'message', 'exit' and 'error') into a WorkerHandle. The exit listeners run
 * exactly once, whichever comes first: 'exit', or 'error' (a spawn failure in Node; a fatal V8
 * error in a utilityProcess, which Electron throws in the main process when nobody listens). An
 * 'error' without a listener would throw in the parent, so there always is one.
 */

/** The parent's handle on a child process that exchanges typed messages with it. */
export interface ProcessHandle<Send, Receive> {
  readonly pid: number | null;
  send(message: Send): void;
  onMessage(listener: (message: Receive) => void): void;
  /** Called once when the process is gone; `reason` describes how (exit code, signal, fatal error). */
  onExit(listener: (reason: string) => void): void;
  kill(): void;
}

export interface ChildProcessLike {
  readonly pid?: number | undefined;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'exit', listener: (code: number | null, signal?: string | null) => void): unknown;
  on(event: 'error', listener: (...details: unknown[]) => void): unknown;
}

export interface ChildHandleOptions<Child extends ChildProcessLike> {
  /** Sends one message; only called while the child is running. */
  send(child: Child, message: unknown): void;
  /** Stops the child; only called while it is running. */
  kill(child: Child): void;
  /** Describes the 'error' event's arguments for the exit reason. */
  describeError(...details: unknown[]): string;
}

export function createChildHandle<Send, Receive, Child extends ChildProcessLike = ChildProcessLike>(
  child: Child,
  options: ChildHandleOptions<Child>,
): ProcessHandle<Send, Receive> {
  const exitListeners: ((reason: string) => void)[] = [];
  let exited = false;
  let exitReason = '';
  const finish = (reason: string) => {
    if (exited) return;
    exited = true;
    exitReason = reason;
    for (const listener of exitListeners.splice(0)) listener(reason);
  };
  child.on('exit', (code, signal) => finish(signal ? `killed by ${signal}` : `exit code ${code}`));
  child.on('error', (...details) => {
    const alive = !exited;
    finish(options.describeError(...details));
    // Whatever failed, a child we consider gone must not linger (and serve a second copy of its state).
    if (alive) {
      try {
        options.kill(child);
      } catch {
        /* already gone */
      }
    }
  });
  return {
    get pid() {
      return child.pid ?? null;
    },
    send(message) {
      if (!exited) options.send(child, message);
    },
    onMessage(listener) {
      child.on('message', (message) => listener(message as Receive));
    },
    onExit(listener) {
      if (exited) listener(exitReason);
      else exitListeners.push(listener);
    },
    kill() {
      if (!exited) options.kill(child);
    },
  };
}
