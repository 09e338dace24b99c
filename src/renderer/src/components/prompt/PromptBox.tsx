/** The input box at the bottom of the history: the next instruction, sent with Ctrl/Cmd+Enter. */
import { useEffect, useRef, useState } from 'react';
import { LIMITS } from '../../../../shared/contract/limits';
import type { TokenCount } from '../../../../shared/contract/schemas';
import { api, sendInstruction, stopRerun } from '../../state/actions';
import { setState, useAppState } from '../../state/store';
import { tokenNote } from '../../state/ui-logic';
import { Icon } from '../common/Icon';
import { EditSettingsFields } from './EditSettingsFields';

const isMac = typeof navigator !== 'undefined' && /Mac/.test(navigator.platform);

/** The instruction's token count from the model's tokenizer, asked for once typing pauses. */
function useTokenCount(text: string, modelDir: string | null): TokenCount | null {
  const [count, setCount] = useState<{ text: string; count: TokenCount } | null>(null);
  useEffect(() => {
    if (!text.trim() || !modelDir) return;
    let live = true;
    const timer = setTimeout(() => {
      api()
        .call('text.countTokens', { text })
        .then((result) => live && setCount({ text, count: result }))
        .catch(() => undefined);
    }, 200);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [text, modelDir]);
  return count && count.text === text ? count.count : null;
}

export function PromptBox() {
  const instruction = useAppState((state) => state.draft.instruction);
  const seed = useAppState((state) => state.draft.seed);
  const rerunOf = useAppState((state) => state.rerunOf);
  const rerunMessage = useAppState(
    (state) => state.doc?.messages.find((message) => message.id === state.rerunOf) ?? null,
  );
  const hasDoc = useAppState((state) => state.doc !== null);
  const modelDir = useAppState((state) => (state.model?.state === 'ready' ? state.model.dir : null));
  const running = useAppState(
    (state) =>
      state.doc?.messages.some((message) => message.status === 'running' || message.status === 'queued') ??
      false,
  );
  const ref = useRef<HTMLTextAreaElement>(null);
  // Short windows start with the settings folded, so the history keeps its room.
  const [showSettings, setShowSettings] = useState(
    () => typeof window === 'undefined' || window.innerHeight > 700,
  );
  const draft = useAppState((state) => state.draft);
  const note = tokenNote(instruction, useTokenCount(instruction, modelDir));

  useEffect(() => {
    if (rerunOf) ref.current?.focus();
  }, [rerunOf]);

  // Focus stays in the box after sending, so the next instruction can be typed straight away;
  // clicking the picture takes it out (App), and then the tool keys work.
  const send = () => void sendInstruction();

  const originalSeed = rerunMessage?.settings.seed ?? null;
  return (
    <form
      className={`prompt-box ${rerunOf ? 'rerun' : ''}`}
      data-testid="prompt-box"
      onSubmit={(event) => {
        event.preventDefault();
        send();
      }}
    >
      {rerunOf && (
        <div className="rerun-banner" data-testid="rerun-banner">
          <span>
            Re-run “{rerunMessage?.instruction}” with new settings — the result becomes another variant.
          </span>
          <label
            className="check-field"
            title={
              originalSeed === null
                ? ''
                : `Keep seed ${originalSeed} so only the changed settings differ; tick for a random one`
            }
          >
            <input
              type="checkbox"
              data-testid="rerun-new-seed"
              checked={seed === null}
              onChange={(event) =>
                setState((state) => ({
                  draft: { ...state.draft, seed: event.target.checked ? null : originalSeed },
                }))
              }
            />
            New seed
          </label>
          <button type="button" className="icon-button" title="Stop re-running" onClick={() => stopRerun()}>
            <Icon name="x" />
          </button>
        </div>
      )}
      {showSettings ? (
        <EditSettingsFields />
      ) : (
        <p className="settings-summary muted" data-testid="settings-summary">
          text {draft.textGuidance} · image {draft.imageGuidance} · {draft.steps} steps · seed{' '}
          {draft.seed ?? 'random'} · {draft.resolution === 'native' ? 'native size' : '512 px'}
        </p>
      )}
      <button
        type="button"
        className="link-button settings-toggle"
        data-testid="settings-toggle"
        aria-expanded={showSettings}
        onClick={() => setShowSettings(!showSettings)}
      >
        {showSettings ? 'Hide settings' : 'Settings…'}
      </button>
      <div className="prompt-row">
        <textarea
          ref={ref}
          rows={2}
          data-testid="instruction-input"
          disabled={!hasDoc}
          placeholder={hasDoc ? 'Describe the edit, e.g. "make it red"' : 'Open a picture first'}
          value={instruction}
          maxLength={LIMITS.instructionChars}
          onChange={(event) =>
            setState((state) => ({ draft: { ...state.draft, instruction: event.target.value } }))
          }
          onKeyDown={(event) => {
            if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
              event.preventDefault();
              send();
            }
          }}
        />
        <button
          type="submit"
          className="send-button"
          data-testid="send"
          disabled={!hasDoc || !instruction.trim()}
          title={`Send (${isMac ? '⌘' : 'Ctrl'}+Enter)`}
        >
          <Icon name="send" /> {rerunOf ? 'Re-run' : running ? 'Queue' : 'Send'}
        </button>
      </div>
      {(note || instruction.length > LIMITS.instructionChars * 0.9) && (
        <div className={`token-note ${note?.cut ? 'warn' : ''}`} data-testid="token-count">
          {note && <span>{note.label}</span>}
          {note?.cut && <span data-testid="token-cut"> · the model will not see: “{note.cut}”</span>}
          {instruction.length > LIMITS.instructionChars * 0.9 && (
            <span>
              {' '}
              · {instruction.length} / {LIMITS.instructionChars} characters
            </span>
          )}
        </div>
      )}
    </form>
  );
}
