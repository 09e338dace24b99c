/** Offers autosaved work that was never saved (after a crash, or a project with a newer autosave). */
import { discardRecovery, restoreRecovery } from '../state/actions';
import { useAppState } from '../state/store';

function when(savedAt: number): string {
  return new Date(savedAt).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function RecoveryBanner() {
  const recoveries = useAppState((state) => state.recoveries);
  const entry = recoveries[0];
  if (!entry) return null;
  const what = entry.projectPath ? `“${entry.name}”` : 'a picture that was never saved';
  return (
    <div className="recovery-banner" role="alert" data-testid="recovery-banner">
      <span>
        Autosaved work on {what} from {when(entry.savedAt)} ({entry.layers}{' '}
        {entry.layers === 1 ? 'layer' : 'layers'}) is newer than anything saved.
      </span>
      <button
        className="button primary"
        data-testid="recovery-restore"
        onClick={() => void restoreRecovery(entry.id)}
      >
        Restore
      </button>
      <button
        className="button"
        data-testid="recovery-discard"
        onClick={() => void discardRecovery(entry.id)}
      >
        Discard
      </button>
    </div>
  );
}
