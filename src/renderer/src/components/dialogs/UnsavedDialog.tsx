/** "Save your changes?" before unsaved work is replaced: save, discard, or cancel. */
import { answerUnsaved } from '../../state/unsaved';
import { useAppState } from '../../state/store';
import { Modal } from './Modal';

export function UnsavedDialog() {
  const prompt = useAppState((state) => state.unsavedPrompt);
  const name = useAppState((state) => state.doc?.name ?? 'the picture');
  const browser = useAppState((state) => state.info?.mode === 'browser');
  if (!prompt) return null;
  return (
    <Modal title="Unsaved changes" testId="unsaved-dialog" onClose={() => answerUnsaved('cancel')}>
      <p>
        “{name}” has changes that are not saved. Save them before {prompt.action}?
        {browser && ' (Saving downloads the project file.)'}
      </p>
      <div className="dialog-actions">
        <button className="button" data-testid="unsaved-cancel" onClick={() => answerUnsaved('cancel')}>
          Cancel
        </button>
        <button
          className="button danger"
          data-testid="unsaved-discard"
          onClick={() => answerUnsaved('discard')}
        >
          Don’t save
        </button>
        <button
          className="button primary"
          data-testid="unsaved-save"
          autoFocus
          onClick={() => answerUnsaved('save')}
        >
          Save
        </button>
      </div>
    </Modal>
  );
}
