/** A grid cell beside the message's current result, both fitted to equal panes; Keep from here too. */
import { useEffect, useRef } from 'react';
import type { GridCellView, GridView, MessageView } from '../../../../shared/contract/schemas';
import { useCellImage } from '../../hooks/grid-images';
import { useLayerImage } from '../../hooks/images';
import { isThumbnailOnly, THUMBNAILS_ONLY_REASON } from '../../state/grid-logic';

function ImagePane({
  image,
  label,
  testId,
}: {
  image: HTMLImageElement | null;
  label: string;
  testId: string;
}) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const canvas = ref.current;
    const context = canvas?.getContext('2d');
    if (!canvas || !context || !image) return;
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    context.drawImage(image, 0, 0);
  }, [image]);
  return (
    <div className="cell-compare-pane" data-testid={testId} data-loaded={image !== null}>
      {image ? <canvas ref={ref} /> : <div className="spinner" />}
      <div className="compare-label">{label}</div>
    </div>
  );
}

export function CellCompare({
  grid,
  cell,
  message,
  onKeep,
  onClose,
}: {
  grid: GridView;
  cell: GridCellView;
  message: MessageView;
  onKeep: () => void;
  onClose: () => void;
}) {
  const picked =
    message.variants.find((variant) => variant.id === message.pickedVariantId) ?? message.variants.at(-1);
  const current = useLayerImage(message.layerId, 'pixels', picked?.revision ?? 0, picked?.id);
  const cellImage = useCellImage(grid.gridId, cell.index, cell.state === 'done');
  const settings = picked?.settings ?? message.settings;
  return (
    <div className="cell-compare" data-testid="cell-compare" data-cell-index={cell.index}>
      <div className="cell-compare-panes">
        <ImagePane
          image={current}
          testId="cell-compare-current"
          label={`Current result · text ${settings.textGuidance} · image ${settings.imageGuidance}`}
        />
        <ImagePane
          image={cellImage}
          testId="cell-compare-cell"
          label={`Cell · text ${cell.textGuidance} · image ${cell.imageGuidance}`}
        />
      </div>
      <div className="cell-compare-actions">
        {cell.keepable && !cell.keptVariantId && (
          <button className="button primary" data-testid="cell-compare-keep" onClick={onKeep}>
            Keep as a variant (Enter)
          </button>
        )}
        {isThumbnailOnly(cell) && (
          <button className="button" data-testid="cell-compare-keep" disabled title={THUMBNAILS_ONLY_REASON}>
            Keep as a variant (Enter)
          </button>
        )}
        {cell.keptVariantId && <span className="status-pill pill-done">kept</span>}
        <button className="button" data-testid="cell-compare-close" onClick={onClose}>
          Back to the grid (Esc)
        </button>
      </div>
    </div>
  );
}
