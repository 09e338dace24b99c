import { useAppState } from '../state/store';
import { plural } from '../state/ui-logic';

export function StatusBar() {
  const connected = useAppState((state) => state.connected);
  const busy = useAppState((state) => state.busy);
  const doc = useAppState((state) => state.doc);
  const engine = useAppState((state) => state.engine);
  const mode = useAppState((state) => state.info?.mode ?? null);
  const queued = doc?.messages.filter((message) => message.status === 'queued').length ?? 0;
  return (
    <footer className="status-bar" data-testid="status-bar">
      <span className={`dot ${connected ? 'ok' : 'bad'}`} title={connected ? 'Connected' : 'Disconnected'} />
      <span>{connected ? (mode === 'browser' ? 'Browser mode' : 'Ready') : 'Connecting to the editor…'}</span>
      {doc && (
        <span className="muted">
          {doc.width} × {doc.height} px · {plural(doc.layers.length, 'layer')}
        </span>
      )}
      {queued > 0 && <span className="muted">{queued} queued</span>}
      {engine?.state === 'crashed' && (
        <span className="error-text">{engine.message} — it restarts with the next edit</span>
      )}
      {busy && (
        <span className="busy" data-testid="busy" role="status">
          <span className="spinner" aria-hidden="true" />
          {busy}
        </span>
      )}
      <span className="spacer" />
      <span className="muted shortcut-hint">
        Esc cancels · hold \ compares · Ctrl+Enter sends · ? shortcuts
      </span>
    </footer>
  );
}
