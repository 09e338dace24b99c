/** One instruction in the history, like a chat message: what was asked, with which settings, and what came of it. */
import { useState } from 'react';
import type { MessageView } from '../../../../shared/contract/schemas';
import { cancelJob, dismissMessage, startRerun } from '../../state/actions';
import { openGridExplorer } from '../../state/grid-actions';
import { useAppState } from '../../state/store';
import { canDismiss, isLongInstruction } from '../../state/ui-logic';
import { Icon } from '../common/Icon';
import { LayerThumb } from '../layers/LayerThumb';
import { ProgressPreview } from './ProgressPreview';
import { SettingsChips } from './SettingsChips';
import { VariantStrip } from './VariantStrip';

const STATUS_LABEL: Record<MessageView['status'], string> = {
  queued: 'Queued',
  running: 'Running',
  done: 'Done',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

export function MessageCard({ message }: { message: MessageView }) {
  const progress = useAppState((state) => (message.jobId ? state.progress[message.jobId] : undefined));
  const rerunOf = useAppState((state) => state.rerunOf);
  const stale = useAppState(
    (state) => state.doc?.layers.find((layer) => layer.messageId === message.id && layer.stale) ?? null,
  );
  const [expanded, setExpanded] = useState(false);
  const long = isLongInstruction(message.instruction);
  const picked =
    message.variants.find((variant) => variant.id === message.pickedVariantId) ?? message.variants.at(-1);
  const active = message.status === 'queued' || message.status === 'running';
  return (
    <li
      className={`message status-${message.status} ${rerunOf === message.id ? 'rerun-target' : ''} ${stale ? 'stale' : ''}`}
      data-testid="message"
      data-status={message.status}
      data-message-id={message.id}
    >
      <div className="message-bubble">
        <p
          className={`instruction ${long && !expanded ? 'collapsed' : ''}`}
          data-testid="message-instruction"
          title={long && !expanded ? message.instruction : undefined}
        >
          {message.instruction}
        </p>
        {long && (
          <button
            className="link-button"
            data-testid="message-expand"
            aria-expanded={expanded}
            onClick={() => setExpanded(!expanded)}
          >
            {expanded ? 'Show less' : 'Show all'}
          </button>
        )}
        <SettingsChips settings={message.settings} />
      </div>
      <div className="message-result">
        {message.layerId && picked ? (
          <LayerThumb layerId={message.layerId} variantId={picked.id} revision={picked.revision} size={64} />
        ) : (
          <div className="thumb placeholder" style={{ width: 64, height: 64 }} />
        )}
        <div className="message-status">
          <span className={`status-pill pill-${message.status}`} data-testid="message-status">
            {STATUS_LABEL[message.status]}
          </span>
          {message.status === 'failed' && message.error && (
            <p className="error-text" data-testid="message-error">
              {message.error}
            </p>
          )}
          {stale && message.status === 'done' && (
            <span
              className="badge badge-stale"
              data-testid="message-stale"
              title={stale.staleReason ?? 'Its source changed since this edit ran'}
            >
              stale
            </span>
          )}
          {message.status === 'running' && <ProgressPreview progress={progress} />}
        </div>
      </div>
      <VariantStrip message={message} />
      <div className="message-actions">
        {active && message.jobId && (
          <button
            className="small-button danger"
            data-testid="cancel-job"
            title="Cancel (Esc)"
            onClick={() => void cancelJob(message.jobId!)}
          >
            <Icon name="stop" size={12} /> Cancel
          </button>
        )}
        {canDismiss(message) && (
          <button
            className="small-button"
            data-testid="dismiss"
            title="Remove this instruction from the history (undo brings it back)"
            onClick={() => void dismissMessage(message.id)}
          >
            <Icon name="x" size={12} /> Dismiss
          </button>
        )}
        {!active && (
          <button
            className="small-button"
            data-testid="rerun"
            title="Run this instruction again with other settings"
            onClick={() => startRerun(message)}
          >
            <Icon name="rerun" size={12} /> Re-run with…
          </button>
        )}
        {!active && message.variants.length > 0 && (
          <button
            className="small-button"
            data-testid="explore-guidance"
            title="Run a grid of text × image guidance scales over this edit and compare them (G)"
            onClick={() => void openGridExplorer(message.id)}
          >
            <Icon name="grid" size={12} /> Explore guidance…
          </button>
        )}
      </div>
    </li>
  );
}
