/**
 * The renderer's state: what the main side reported (document, model, engine, progress) and the
 * UI's own state (selection, tools, dialogs, the draft instruction). A tiny external store read with
 * useSyncExternalStore; components subscribe to slices with selectors.
 */
import { useSyncExternalStore } from 'react';
import { DEFAULT_EDIT_SETTINGS } from '../../../shared/engine-types';
import type {
  AppSettings,
  CallResponse,
  DocumentView,
  DownloadProgress,
  EditSettingsInput,
  EngineStatus,
  EventPayload,
  GridView,
  JobProgress,
  ModelStatus,
  RecoveryEntry,
} from '../../../shared/contract/schemas';

export type Tool = 'move' | 'mask';
export type GridProgress = EventPayload<'grid.progress'>;
export type CompareMode = 'off' | 'split';
export type DialogName = 'none' | 'models' | 'settings' | 'shortcuts';

export interface Toast {
  id: number;
  kind: 'info' | 'error';
  text: string;
}

export interface Draft {
  instruction: string;
  steps: number;
  textGuidance: number;
  imageGuidance: number;
  /** null: a random seed per edit. */
  seed: number | null;
  scheduler: EditSettingsInput['scheduler'];
  resolution: EditSettingsInput['resolution'];
  /** Karras-spaced noise levels (schedulers that support them); unset: the scheduler's default. */
  karrasSigmas?: boolean;
}

export interface AppState {
  connected: boolean;
  info: CallResponse<'app.info'> | null;
  settings: AppSettings | null;
  model: ModelStatus | null;
  engine: EngineStatus | null;
  doc: DocumentView | null;
  progress: Record<string, JobProgress>;
  downloads: Record<string, DownloadProgress>;
  toasts: Toast[];
  selectedLayerId: string | null;
  tool: Tool;
  brush: { size: number; hardness: number; erase: boolean };
  compare: CompareMode;
  /** Holding the compare key shows the source alone. */
  showBefore: boolean;
  split: number;
  zoom: number;
  dialog: DialogName;
  draft: Draft;
  /** "Re-run with…": the message whose settings the prompt box is editing. */
  rerunOf: string | null;
  busy: string | null;
  /** Autosaved work newer than what was saved, offered for restoring. */
  recoveries: RecoveryEntry[];
  /** Asking whether to save unsaved work before it is replaced (what would replace it). */
  unsavedPrompt: { action: string } | null;
  /** Variants shown side by side / flipped: the message and the variant ids, in order. */
  compareVariants: { messageId: string; variantIds: string[] } | null;
  /** Guidance explorer (issue #11): the message whose explorer is open. */
  gridFor: string | null;
  /** Each message's last grid, as grid.get and grid.updated reported it. */
  grids: Record<string, GridView>;
  /** The latest grid.progress per grid id. */
  gridProgress: Record<string, GridProgress>;
  /** The last measured time of one denoising step (ms), for the grid's expected time. */
  stepMs: number | null;
}

export function defaultDraft(): Draft {
  return { instruction: '', ...DEFAULT_EDIT_SETTINGS, seed: null };
}

let state: AppState = {
  connected: false,
  info: null,
  settings: null,
  model: null,
  engine: null,
  doc: null,
  progress: {},
  downloads: {},
  toasts: [],
  selectedLayerId: null,
  tool: 'move',
  brush: { size: 60, hardness: 0.6, erase: false },
  compare: 'off',
  showBefore: false,
  split: 0.5,
  zoom: 1,
  dialog: 'none',
  draft: defaultDraft(),
  rerunOf: null,
  busy: null,
  recoveries: [],
  unsavedPrompt: null,
  compareVariants: null,
  gridFor: null,
  grids: {},
  gridProgress: {},
  stepMs: null,
};

const listeners = new Set<() => void>();

export function getState(): AppState {
  return state;
}

export function setState(change: Partial<AppState> | ((current: AppState) => Partial<AppState>)): void {
  const patch = typeof change === 'function' ? change(state) : change;
  state = { ...state, ...patch };
  for (const listener of [...listeners]) listener();
}

export function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function useAppState<T>(selector: (state: AppState) => T): T {
  return useSyncExternalStore(subscribe, () => selector(state));
}

let nextToast = 1;
export function toast(text: string, kind: Toast['kind'] = 'info'): void {
  const id = nextToast++;
  setState((current) => ({ toasts: [...current.toasts.slice(-3), { id, kind, text }] }));
  setTimeout(
    () => setState((current) => ({ toasts: current.toasts.filter((entry) => entry.id !== id) })),
    kind === 'error' ? 8000 : 4000,
  );
}
