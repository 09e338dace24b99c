/** The models the app knows (downloaded or chosen folders); one is active. */
import { api, errorText } from '../../state/actions';
import { setState, toast, useAppState } from '../../state/store';

export function ModelList() {
  const settings = useAppState((state) => state.settings);
  const model = useAppState((state) => state.model);
  if (!settings || settings.models.length === 0) return <p className="muted">No models yet.</p>;
  return (
    <ul className="model-list" data-testid="model-list">
      {settings.models.map((entry) => {
        const active = model?.dir === entry.dir && model.state === 'ready';
        return (
          <li key={entry.dir} className={active ? 'active' : ''}>
            <div>
              <strong>{entry.label}</strong>
              <span className="muted path">{entry.dir}</span>
            </div>
            <div className="row-actions">
              {active ? (
                <span className="status-pill pill-done">active</span>
              ) : (
                <button
                  className="small-button"
                  onClick={() =>
                    void api()
                      .call('model.useFolder', { dir: entry.dir })
                      .catch((error: unknown) => toast(errorText(error), 'error'))
                  }
                >
                  Use
                </button>
              )}
              <button
                className="small-button"
                title="Remove from the list (the files stay on disk)"
                onClick={() =>
                  void api()
                    .call('model.forget', { dir: entry.dir })
                    .then((next) => setState({ settings: next }))
                    .catch((error: unknown) => toast(errorText(error), 'error'))
                }
              >
                Forget
              </button>
            </div>
          </li>
        );
      })}
    </ul>
  );
}
