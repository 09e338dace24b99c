/** The edit settings beside the input box, with the one-line hint on what each guidance does. */
import { LIMITS } from '../../../../shared/contract/limits';
import { SCHEDULER_NAMES } from '../../../../shared/engine-types';
import { setState, useAppState, type Draft } from '../../state/store';
import { Icon } from '../common/Icon';
import { Slider } from '../common/Slider';

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
                {name}
              </option>
            ))}
          </select>
        </label>
      </div>
      <p className="hint" data-testid="guidance-hint">
        Higher <b>text</b> guidance = stronger edit · higher <b>image</b> guidance = closer to the source.
      </p>
    </div>
  );
}
