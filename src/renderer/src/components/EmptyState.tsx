import { openFromDialog } from '../state/actions';
import { Icon } from './common/Icon';

export function EmptyState() {
  return (
    <div className="empty-state" data-testid="empty-state">
      <div className="empty-card">
        <Icon name="open" size={40} />
        <h1>Open a picture to edit</h1>
        <p>Drop an image here, paste one, or</p>
        <button className="button primary" data-testid="empty-open" onClick={() => void openFromDialog()}>
          Open…
        </button>
        <p className="muted">PNG, JPEG, WebP, TIFF, or an Instruct Edit project (.iedit)</p>
      </div>
    </div>
  );
}
