/**
 * The optional CLIP ViT-L/14 model that gives the guidance grid its numbers (image similarity,
 * directional similarity, CLIP-T). Found beside the edit model, or chosen here.
 */
import { useEffect, useState } from 'react';
import type { ClipStatus } from '../../../../shared/contract/schemas';
import { chooseClipFolder, clipStatus, setClipFolder } from '../../state/grid-actions';
import { useAppState } from '../../state/store';

function statusText(status: ClipStatus | null): string {
  if (!status) return 'Checking…';
  if (status.state === 'ready') {
    const where = status.source === 'chosen' ? 'chosen' : 'found beside the model';
    return `Ready (${where}): ${status.folder ?? ''}`;
  }
  if (status.state === 'error') return `Could not load it: ${status.message ?? 'unknown error'}`;
  return 'None: the guidance grid works without numbers.';
}

export function ClipModelSection() {
  const nativeDialogs = useAppState((state) => state.info?.nativeDialogs ?? false);
  const [status, setStatus] = useState<ClipStatus | null>(null);
  const [path, setPath] = useState('');
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    let live = true;
    void clipStatus().then((result) => {
      if (!live) return;
      setStatus(
        typeof result === 'string' ? { state: 'error', folder: null, source: null, message: result } : result,
      );
    });
    return () => {
      live = false;
    };
  }, []);
  const run = async (call: () => Promise<ClipStatus | undefined>) => {
    setBusy(true);
    const result = await call();
    setBusy(false);
    if (result) setStatus(result);
  };
  return (
    <section className="dialog-section" data-testid="clip-section">
      <h3>CLIP model for the guidance grid (optional)</h3>
      <p className="muted">
        An ONNX export of <code>openai/clip-vit-large-patch14</code> measures each grid cell as the
        InstructPix2Pix paper does: how much of the picture is kept, and how well the change follows the
        captions.
      </p>
      <p
        className={status?.state === 'error' ? 'error-text' : 'muted'}
        data-testid="clip-status"
        data-state={status?.state ?? 'unknown'}
      >
        {statusText(status)}
      </p>
      <div className="input-row">
        {nativeDialogs ? (
          <button className="button" disabled={busy} onClick={() => void run(chooseClipFolder)}>
            Choose CLIP folder…
          </button>
        ) : (
          <>
            <input
              type="text"
              placeholder="/path/to/clip-vit-large-patch14-onnx"
              value={path}
              spellCheck={false}
              data-testid="clip-folder-input"
              onChange={(event) => setPath(event.target.value)}
            />
            <button
              className="button"
              data-testid="clip-folder-use"
              disabled={busy || !path.trim()}
              onClick={() => void run(() => setClipFolder(path.trim()))}
            >
              Use CLIP folder
            </button>
          </>
        )}
        <button
          className="button"
          data-testid="clip-beside-model"
          disabled={busy}
          title="Use the CLIP folder found beside the edit model, if there is one"
          onClick={() => void run(() => setClipFolder(null))}
        >
          Use the one beside the model
        </button>
      </div>
    </section>
  );
}
