/** Settings: how much memory edits may plan for, and onnxruntime's threads. Changing either reloads the model. */
import { useEffect, useState } from 'react';
import type { CallRequest, CallResponse } from '../../../../shared/contract/schemas';
import { api, errorText } from '../../state/actions';
import { setState, toast, useAppState } from '../../state/store';

const GB = 1024 ** 3;

function gigabytes(bytes: number): string {
  return `${(bytes / GB).toFixed(1)} GB`;
}

export function EngineOptionsSection() {
  const settings = useAppState((state) => state.settings);
  const [resources, setResources] = useState<CallResponse<'system.resources'> | null>(null);
  const [draftGb, setDraftGb] = useState<string>('');
  const budgetGb = settings?.memoryBudgetGb ?? null;
  const threads = settings?.threads ?? null;

  useEffect(() => {
    let live = true;
    api()
      .call('system.resources', {})
      .then((value) => live && setResources(value))
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, []);
  useEffect(() => setDraftGb(budgetGb === null ? '' : String(budgetGb)), [budgetGb]);

  const update = async (request: CallRequest<'settings.update'>) => {
    try {
      setState({ settings: await api().call('settings.update', request) });
    } catch (error) {
      toast(errorText(error), 'error');
    }
  };
  const commitGb = () => {
    const value = Number(draftGb);
    if (draftGb.trim() === '' || !Number.isFinite(value) || value < 0.25) {
      toast('Memory for edits is a number of GB, at least 0.25', 'error');
      setDraftGb(budgetGb === null ? '' : String(budgetGb));
      return;
    }
    if (value !== budgetGb) void update({ memoryBudgetGb: value });
  };
  const cores = resources?.cores ?? 1;
  const suggestedGb = resources ? Math.max(1, Math.floor(resources.freeMemoryBytes / GB)) : 4;

  return (
    <section className="dialog-section" data-testid="engine-options">
      <h3>Memory and speed</h3>
      <div className="settings-row">
        <label className="field">
          Memory for edits
          <select
            data-testid="memory-mode"
            value={budgetGb === null ? 'auto' : 'fixed'}
            onChange={(event) =>
              void update({ memoryBudgetGb: event.target.value === 'auto' ? null : suggestedGb })
            }
          >
            <option value="auto">
              Automatic{resources ? ` (${gigabytes(resources.freeMemoryBytes)} free now)` : ''}
            </option>
            <option value="fixed">A fixed size</option>
          </select>
        </label>
        {budgetGb !== null && (
          <label className="field">
            <input
              type="number"
              min={0.25}
              step={0.5}
              max={resources ? Math.ceil(resources.totalMemoryBytes / GB) : undefined}
              value={draftGb}
              data-testid="memory-gb"
              aria-label="Memory for edits in GB"
              onChange={(event) => setDraftGb(event.target.value)}
              onBlur={commitGb}
              onKeyDown={(event) => {
                if (event.key === 'Enter') commitGb();
              }}
            />
            GB
          </label>
        )}
      </div>
      <p className="muted">
        Edits that would need more are refused before they start, naming the largest size that fits; within it
        the engine trades speed for memory (rows one by one, VAE loaded only when used).
      </p>
      <div className="settings-row">
        <label className="field">
          Threads
          <select
            data-testid="threads-select"
            value={threads === null ? 'auto' : String(threads)}
            onChange={(event) =>
              void update({ threads: event.target.value === 'auto' ? null : Number(event.target.value) })
            }
          >
            <option value="auto">Automatic ({cores} cores)</option>
            {Array.from({ length: Math.max(cores, threads ?? 1) }, (_, i) => i + 1).map((n) => (
              <option key={n} value={String(n)}>
                {n}
              </option>
            ))}
          </select>
        </label>
      </div>
      <p className="muted">
        Threads per operation: automatic suits a quiet machine; fewer leave room for other programs.
      </p>
      <p className="muted">Changing either setting reloads the model.</p>
    </section>
  );
}
