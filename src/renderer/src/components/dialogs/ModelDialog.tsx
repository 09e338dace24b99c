/**
 * The model manager: download the InstructPix2Pix ONNX export from the Hugging Face Hub (progress,
 * resumable, verified, free space checked) or use a folder already on this computer.
 */
import { useEffect, useState } from 'react';
import type { ModelStatus } from '../../../../shared/contract/schemas';
import { api, errorText } from '../../state/actions';
import { setState, toast, useAppState } from '../../state/store';
import { ClipModelSection } from './ClipModelSection';
import { Modal } from './Modal';
import { ModelList } from './ModelList';
import { ModelStatusLine } from './ModelStatusLine';

function folderName(dir: string | null): string {
  return dir?.split(/[\\/]/).filter(Boolean).at(-1) ?? 'the model';
}

/** The dialog's job is done once a model the user chose is ready: say so and close. */
function closeWhenReady(status: ModelStatus | null | undefined): void {
  if (status?.state !== 'ready') return;
  toast(`Model ready: ${folderName(status.dir)}`);
  setState({ dialog: 'none' });
}

function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${Math.round(bytes / 1e3)} kB`;
}

function DownloadSection() {
  const settings = useAppState((state) => state.settings);
  const downloads = useAppState((state) => state.downloads);
  const [repo, setRepo] = useState(settings?.downloadRepo ?? '');
  const [current, setCurrent] = useState<string | null>(null);
  const progress = current ? downloads[current] : undefined;
  const active = progress
    ? ['checking', 'downloading', 'verifying'].includes(progress.state)
    : current !== null;
  const model = useAppState((state) => state.model);
  useEffect(() => {
    if (progress?.state === 'done' && model?.dir === progress.dir) closeWhenReady(model);
  }, [progress?.state, progress?.dir, model]);
  const start = async () => {
    try {
      const result = await api().call('model.download', { repo: repo.trim() });
      setCurrent(result.downloadId);
    } catch (error) {
      toast(errorText(error), 'error');
    }
  };
  return (
    <section className="dialog-section">
      <h3>Download from Hugging Face</h3>
      <p className="muted">
        An ONNX export of <code>timbrooks/instruct-pix2pix</code> (text_encoder, unet, vae_encoder,
        vae_decoder, tokenizer, scheduler): about 4 GB in float32, 2 GB in float16. Interrupted downloads
        resume where they stopped.
      </p>
      <div className="input-row">
        <input
          type="text"
          placeholder="owner/repository"
          value={repo}
          data-testid="download-repo"
          list="known-model-repos"
          spellCheck={false}
          onChange={(event) => setRepo(event.target.value)}
        />
        {active && current ? (
          <button
            className="button"
            onClick={() => void api().call('model.downloadCancel', { downloadId: current })}
          >
            Cancel
          </button>
        ) : (
          <button
            className="button primary"
            disabled={!/^[\w.-]+\/[\w.-]+$/.test(repo.trim())}
            data-testid="download-start"
            onClick={() => void start()}
          >
            Download
          </button>
        )}
      </div>
      <datalist id="known-model-repos">
        {[
          ...new Set([
            settings?.downloadRepo ?? '',
            ...(settings?.models ?? []).map((entry) => entry.repo ?? ''),
          ]),
        ]
          .filter(Boolean)
          .map((known) => (
            <option key={known} value={known} />
          ))}
      </datalist>
      {progress && (
        <div className="download-progress" data-testid="download-progress">
          <div className="progress-bar">
            <div
              className="progress-fill"
              style={{
                width: `${progress.bytesTotal ? Math.round((progress.bytesDone / progress.bytesTotal) * 100) : 0}%`,
              }}
            />
          </div>
          <span className="muted">
            {progress.state} {progress.file ?? ''} · {formatBytes(progress.bytesDone)} /{' '}
            {formatBytes(progress.bytesTotal)}
          </span>
          {progress.message && (
            <p className={progress.state === 'failed' ? 'error-text' : 'muted'}>{progress.message}</p>
          )}
        </div>
      )}
    </section>
  );
}

function FolderSection() {
  const nativeDialogs = useAppState((state) => state.info?.nativeDialogs ?? false);
  const [dir, setDir] = useState('');
  const [loading, setLoading] = useState(false);
  const use = async (run: () => Promise<ModelStatus | null>) => {
    setLoading(true);
    try {
      closeWhenReady(await run());
    } catch (error) {
      toast(errorText(error), 'error');
    } finally {
      setLoading(false);
    }
  };
  return (
    <section className="dialog-section">
      <h3>Use a folder on this computer</h3>
      {nativeDialogs ? (
        <button
          className="button"
          disabled={loading}
          onClick={() => void use(() => api().call('model.chooseFolder', {}))}
        >
          Choose folder…
        </button>
      ) : (
        <div className="input-row">
          <input
            type="text"
            placeholder="/path/to/instruct-pix2pix-onnx"
            value={dir}
            spellCheck={false}
            data-testid="model-folder-input"
            onChange={(event) => setDir(event.target.value)}
          />
          <button
            className="button primary"
            data-testid="model-folder-use"
            disabled={loading || !dir.trim()}
            onClick={() => void use(() => api().call('model.useFolder', { dir: dir.trim() }))}
          >
            {loading ? 'Loading…' : 'Use folder'}
          </button>
        </div>
      )}
    </section>
  );
}

export function ModelDialog() {
  const model = useAppState((state) => state.model);
  return (
    <Modal title="Model" testId="model-dialog" wide onClose={() => setState({ dialog: 'none' })}>
      <ModelStatusLine />
      {model?.state !== 'ready' && (
        <p className="lead">
          Instruct Edit needs an InstructPix2Pix model exported to ONNX. Download one, or choose a folder you
          already have. To make one yourself:{' '}
          <code>optimum-cli export onnx --model timbrooks/instruct-pix2pix --task image-to-image ip2p</code>
        </p>
      )}
      <DownloadSection />
      <FolderSection />
      <section className="dialog-section">
        <h3>Your models</h3>
        <ModelList />
      </section>
      <ClipModelSection />
    </Modal>
  );
}
