/** The chat-like history: one message per instruction, newest at the bottom, with the input box below. */
import { useEffect, useRef } from 'react';
import { useAppState } from '../../state/store';
import { PromptBox } from '../prompt/PromptBox';
import { MessageCard } from './MessageCard';

export function HistoryPanel() {
  const messages = useAppState((state) => state.doc?.messages);
  const hasDoc = useAppState((state) => state.doc !== null);
  const listRef = useRef<HTMLOListElement>(null);
  const count = messages?.length ?? 0;
  useEffect(() => {
    const list = listRef.current;
    if (list) list.scrollTop = list.scrollHeight;
  }, [count]);
  return (
    <section className="panel history-panel" data-testid="history-panel">
      <header className="panel-header">
        <h2>History</h2>
        <span className="muted">{count ? `${count} instruction${count === 1 ? '' : 's'}` : ''}</span>
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
