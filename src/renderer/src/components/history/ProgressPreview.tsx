import { useEffect, useRef } from 'react';
import type { JobProgress } from '../../../../shared/contract/schemas';
import { drawRaw } from '../../hooks/images';

/** The running job: a progress bar, the step count, and the live latent preview. */
export function ProgressPreview({ progress }: { progress: JobProgress | undefined }) {
  const ref = useRef<HTMLCanvasElement>(null);
  const preview = progress?.preview;
  useEffect(() => {
    if (ref.current && preview) drawRaw(ref.current, preview);
  }, [preview]);
  const done = progress ? progress.step + 1 : 0;
  const total = progress?.totalSteps ?? 0;
  const fraction = total > 0 ? done / total : 0;
  return (
    <div className="progress-block" data-testid="job-progress">
      {preview ? (
        <canvas ref={ref} className="live-preview" data-testid="live-preview" />
      ) : (
        <div className="live-preview placeholder" />
      )}
      <div className="progress-info">
        <div
          className="progress-bar"
          role="progressbar"
          aria-valuemin={0}
          aria-valuemax={total}
          aria-valuenow={done}
        >
          <div className="progress-fill" style={{ width: `${Math.round(fraction * 100)}%` }} />
        </div>
        <span className="muted" data-testid="progress-text">
          {progress ? `step ${done} / ${total} · ${(progress.elapsedMs / 1000).toFixed(1)} s` : 'starting…'}
        </span>
      </div>
    </div>
  );
}
