/** The input box at the bottom of the history: the next instruction, sent with Ctrl/Cmd+Enter. */
import { useEffect, useRef } from 'react';
import { LIMITS } from '../../../../shared/contract/limits';
import { sendInstruction, stopRerun } from '../../state/actions';
import { setState, useAppState } from '../../state/store';
import { Icon } from '../common/Icon';
import { EditSettingsFields } from './EditSettingsFields';

const isMac = typeof navigator !== 'undefined' && /Mac/.test(navigator.platform);

export function PromptBox() {
  const instruction = useAppState((state) => state.draft.instruction);
  const rerunOf = useAppState((state) => state.rerunOf);
  const rerunText = useAppState(
    (state) => state.doc?.messages.find((message) => message.id === state.rerunOf)?.instruction ?? null,
  );
  const hasDoc = useAppState((state) => state.doc !== null);
  const running = useAppState(
    (state) =>
      state.doc?.messages.some((message) => message.status === 'running' || message.status === 'queued') ??
      false,
  );
  const ref = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    if (rerunOf) ref.current?.focus();
  }, [rerunOf]);

  const send = () => {
    void sendInstruction().then((sent) => {
      if (sent) ref.current?.focus();
    });
  };

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
          <span>Re-run “{rerunText}” with new settings — the result becomes another variant.</span>
          <button type="button" className="icon-button" title="Stop re-running" onClick={() => stopRerun()}>
            <Icon name="x" />
          </button>
        </div>
      )}
      <EditSettingsFields />
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
    </form>
  );
}
