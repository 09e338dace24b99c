/** The editor: tool bar, canvas, layers and history side panels, dialogs. */
import { useFileDrop } from '../hooks/useFileDrop';
import { useShortcuts } from '../hooks/useShortcuts';
import { useAppState } from '../state/store';
import { CanvasView } from './canvas/CanvasView';
import { Toasts } from './common/Toasts';
import { ModelDialog } from './dialogs/ModelDialog';
import { SettingsDialog } from './dialogs/SettingsDialog';
import { EmptyState } from './EmptyState';
import { HistoryPanel } from './history/HistoryPanel';
import { LayersPanel } from './layers/LayersPanel';
import { RecoveryBanner } from './RecoveryBanner';
import { StatusBar } from './StatusBar';
import { TopBar } from './TopBar';

export function App() {
  useShortcuts();
  const dropping = useFileDrop();
  const hasDoc = useAppState((state) => state.doc !== null);
  const dialog = useAppState((state) => state.dialog);
  return (
    <div className="app">
      <TopBar />
      <main className="workspace">
        <div className="stage-area">
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
      <Toasts />
    </div>
  );
}
