/**
 * Messages between Electron's main process and the backend process, which holds everything behind
 * the contract (documents, sharp, the engine host). Main keeps only windows, menus, dialogs and
 * the OS integration, so no native image code runs next to Chromium's GTK and GLib. Carried by
 * structured clone (Node IPC with 'advanced' serialization), so typed arrays pass as they are.
 */
import type { CallResult } from '../../../shared/contract/errors';
import type { ExportFormat } from '../../../shared/contract/schemas';

/** Native dialogs the backend's handlers ask main to show. */
export type DialogRequest =
  | { kind: 'openFile' }
  | { kind: 'chooseModelFolder' }
  | { kind: 'saveProject'; suggestedName: string }
  | { kind: 'saveExport'; format: ExportFormat; suggestedName: string }
  | { kind: 'chooseExportFolder'; title: string };

export type MainToBackend =
  | { type: 'call'; id: number; name: unknown; payload: unknown }
  /** A file the user opened through the OS (command line, "Open with", dock): grant it and open it. */
  | { type: 'openChosenFile'; path: string }
  | { type: 'clearRecent' }
  | { type: 'dialogAnswer'; id: number; path: string | null }
  | { type: 'shutdown' };

export type BackendToMain =
  | { type: 'ready'; pid: number; recentFiles: string[] }
  | { type: 'result'; id: number; result: CallResult }
  | { type: 'event'; name: string; payload: unknown }
  | { type: 'dialog'; id: number; request: DialogRequest }
  /** The recent files changed; `added` is the file just opened or saved (for the OS list). */
  | { type: 'recent'; added: string | null; recentFiles: string[] }
  | { type: 'openFailed'; path: string; message: string };

/** What main tells the backend at start (its first argument, as JSON). */
export interface BackendConfig {
  version: string;
  /** Settings, recent files, models, recovery. */
  configDir: string;
  engine: 'onnx' | 'fake';
}
