/** The optimiser's offer for the loaded model ("Optimise for speed and memory"), its progress and outcome. */
import { api, errorText } from '../../state/actions';
import { setState, toast, useAppState } from '../../state/store';

export function OptimizeOffer() {
  const model = useAppState((state) => state.model);
  const optimization = model?.state === 'ready' ? model.optimization : null;
  if (!optimization || optimization.state === 'dismissed') return null;
  const run = async (name: 'model.optimize' | 'model.optimizeDismiss') => {
    try {
      setState({ model: await api().call(name, {}) });
    } catch (error) {
      toast(errorText(error), 'error');
    }
  };
  return (
    <div className="optimize-offer" data-testid="optimize-offer" data-state={optimization.state}>
      {optimization.state === 'available' && (
        <>
          <p>
            This model’s attention is not fused yet. An optimised copy (kept in the app’s cache, the folder is
            not changed) gives the same results faster and with less memory.
          </p>
          {optimization.message && <p className="muted">{optimization.message}</p>}
          <div className="input-row">
            <button
              className="button primary"
              data-testid="optimize-run"
              onClick={() => void run('model.optimize')}
            >
              Optimise for speed and memory
            </button>
            <button
              className="button"
              data-testid="optimize-dismiss"
              onClick={() => void run('model.optimizeDismiss')}
            >
              Not now
            </button>
          </div>
        </>
      )}
      {optimization.state === 'running' && (
        <>
          <p>
            {optimization.message ?? 'Optimising…'} {Math.round((optimization.progress ?? 0) * 100)} %
          </p>
          <progress max={1} value={optimization.progress ?? 0} />
          <button
            className="button"
            data-testid="optimize-cancel"
            onClick={() =>
              void api()
                .call('model.optimizeCancel', {})
                .catch(() => undefined)
            }
          >
            Cancel
          </button>
        </>
      )}
      {(optimization.state === 'cached' || optimization.state === 'optimised') && (
        <p className="muted" data-testid="optimize-note">
          {optimization.state === 'optimised'
            ? 'This folder is optimised (fused attention).'
            : optimization.message}
        </p>
      )}
      {optimization.state === 'refused' && (
        <p className="notice" data-testid="optimize-refused">
          {optimization.message}
        </p>
      )}
    </div>
  );
}
