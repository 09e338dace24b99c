/** The editor: tool bar, canvas, layers and history side panels, dialogs. */
import { useEffect } from 'react';
import { useFileDrop } from '../hooks/useFileDrop';
import { useShortcuts } from '../hooks/useShortcuts';
import { useAppState } from '../state/store';
import { shouldWarnBeforeUnload } from '../state/unsaved';
import { CanvasView } from './canvas/CanvasView';
import { VariantCompare } from './compare/VariantCompare';
import { Toasts } from './common/Toasts';
import { ModelDialog } from './dialogs/ModelDialog';
import { SettingsDialog } from './dialogs/SettingsDialog';
import { ShortcutsSheet } from './dialogs/ShortcutsSheet';
import { UnsavedDialog } from './dialogs/UnsavedDialog';
import { EmptyState } from './EmptyState';
import { GridExplorer } from './grid/GridExplorer';
import { HistoryPanel } from './history/HistoryPanel';
import { LayersPanel } from './layers/LayersPanel';
import { RecoveryBanner } from './RecoveryBanner';
import { StatusBar } from './StatusBar';
import { TopBar } from './TopBar';

/** Browser mode: leaving the page (reload, close, another address) with unsaved work asks first. */
function useBeforeUnload(): void {
  useEffect(() => {
    const onBeforeUnload = (event: BeforeUnloadEvent) => {
      if (!shouldWarnBeforeUnload()) return;
      event.preventDefault();
      // Older browsers show the prompt only when returnValue is set.
      event.returnValue = '';
    };
    window.addEventListener('beforeunload', onBeforeUnload);
    return () => window.removeEventListener('beforeunload', onBeforeUnload);
  }, []);
}

/** Clicking the picture takes the focus out of a text field, so the tool keys (B, E, [ ]) work again. */
function leaveTextField(): void {
  const element = document.activeElement;
  if (element instanceof HTMLTextAreaElement || element instanceof HTMLInputElement) element.blur();
}

export function App() {
  useShortcuts();
  useBeforeUnload();
  const dropping = useFileDrop();
  const hasDoc = useAppState((state) => state.doc !== null);
  const dialog = useAppState((state) => state.dialog);
  const unsaved = useAppState((state) => state.unsavedPrompt !== null);
  const gridFor = useAppState((state) => state.gridFor);
  const compareMessage = useAppState((state) =>
    state.compareVariants
      ? (state.doc?.messages.find((message) => message.id === state.compareVariants?.messageId) ?? null)
      : null,
  );
  return (
    <div className="app">
      <TopBar />
      <main className="workspace">
        <div className="stage-area" onPointerDownCapture={leaveTextField}>
          <RecoveryBanner />
          {hasDoc ? <CanvasView /> : <EmptyState />}
          {dropping && <div className="drop-overlay">Drop to open</div>}
        </div>
        <aside className="side">
          <LayersPanel />
          <HistoryPanel />
        </aside>
      </main>
      <StatusBar />
      {dialog === 'models' && <ModelDialog />}
      {dialog === 'settings' && <SettingsDialog />}
      {dialog === 'shortcuts' && <ShortcutsSheet />}
      {compareMessage && <VariantCompare message={compareMessage} />}
      {gridFor && <GridExplorer messageId={gridFor} />}
      {unsaved && <UnsavedDialog />}
      <Toasts />
    </div>
  );
}
