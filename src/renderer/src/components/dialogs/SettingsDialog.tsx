/** Settings: the execution provider (with the fallback notice), the models, and the default edit settings. */
import type { CallRequest } from '../../../../shared/contract/schemas';
import { PROVIDER_NAMES, type ProviderName } from '../../../../shared/engine-types';
import { api, errorText } from '../../state/actions';
import { setState, toast, useAppState } from '../../state/store';
import { EngineOptionsSection } from './EngineOptionsSection';
import { Modal } from './Modal';
import { ModelList } from './ModelList';
import { ModelStatusLine } from './ModelStatusLine';

const PROVIDER_LABELS: Record<ProviderName, string> = {
  auto: 'Automatic (best available)',
  cpu: 'CPU',
  cuda: 'NVIDIA CUDA',
  dml: 'DirectML (Windows)',
  coreml: 'Core ML (macOS)',
  webgpu: 'WebGPU',
};

export function SettingsDialog() {
  const settings = useAppState((state) => state.settings);
  const draft = useAppState((state) => state.draft);
  const update = async (request: CallRequest<'settings.update'>) => {
    try {
      const next = await api().call('settings.update', request);
      setState({ settings: next });
    } catch (error) {
      toast(errorText(error), 'error');
    }
  };
  return (
    <Modal title="Settings" testId="settings-dialog" wide onClose={() => setState({ dialog: 'none' })}>
      <section className="dialog-section">
        <h3>Execution provider</h3>
        <select
          value={settings?.provider ?? 'auto'}
          data-testid="provider-select"
          onChange={(event) => void update({ provider: event.target.value as ProviderName })}
        >
          {PROVIDER_NAMES.map((name) => (
            <option key={name} value={name}>
              {PROVIDER_LABELS[name]}
            </option>
          ))}
        </select>
        <ModelStatusLine />
      </section>
      <EngineOptionsSection />
      <section className="dialog-section">
        <h3>Models</h3>
        <ModelList />
        <button className="button" onClick={() => setState({ dialog: 'models' })}>
          Add or download a model…
        </button>
      </section>
      <section className="dialog-section">
        <h3>Defaults for new instructions</h3>
        <p className="muted">
          Currently text {draft.textGuidance}, image {draft.imageGuidance}, {draft.steps} steps,{' '}
          {draft.scheduler}.
        </p>
        <button
          className="button"
          onClick={() =>
            void update({
              editDefaults: {
                steps: draft.steps,
                textGuidance: draft.textGuidance,
                imageGuidance: draft.imageGuidance,
                scheduler: draft.scheduler,
                resolution: draft.resolution,
              },
            })
          }
        >
          Use the current settings as defaults
        </button>
      </section>
    </Modal>
  );
}
