/** The edit settings beside the input box, with the one-line hint on what each guidance does. */
import { LIMITS } from '../../../../shared/contract/limits';
import { SCHEDULER_NAMES } from '../../../../shared/engine-types';
import { setState, useAppState, type Draft } from '../../state/store';
import { Icon } from '../common/Icon';
import { Slider } from '../common/Slider';

const SCHEDULER_LABELS: Record<Draft['scheduler'], string> = {
  'euler-ancestral': 'Euler ancestral',
  euler: 'Euler',
  ddim: 'DDIM',
  'dpmpp-2m': 'DPM++ 2M',
};

/** Schedulers that can space their noise levels the Karras way (the engine ignores it elsewhere). */
const KARRAS_SCHEDULERS: ReadonlySet<Draft['scheduler']> = new Set(['euler', 'dpmpp-2m']);

function patchDraft(patch: Partial<Draft>): void {
  setState((state) => ({ draft: { ...state.draft, ...patch } }));
}

export function EditSettingsFields() {
  const draft = useAppState((state) => state.draft);
  return (
    <div className="edit-settings" data-testid="edit-settings">
      <Slider
        label="Text"
        title="Text guidance: how strongly the instruction is applied"
        value={draft.textGuidance}
        min={1}
        max={20}
        step={0.5}
        testId="text-guidance"
        onChange={(textGuidance) => patchDraft({ textGuidance })}
      />
      <Slider
        label="Image"
        title="Image guidance: how closely the result sticks to the source"
        value={draft.imageGuidance}
        min={1}
        max={5}
        step={0.05}
        format={(value) => value.toFixed(2)}
        testId="image-guidance"
        onChange={(imageGuidance) => patchDraft({ imageGuidance })}
      />
      <Slider
        label="Steps"
        value={draft.steps}
        min={1}
        max={100}
        step={1}
        testId="steps"
        onChange={(steps) => patchDraft({ steps })}
      />
      <div className="settings-row">
        <label className="field seed-field" title="The same seed and settings give the same result">
          <span>Seed</span>
          <input
            type="number"
            min={0}
            max={LIMITS.maxSeed}
            placeholder="random"
            data-testid="seed"
            value={draft.seed ?? ''}
            onChange={(event) => {
              const value = event.target.value;
              const seed = value === '' ? null : Math.max(0, Math.min(4294967295, Math.floor(Number(value))));
              patchDraft({ seed: Number.isFinite(seed) ? seed : null });
            }}
          />
          <button
            type="button"
            className="icon-button"
            title="Random seed each time"
            data-testid="seed-random"
            onClick={() => patchDraft({ seed: null })}
          >
            <Icon name="dice" />
          </button>
        </label>
        <label className="field">
          <span>Sampler</span>
          <select
            value={draft.scheduler}
            data-testid="scheduler"
            onChange={(event) => patchDraft({ scheduler: event.target.value as Draft['scheduler'] })}
          >
            {SCHEDULER_NAMES.map((name) => (
              <option key={name} value={name}>
                {SCHEDULER_LABELS[name]}
              </option>
            ))}
          </select>
        </label>
      </div>
      <div className="settings-row">
        <label
          className="field"
          title="512: the model's training size, fast; native: the picture's own size (slower, more detail)"
        >
          <span>Resolution</span>
          <select
            value={draft.resolution}
            data-testid="resolution"
            onChange={(event) => patchDraft({ resolution: event.target.value as Draft['resolution'] })}
          >
            <option value="512">512 px (fast)</option>
            <option value="native">Native size</option>
          </select>
        </label>
        <label
          className="field check-field"
          title={
            KARRAS_SCHEDULERS.has(draft.scheduler)
              ? 'Karras-spaced noise levels: often cleaner results at few steps'
              : 'Karras noise levels apply to Euler and DPM++ 2M only'
          }
        >
          <input
            type="checkbox"
            data-testid="karras"
            disabled={!KARRAS_SCHEDULERS.has(draft.scheduler)}
            checked={KARRAS_SCHEDULERS.has(draft.scheduler) && (draft.karrasSigmas ?? false)}
            onChange={(event) => patchDraft({ karrasSigmas: event.target.checked })}
          />
          <span>Karras</span>
        </label>
      </div>
      <p className="hint" data-testid="guidance-hint">
        Higher <b>text</b> guidance = stronger edit · higher <b>image</b> guidance = closer to the source.
      </p>
    </div>
  );
}
