/**
 * Keyboard shortcuts. In Electron the menu's accelerators deliver open/save/export/undo/redo/zoom
 * (as menu.command events); in a browser the page handles them here. Esc cancels the running edit.
 */
import { useEffect } from 'react';
import { cancelCurrentJob, runMenuCommand } from '../state/actions';
import { exploreSelectedEdit } from '../state/grid-actions';
import { getState, setState } from '../state/store';
import type { MenuCommand } from '../../../shared/contract/schemas';

function inTextField(target: EventTarget | null): boolean {
  return (
    target instanceof HTMLInputElement ||
    target instanceof HTMLTextAreaElement ||
    target instanceof HTMLSelectElement ||
    (target instanceof HTMLElement && target.isContentEditable)
  );
}

/** The command a key press means in browser mode, or null. */
export function shortcutCommand(event: KeyboardEvent): MenuCommand | null {
  const mod = event.ctrlKey || event.metaKey;
  if (!mod || event.altKey) return null;
  const key = event.key.toLowerCase();
  if (key === 'o') return 'open';
  if (key === 's') return event.shiftKey ? 'saveAs' : 'save';
  if (key === 'e') return event.shiftKey ? 'exportPsd' : 'exportPng';
  if (key === 'z') return event.shiftKey ? 'redo' : 'undo';
  if (key === 'y') return 'redo';
  if (key === '=' || key === '+') return 'zoomIn';
  if (key === '-') return 'zoomOut';
  if (key === '0') return 'zoomFit';
  if (key === '1') return 'zoom100';
  return null;
}

export function useShortcuts(): void {
  useEffect(() => {
    const onKeyDown = (event: KeyboardEvent) => {
      const state = getState();
      const electron = state.info?.mode === 'electron';
      const textField = inTextField(event.target);
      const command = shortcutCommand(event);
      if (command && !electron) {
        // Text fields keep their own undo/redo.
        if (textField && (command === 'undo' || command === 'redo')) return;
        event.preventDefault();
        runMenuCommand(command);
        return;
      }
      if (event.key === 'F1' || (event.key === '?' && !textField && !event.ctrlKey && !event.metaKey)) {
        event.preventDefault();
        setState({ dialog: state.dialog === 'shortcuts' ? 'none' : 'shortcuts' });
        return;
      }
      if (event.key === 'Escape' && state.dialog === 'none') {
        if (state.rerunOf && textField) return;
        void cancelCurrentJob();
        return;
      }
      if (textField || event.ctrlKey || event.metaKey || event.altKey) return;
      // The guidance explorer has its own keys while it is open.
      if (state.gridFor) return;
      if (event.key === '\\') {
        if (!event.repeat) setState({ showBefore: true });
        event.preventDefault();
      } else if (event.key === 'b' || event.key === 'B') {
        setState({ tool: 'mask' });
      } else if ((event.key === 'g' || event.key === 'G') && state.dialog === 'none') {
        exploreSelectedEdit();
      } else if (event.key === 'v' || event.key === 'V') {
        setState({ tool: 'move' });
      } else if ((event.key === 'e' || event.key === 'E') && state.tool === 'mask') {
        setState({ brush: { ...state.brush, erase: !state.brush.erase } });
      } else if (event.key === '[' || event.key === ']') {
        const factor = event.key === ']' ? 1.2 : 1 / 1.2;
        setState({
          brush: { ...state.brush, size: Math.round(Math.min(400, Math.max(2, state.brush.size * factor))) },
        });
      }
    };
    const onKeyUp = (event: KeyboardEvent) => {
      if (event.key === '\\') setState({ showBefore: false });
    };
    const onBlur = () => setState({ showBefore: false });
    window.addEventListener('keydown', onKeyDown);
    window.addEventListener('keyup', onKeyUp);
    window.addEventListener('blur', onBlur);
    return () => {
      window.removeEventListener('keydown', onKeyDown);
      window.removeEventListener('keyup', onKeyUp);
      window.removeEventListener('blur', onBlur);
    };
  }, []);
}
