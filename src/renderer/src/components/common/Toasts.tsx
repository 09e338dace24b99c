import { useAppState } from '../../state/store';

export function Toasts() {
  const toasts = useAppState((state) => state.toasts);
  return (
    <div className="toasts" role="status" aria-live="polite">
      {toasts.map((entry) => (
        <div key={entry.id} className={`toast toast-${entry.kind}`} data-testid={`toast-${entry.kind}`}>
          {entry.text}
        </div>
      ))}
    </div>
  );
}
