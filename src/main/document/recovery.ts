/**
 * Autosave and recovery. While a document has unsaved changes, AutosaveScheduler writes a recovery
 * file (an ordinary project file whose manifest has `recovery: { projectPath }`) at most once per
 * interval: beside a saved project as `<project path>.recovery.iedit`, or for a document never
 * saved as `<recovery folder>/<document id>.recovery.iedit`. A real save deletes the recovery
 * files. On open, findRecovery tells whether a recovery file holds later work than the project
 * (its manifest's savedAt is later, or the project cannot be read), so the app can offer it;
 * loadProject on the recovery file gives that document back.
 */
import { lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PROJECT_EXTENSION, type GridRecord } from '../../shared/document/schema';
import type { DocumentRecord } from '../../shared/document/records';
import { ProjectFileError } from './errors';
import type { PixelStore } from './pixel-store';
import { readProjectManifest, saveProject, type SavedProject } from './project-file';

export const RECOVERY_SUFFIX = `.recovery${PROJECT_EXTENSION}`;

/** The recovery file of a saved project: beside it, `<project path>.recovery.iedit`. */
export function recoveryPathFor(projectPath: string): string {
  return `${projectPath}${RECOVERY_SUFFIX}`;
}

/** The recovery file of a document never saved: `<folder>/<document id>.recovery.iedit`. */
export function unsavedRecoveryPath(folder: string, documentId: string): string {
  const safe = documentId.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^\.+/, '_') || 'document';
  return join(folder, `${safe}${RECOVERY_SUFFIX}`);
}

export interface RecoveryInfo {
  recoveryPath: string;
  /** The project the recovery belongs to, as its manifest says (null: a document never saved). */
  projectPath: string | null;
  /** Null when the recovery file cannot be read. */
  documentId: string | null;
  /** How many edit layers the recovered document has (0 when it cannot be read). */
  layers: number;
  /** When the recovery was written (its manifest's savedAt; the file's mtime if unreadable). */
  savedAt: number;
  /** The project's savedAt, or null when there is no project or it cannot be read. */
  projectSavedAt: number | null;
  /**
   * True when the recovery holds later work than the project: it is readable and either its savedAt
   * is later than the project's or the project is missing or unreadable. Offer it when true.
   */
  newer: boolean;
  /** Why the recovery file cannot be used, or null. */
  problem: string | null;
}

async function describeRecovery(
  recoveryPath: string,
  expectedProject?: string,
): Promise<RecoveryInfo | null> {
  let mtime: number;
  try {
    // Autosaves are regular files this app wrote: a link (which could lead to any project the user
    // never chose, e.g. one placed beside a project in a shared folder) is not one.
    const info = await lstat(recoveryPath);
    if (!info.isFile()) return null;
    mtime = info.mtimeMs;
  } catch {
    return null;
  }
  let recovery: Awaited<ReturnType<typeof readProjectManifest>>['manifest'];
  try {
    recovery = (await readProjectManifest(recoveryPath)).manifest;
  } catch (error) {
    if (error instanceof ProjectFileError && error.code === 'not-found') return null;
    return {
      recoveryPath,
      projectPath: expectedProject ?? null,
      documentId: null,
      layers: 0,
      savedAt: mtime,
      projectSavedAt: null,
      newer: false,
      problem: error instanceof Error ? error.message : String(error),
    };
  }
  const projectPath = expectedProject ?? recovery.recovery?.projectPath ?? null;
  let projectSavedAt: number | null = null;
  if (projectPath !== null) {
    try {
      projectSavedAt = (await readProjectManifest(projectPath)).manifest.savedAt;
    } catch {
      projectSavedAt = null; // missing or unreadable: the recovery is all there is
    }
  }
  return {
    recoveryPath,
    projectPath,
    documentId: recovery.document.id,
    layers: recovery.document.layers.length,
    savedAt: recovery.savedAt,
    projectSavedAt,
    newer: projectSavedAt === null || recovery.savedAt > projectSavedAt,
    problem: null,
  };
}

/** Whether `path` is still a regular file (not a link): checked again right before a restore reads it. */
export async function isRecoveryFile(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isFile();
  } catch {
    return false;
  }
}

/** The recovery file of a saved project, if there is one (see RecoveryInfo.newer). */
export async function findRecovery(projectPath: string): Promise<RecoveryInfo | null> {
  return describeRecovery(recoveryPathFor(projectPath), projectPath);
}

/** The recovery files in a folder (documents never saved, usually), newest first. */
export async function findRecoveries(folder: string): Promise<RecoveryInfo[]> {
  let names: string[];
  try {
    names = await readdir(folder);
  } catch {
    return [];
  }
  const found: RecoveryInfo[] = [];
  for (const name of names) {
    if (!name.endsWith(RECOVERY_SUFFIX) || name.startsWith('.')) continue;
    const info = await describeRecovery(join(folder, name));
    if (info) found.push(info);
  }
  return found.sort((a, b) => b.savedAt - a.savedAt);
}

/** Deletes a recovery file; a missing one is fine. */
export async function deleteRecovery(recoveryPath: string): Promise<void> {
  await rm(recoveryPath, { force: true });
}

export interface AutosaveTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Node's timers, unref'd so a pending autosave never keeps the process alive. */
export const SYSTEM_TIMERS: AutosaveTimers = {
  setTimeout: (callback, ms) => {
    const handle = setTimeout(callback, ms);
    handle.unref();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface AutosaveOptions {
  /** The document as it is now, or null when there is none. */
  snapshot: () => { doc: DocumentRecord; store: PixelStore; grids?: readonly GridRecord[] } | null;
  /** Where the project is saved, or null while it has never been saved. */
  projectPath: string | null;
  /** Where recovery files of documents never saved go (the app's data folder). */
  recoveryFolder: string;
  /** Minimum time between autosaves, and from a first change to its autosave (default 30 s). */
  intervalMs?: number;
  timers?: AutosaveTimers;
  /** The clock for the recovery manifest's savedAt (default Date.now). */
  now?: () => number;
  generator?: { name: string; version: string };
  onSaved?: (saved: SavedProject) => void;
  /** Autosave failures (the next change, or the interval, tries again). */
  onError?: (error: unknown) => void;
}

export const DEFAULT_AUTOSAVE_INTERVAL_MS = 30_000;

/**
 * Writes recovery files after changes: markChanged() after every change; the first change starts
 * the interval, at its end the document is saved to the recovery file, and changes made meanwhile
 * wait for the next interval (so at most one autosave per interval). A failed autosave is retried
 * an interval later.
 */
export class AutosaveScheduler {
  private projectPath: string | null;
  private readonly intervalMs: number;
  private readonly timers: AutosaveTimers;
  private timer: unknown = null;
  private running: Promise<void> | null = null;
  private changes = 0;
  private savedChanges = 0;
  private disposed = false;
  /** Recovery files this scheduler wrote and has not deleted. */
  private readonly written = new Set<string>();

  constructor(private readonly options: AutosaveOptions) {
    this.projectPath = options.projectPath;
    this.intervalMs = options.intervalMs ?? DEFAULT_AUTOSAVE_INTERVAL_MS;
    this.timers = options.timers ?? SYSTEM_TIMERS;
  }

  /** True while there are changes no autosave or save holds yet. */
  get pending(): boolean {
    return this.changes !== this.savedChanges;
  }

  /** Where the next autosave of `doc` goes. */
  recoveryPathOf(doc: Pick<DocumentRecord, 'id'>): string {
    return this.projectPath !== null
      ? recoveryPathFor(this.projectPath)
      : unsavedRecoveryPath(this.options.recoveryFolder, doc.id);
  }

  /** Call after every change of the document. */
  markChanged(): void {
    if (this.disposed) return;
    this.changes++;
    if (!this.running) this.schedule();
  }

  /** Resolves when no autosave is running. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Autosaves now if there are unsaved changes (e.g. before quitting), then resolves. */
  async flush(): Promise<void> {
    this.cancelTimer();
    if (this.running) await this.running;
    if (this.pending && !this.disposed) await this.run();
  }

  /**
   * After a real save to `projectPath`: what was changed so far is saved, pending autosaves are
   * dropped, and the recovery files are deleted (those this scheduler wrote and the project's).
   */
  async markSaved(projectPath: string): Promise<void> {
    this.cancelTimer();
    const saved = this.changes;
    // An autosave in flight would otherwise put a recovery file back after the deletion.
    if (this.running) await this.running;
    this.cancelTimer();
    this.projectPath = projectPath;
    this.savedChanges = saved;
    await this.deleteRecoveries([...this.written, recoveryPathFor(projectPath)]);
    if (this.pending) this.schedule();
  }

  /** Drops the changes and deletes the recovery files (the user closed without saving). */
  async discard(): Promise<void> {
    this.cancelTimer();
    if (this.running) await this.running;
    this.cancelTimer();
    this.savedChanges = this.changes;
    await this.deleteRecoveries([...this.written]);
  }

  /** Stops scheduling; waits for an autosave in flight. Recovery files stay (a crash is a dispose). */
  async dispose(): Promise<void> {
    this.disposed = true;
    this.cancelTimer();
    if (this.running) await this.running;
  }

  private schedule(): void {
    if (this.timer !== null || this.disposed) return;
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      void this.run();
    }, this.intervalMs);
  }

  private cancelTimer(): void {
    if (this.timer === null) return;
    this.timers.clearTimeout(this.timer);
    this.timer = null;
  }

  private async deleteRecoveries(paths: string[]): Promise<void> {
    for (const path of new Set(paths)) {
      try {
        await deleteRecovery(path);
        this.written.delete(path);
      } catch (error) {
        this.options.onError?.(error);
      }
    }
  }

  private run(): Promise<void> {
    if (this.running) return this.running;
    if (this.disposed || !this.pending) return Promise.resolve();
    let snapshot: ReturnType<AutosaveOptions['snapshot']>;
    try {
      snapshot = this.options.snapshot();
    } catch (error) {
      this.options.onError?.(error);
      return Promise.resolve();
    }
    if (!snapshot) return Promise.resolve();
    const changes = this.changes;
    const path = this.recoveryPathOf(snapshot.doc);
    const run = (async () => {
      try {
        // The app's recovery folder may not exist yet (first autosave after installing).
        if (this.projectPath === null)
          await mkdir(this.options.recoveryFolder, { recursive: true, mode: 0o700 });
        const saved = await saveProject(path, snapshot.doc, snapshot.store, {
          recovery: { projectPath: this.projectPath },
          ...(snapshot.grids ? { grids: snapshot.grids } : {}),
          ...(this.options.now ? { savedAt: this.options.now() } : {}),
          ...(this.options.generator ? { generator: this.options.generator } : {}),
        });
        this.written.add(path);
        this.savedChanges = Math.max(this.savedChanges, changes);
        this.options.onSaved?.(saved);
      } catch (error) {
        this.options.onError?.(error);
      } finally {
        this.running = null;
        if (this.pending) this.schedule();
      }
    })();
    this.running = run;
    return run;
  }
}
