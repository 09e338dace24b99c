/**
 * Undo/redo as a list of recorded diffs. An entry holds the forward diff of one named action; undo
 * applies its inverse, redo the diff again. Entries reference pixels by hash only.
 */
import { invertDiff, type DocumentDiff } from './diff';
import type { DocumentActionType } from './actions';

export interface HistoryEntry {
  label: string;
  type: DocumentActionType;
  diff: DocumentDiff;
  at: number;
}

export class History {
  private entries: HistoryEntry[] = [];
  /** Entries [0, index) are done; [index, length) can be redone. */
  private index = 0;

  constructor(private readonly limit = 500) {}

  push(entry: HistoryEntry): void {
    this.entries.splice(this.index);
    this.entries.push(entry);
    if (this.entries.length > this.limit) this.entries.splice(0, this.entries.length - this.limit);
    this.index = this.entries.length;
  }

  get canUndo(): boolean {
    return this.index > 0;
  }

  get canRedo(): boolean {
    return this.index < this.entries.length;
  }

  get undoLabel(): string | null {
    return this.entries[this.index - 1]?.label ?? null;
  }

  get redoLabel(): string | null {
    return this.entries[this.index]?.label ?? null;
  }

  /** The diff that undoes the last done entry (and steps back), or null. */
  undo(): { entry: HistoryEntry; diff: DocumentDiff } | null {
    const entry = this.entries[this.index - 1];
    if (!entry) return null;
    this.index--;
    return { entry, diff: invertDiff(entry.diff) };
  }

  /** The diff that redoes the next entry (and steps forward), or null. */
  redo(): { entry: HistoryEntry; diff: DocumentDiff } | null {
    const entry = this.entries[this.index];
    if (!entry) return null;
    this.index++;
    return { entry, diff: entry.diff };
  }

  /** Labels, oldest first, and how many of them are done. */
  list(): { labels: string[]; done: number } {
    return { labels: this.entries.map((e) => e.label), done: this.index };
  }

  clear(): void {
    this.entries = [];
    this.index = 0;
  }
}
