/** One cell of the grid: its picture once done (drawn on a canvas), a spinner until then. */
import { useEffect, useRef } from 'react';
import type { GridCellView } from '../../../../shared/contract/schemas';
import { useCellImage } from '../../hooks/grid-images';
import { drawRaw } from '../../hooks/images';
import { CELL_THUMB_SIDE, isThumbnailOnly, THUMBNAILS_ONLY_REASON } from '../../state/grid-logic';
import type { GridProgress } from '../../state/store';

function metricsTitle(cell: GridCellView): string {
  const lines = [`text ${cell.textGuidance} · image ${cell.imageGuidance}`];
  const m = cell.metrics;
  if (m?.imageSimilarity != null) lines.push(`image similarity ${m.imageSimilarity.toFixed(3)}`);
  if (m?.directionalSimilarity != null)
    lines.push(`directional similarity ${m.directionalSimilarity.toFixed(3)}`);
  if (m?.clipT != null) lines.push(`CLIP-T ${m.clipT.toFixed(3)}`);
  if (cell.durationMs != null) lines.push(`${(cell.durationMs / 1000).toFixed(1)} s`);
  return lines.join('\n');
}

export function GridCellTile({
  gridId,
  gridRunning,
  preview,
  cell,
  selected,
  highlighted,
  onHover,
  onSelect,
  onKeep,
}: {
  gridId: string;
  /** Whether the grid still runs: unfinished cells of a stopped grid show as not run, without a spinner. */
  gridRunning: boolean;
  /** The live preview while this cell runs (grid.progress). */
  preview: GridProgress['preview'];
  cell: GridCellView;
  selected: boolean;
  highlighted: boolean;
  onHover: (index: number | null) => void;
  onSelect: (index: number) => void;
  onKeep: (index: number) => void;
}) {
  const done = cell.state === 'done';
  const image = useCellImage(gridId, cell.index, done, CELL_THUMB_SIDE);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const canvas = canvasRef.current;
    const context = canvas?.getContext('2d');
    if (!canvas || !context || !image) return;
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    context.drawImage(image, 0, 0);
  }, [image]);
  const previewRef = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (previewRef.current && preview) drawRaw(previewRef.current, preview);
  }, [preview]);
  return (
    <div
      className={`grid-cell ${selected ? 'selected' : ''} ${highlighted ? 'highlighted' : ''}`}
      data-testid="grid-cell"
      data-index={cell.index}
      data-state={cell.state}
      data-loaded={image !== null}
      data-selected={selected}
      data-kept={cell.keptVariantId !== null}
      title={metricsTitle(cell)}
      onMouseEnter={() => onHover(cell.index)}
      onMouseLeave={() => onHover(null)}
      onClick={() => onSelect(cell.index)}
    >
      {done ? (
        <canvas ref={canvasRef} className="grid-cell-image" data-testid="grid-cell-image" />
      ) : gridRunning && preview ? (
        <canvas
          ref={previewRef}
          className="grid-cell-image grid-cell-preview"
          data-testid="grid-cell-preview"
        />
      ) : gridRunning ? (
        <div className="grid-cell-waiting">
          <div className="spinner" />
          <span className="muted">{cell.state === 'running' ? 'running' : 'waiting'}</span>
        </div>
      ) : (
        <div className="grid-cell-waiting">
          <span className="muted">not run</span>
        </div>
      )}
      {cell.keptVariantId && <span className="badge grid-kept">kept</span>}
      {done && cell.keepable && !cell.keptVariantId && (
        <button
          className="small-button grid-keep"
          data-testid="grid-keep"
          title="Add this cell as a variant of the edit (undo removes it)"
          onClick={(event) => {
            event.stopPropagation();
            onKeep(cell.index);
          }}
        >
          Keep
        </button>
      )}
      {isThumbnailOnly(cell) && (
        <button
          className="small-button grid-keep"
          data-testid="grid-keep"
          disabled
          title={THUMBNAILS_ONLY_REASON}
          onClick={(event) => event.stopPropagation()}
        >
          Keep
        </button>
      )}
    </div>
  );
}
