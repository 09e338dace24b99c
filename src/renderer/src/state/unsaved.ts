/**
 * The "save changes?" question asked before unsaved work is replaced (opening another picture,
 * restoring an autosave). The dialog component shows `unsavedPrompt` and answers through here.
 */
import { getState, setState } from './store';

export type UnsavedChoice = 'save' | 'discard' | 'cancel';

let pending: ((choice: UnsavedChoice) => void) | null = null;

export function askUnsaved(action: string): Promise<UnsavedChoice> {
  // A question still open is answered "cancel": only one replacement can be pending.
  pending?.('cancel');
  setState({ unsavedPrompt: { action } });
  return new Promise((resolve) => {
    pending = resolve;
  });
}

export function answerUnsaved(choice: UnsavedChoice): void {
  const resolve = pending;
  pending = null;
  setState({ unsavedPrompt: null });
  resolve?.(choice);
}

/**
 * Whether leaving the page should be questioned: browser mode, unsaved work, and a server to save it
 * to (once the connection is gone, only the autosave can help, and asking would only get in the way).
 */
export function shouldWarnBeforeUnload(): boolean {
  const state = getState();
  return state.info?.mode === 'browser' && state.connected && state.doc?.dirty === true;
}
