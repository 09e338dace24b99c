/**
 * Main's side of the backend process: a Dispatcher whose calls run in the backend, the backend's
 * events, its recent files, and the native dialogs it asks for. Plain Node (no Electron import),
 * so it is tested with the real backend in a Node child process.
 *
 * If the backend process dies, the calls in flight fail with a readable error and the next call
 * starts a new one.
 */
import { fork, type Serializable } from 'node:child_process';
import type { CallResult } from '../../../shared/contract/errors';
import type { Dialogs } from '../dialogs';
import type { Dispatcher } from '../dispatcher';
import { createChildHandle, type ProcessHandle } from '../engine/child-handle';
import type { EventSink } from '../event-bus';
import type { BackendConfig, BackendToMain, DialogRequest, MainToBackend } from './protocol';
import type { EventName } from '../../../shared/contract/channels';

export type BackendHandle = ProcessHandle<MainToBackend, BackendToMain>;
export type BackendLauncher = () => BackendHandle;

export interface BackendLauncherOptions {
  /** backend-process.js (built) or backend-process.ts (run with tsx). */
  entry: string;
  config: BackendConfig;
  /** Electron: its own binary, run as Node (ELECTRON_RUN_AS_NODE=1). Default: this Node. */
  execPath?: string;
  env?: NodeJS.ProcessEnv;
}

/** Starts the backend as a Node child process. */
export function createBackendLauncher(options: BackendLauncherOptions): BackendLauncher {
  return () => {
    const child = fork(options.entry, [JSON.stringify(options.config)], {
      execArgv: options.entry.endsWith('.ts') ? ['--import', 'tsx'] : [],
      ...(options.execPath ? { execPath: options.execPath } : {}),
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, ...options.env },
    });
    return createChildHandle(child, {
      send: (running, message) => {
        if (running.connected) running.send(message as Serializable);
      },
      kill: (running) => running.kill('SIGKILL'),
      describeError: (error) => `could not run: ${error instanceof Error ? error.message : String(error)}`,
    });
  };
}

export interface BackendClientOptions {
  launcher: BackendLauncher;
  /** Shows the dialogs the backend's handlers ask for; null answers every dialog with "cancelled". */
  dialogs: Dialogs | null;
  /** The recent files changed (`added`: the file just opened or saved). */
  onRecent?(added: string | null, recentFiles: readonly string[]): void;
  /**
   * The backend died unexpectedly (the open document lives there: the app reloads its window, whose
   * first calls start a new backend and offer the autosave).
   */
  onCrash?(reason: string): void;
  /** A file opened from the OS could not be opened. */
  onOpenFailed?(path: string, message: string): void;
  /** How long the backend may take to stop at dispose before it is killed. */
  shutdownGraceMs?: number;
}

interface Running {
  handle: BackendHandle;
  ready: boolean;
  exited: boolean;
  /** Messages sent before the backend said it was ready. */
  queued: MainToBackend[];
}

export class BackendClient implements Dispatcher {
  private running: Running | null = null;
  private nextCallId = 1;
  private readonly pendingCalls = new Map<number, (result: CallResult) => void>();
  private readonly sinks = new Set<EventSink>();
  private recent: string[] = [];
  private disposed = false;

  constructor(private readonly options: BackendClientOptions) {}

  get pid(): number | null {
    return this.running && !this.running.exited ? this.running.handle.pid : null;
  }

  /** Starts the backend now (it also starts with the first call). */
  start(): void {
    this.ensureRunning();
  }

  dispatch(name: unknown, payload: unknown): Promise<CallResult> {
    if (this.disposed) return Promise.resolve(failure('The app is shutting down'));
    const id = this.nextCallId++;
    return new Promise<CallResult>((resolve) => {
      this.pendingCalls.set(id, resolve);
      this.send({ type: 'call', id, name, payload });
    });
  }

  /** Events from the backend's handlers (document changes, progress, model status…). */
  subscribe(sink: EventSink): () => void {
    this.sinks.add(sink);
    return () => this.sinks.delete(sink);
  }

  /** A file the user opened through the OS: the backend grants it and opens it. */
  openChosenFile(path: string): void {
    this.send({ type: 'openChosenFile', path });
  }

  clearRecent(): void {
    this.recent = [];
    this.send({ type: 'clearRecent' });
  }

  recentFiles(): string[] {
    return [...this.recent];
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const running = this.running;
    if (!running || running.exited) return;
    const gone = new Promise<void>((resolve) => running.handle.onExit(() => resolve()));
    if (running.ready) running.handle.send({ type: 'shutdown' });
    else running.handle.kill();
    const timer = setTimeout(() => running.handle.kill(), this.options.shutdownGraceMs ?? 10_000);
    await gone;
    clearTimeout(timer);
  }

  private send(message: MainToBackend): void {
    const running = this.ensureRunning();
    if (!running) return;
    if (running.ready) running.handle.send(message);
    else running.queued.push(message);
  }

  private ensureRunning(): Running | null {
    if (this.disposed) return null;
    if (this.running && !this.running.exited) return this.running;
    const handle = this.options.launcher();
    const running: Running = { handle, ready: false, exited: false, queued: [] };
    this.running = running;
    handle.onMessage((message) => this.receive(running, message));
    handle.onExit((reason) => {
      running.exited = true;
      if (this.running === running) this.running = null;
      const message = `The app's backend process stopped (${reason}); it restarts with the next action`;
      for (const resolve of this.pendingCalls.values()) resolve(failure(message));
      this.pendingCalls.clear();
      if (this.disposed) return;
      console.error(message);
      this.options.onCrash?.(reason);
    });
    return running;
  }

  private receive(running: Running, message: BackendToMain): void {
    switch (message.type) {
      case 'ready':
        running.ready = true;
        this.recent = message.recentFiles;
        this.options.onRecent?.(null, message.recentFiles);
        for (const queued of running.queued.splice(0)) running.handle.send(queued);
        return;
      case 'result': {
        const resolve = this.pendingCalls.get(message.id);
        this.pendingCalls.delete(message.id);
        resolve?.(message.result);
        return;
      }
      case 'event':
        for (const sink of [...this.sinks]) {
          try {
            sink(message.name as EventName, message.payload);
          } catch (error) {
            console.error(`event sink failed for ${message.name}:`, error);
          }
        }
        return;
      case 'dialog':
        void this.showDialog(message.request).then(
          (path) => running.handle.send({ type: 'dialogAnswer', id: message.id, path }),
          (error: unknown) => {
            console.error('The dialog failed:', error);
            running.handle.send({ type: 'dialogAnswer', id: message.id, path: null });
          },
        );
        return;
      case 'recent':
        this.recent = message.recentFiles;
        this.options.onRecent?.(message.added, message.recentFiles);
        return;
      case 'openFailed':
        if (this.options.onOpenFailed) this.options.onOpenFailed(message.path, message.message);
        else console.error(`Could not open ${message.path}: ${message.message}`);
        return;
    }
  }

  private showDialog(request: DialogRequest): Promise<string | null> {
    const dialogs = this.options.dialogs;
    if (!dialogs) return Promise.resolve(null);
    switch (request.kind) {
      case 'openFile':
        return dialogs.openFile();
      case 'chooseModelFolder':
        return dialogs.chooseModelFolder();
      case 'saveProject':
        return dialogs.saveProject(request.suggestedName);
      case 'saveExport':
        return dialogs.saveExport(request.format, request.suggestedName);
      case 'chooseExportFolder':
        return dialogs.chooseExportFolder?.(request.title) ?? Promise.resolve(null);
    }
  }
}

function failure(message: string): CallResult {
  return { ok: false, error: { code: 'failed', message } };
}
