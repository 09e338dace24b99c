import { useAppState } from '../../state/store';
import { OptimizeOffer } from './OptimizeOffer';

/** What the engine has loaded, the provider it runs on, and any fallback notice. */
export function ModelStatusLine() {
  const model = useAppState((state) => state.model);
  if (!model) return null;
  return (
    <div className={`model-status state-${model.state}`} data-testid="model-status" data-state={model.state}>
      {model.state === 'none' && <p>No model is loaded yet.</p>}
      {model.state === 'loading' && <p>Loading {model.dir}…</p>}
      {model.state === 'ready' && (
        <p>
          Using <strong>{model.dir}</strong> ({model.flavor}, {model.precision}) on{' '}
          <strong>{model.provider}</strong>.
        </p>
      )}
      {model.state === 'error' && (
        <p className="error-text" data-testid="model-error">
          {model.message}
        </p>
      )}
      <OptimizeOffer />
      {model.providerNotice && (
        <p className="notice" data-testid="provider-notice">
          {model.providerNotice}
        </p>
      )}
    </div>
  );
}
