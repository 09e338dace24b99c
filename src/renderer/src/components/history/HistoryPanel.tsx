/** The chat-like history: one message per instruction, newest at the bottom, with the input box below. */
import { useEffect, useRef } from 'react';
import { updateStaleLayers } from '../../state/actions';
import { useAppState } from '../../state/store';
import { plural, staleCount } from '../../state/ui-logic';
import { PromptBox } from '../prompt/PromptBox';
import { MessageCard } from './MessageCard';

export function HistoryPanel() {
  const messages = useAppState((state) => state.doc?.messages);
  const hasDoc = useAppState((state) => state.doc !== null);
  const listRef = useRef<HTMLOListElement>(null);
  const count = messages?.length ?? 0;
  const stale = useAppState((state) => staleCount(state.doc?.layers));
  const busy = useAppState(
    (state) =>
      state.doc?.messages.some((message) => message.status === 'running' || message.status === 'queued') ??
      false,
  );
  useEffect(() => {
    const list = listRef.current;
    if (list) list.scrollTop = list.scrollHeight;
  }, [count]);
  return (
    <section className="panel history-panel" data-testid="history-panel">
      <header className="panel-header">
        <h2>History</h2>
        <span className="muted">{count ? plural(count, 'instruction') : ''}</span>
        {stale > 0 && (
          <button
            className="small-button stale-action"
            data-testid="update-stale"
            disabled={busy}
            title={
              busy
                ? 'Wait for the running edits to finish'
                : 'Re-run the stale layers, bottom first, each with its own settings and seed'
            }
            onClick={() => void updateStaleLayers()}
          >
            Update {plural(stale, 'stale layer')}
          </button>
        )}
      </header>
      <ol className="messages" ref={listRef}>
        {count === 0 && (
          <li className="empty-history">
            {hasDoc ? (
              <>
                <p>Tell the editor what to change, e.g.</p>
                <p className="example">“make it look like a watercolor”</p>
                <p className="example">“turn the sky into a sunset”</p>
              </>
            ) : (
              <p>Open a picture to start.</p>
            )}
          </li>
        )}
        {messages?.map((message) => (
          <MessageCard key={message.id} message={message} />
        ))}
      </ol>
      <PromptBox />
    </section>
  );
}
