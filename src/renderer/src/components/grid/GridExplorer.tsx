/**
 * "Explore guidance…": a text × image guidance grid over one edit message. The setup form when the
 * message has no grid yet (or "New grid…" was pressed); else the grid filling in, the paper's
 * trade-off plot beside it when there are metrics, and a cell compared with the current result.
 */
import { useEffect, useState } from 'react';
import type { GridView, MessageView } from '../../../../shared/contract/schemas';
import { cancelGrid, closeGridExplorer, keepGridCell } from '../../state/grid-actions';
import {
  gridKeyAction,
  gridStateLine,
  isThumbnailOnly,
  plotData,
  THUMBNAILS_ONLY_REASON,
} from '../../state/grid-logic';
import { toast, useAppState } from '../../state/store';
import { Icon } from '../common/Icon';
import { CellCompare } from './CellCompare';
import { GridCells } from './GridCells';
import { GridPlot } from './GridPlot';
import { GridSetupForm } from './GridSetupForm';

function inTextField(target: EventTarget | null): boolean {
  return (
    target instanceof HTMLInputElement ||
    target instanceof HTMLTextAreaElement ||
    target instanceof HTMLSelectElement
  );
}

function canKeep(grid: GridView, index: number): boolean {
  const cell = grid.cells[index];
  return Boolean(cell && cell.state === 'done' && cell.keepable && !cell.keptVariantId);
}

function GridResults({
  grid,
  message,
  onNewGrid,
}: {
  grid: GridView;
  message: MessageView;
  onNewGrid: () => void;
}) {
  const progress = useAppState((state) => state.gridProgress[grid.gridId]);
  const [selected, setSelected] = useState<number | null>(null);
  const [hovered, setHovered] = useState<number | null>(null);
  const [comparing, setComparing] = useState<number | null>(null);
  const plot = plotData(grid);
  const columns = grid.textScales.length;
  const rows = grid.imageScales.length;

  const thumbnailsOnly = grid.cells.some(isThumbnailOnly);
  const keep = (index: number) => {
    const cell = grid.cells[index];
    if (canKeep(grid, index)) void keepGridCell(grid, index);
    else if (cell && isThumbnailOnly(cell)) toast(THUMBNAILS_ONLY_REASON, 'error');
  };

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (comparing !== null && event.key === 'Escape') {
        event.stopPropagation();
        setComparing(null);
        return;
      }
      if (event.key !== 'Escape' && (inTextField(event.target) || event.ctrlKey || event.metaKey)) return;
      const action = gridKeyAction(event.key, selected, columns, rows);
      if (!action) return;
      event.preventDefault();
      event.stopPropagation();
      if (action.kind === 'close') closeGridExplorer();
      else if (action.kind === 'select') setSelected(action.index);
      else if (action.kind === 'keep') keep(action.index);
      else if (grid.cells[action.index]?.state === 'done') setComparing(action.index);
    };
    // Capture: ahead of the editor's own shortcuts (Esc there cancels the running edit).
    window.addEventListener('keydown', onKey, true);
    return () => window.removeEventListener('keydown', onKey, true);
  });

  const highlighted = hovered ?? selected;
  return (
    <>
      <div className="grid-toolbar">
        <span className="muted" data-testid="grid-state" data-state={grid.state}>
          {gridStateLine(grid, progress)}
        </span>
        {progress && grid.state === 'running' && (
          <div className="progress-bar grid-progress" role="progressbar">
            <div
              className="progress-fill"
              style={{
                width: `${Math.round((progress.stepsDone / Math.max(1, progress.totalSteps)) * 100)}%`,
              }}
            />
          </div>
        )}
        <span className="grid-toolbar-actions">
          {grid.state === 'running' ? (
            <button
              className="small-button danger"
              data-testid="grid-cancel"
              title="Stop the grid; finished cells stay"
              onClick={() => void cancelGrid(grid.gridId)}
            >
              <Icon name="stop" size={12} /> Cancel
            </button>
          ) : (
            <button className="small-button" data-testid="grid-new" onClick={onNewGrid}>
              New grid…
            </button>
          )}
        </span>
      </div>
      {thumbnailsOnly && (
        <p className="muted grid-thumbnails-only" data-testid="grid-thumbnails-only">
          {THUMBNAILS_ONLY_REASON}.
        </p>
      )}
      <div className="grid-results">
        <GridCells
          grid={grid}
          progress={progress}
          selected={selected}
          highlighted={highlighted}
          onHover={setHovered}
          onSelect={(index) => {
            setSelected(index);
            if (grid.cells[index]?.state === 'done') setComparing(index);
          }}
          onKeep={keep}
        />
        {plot ? (
          <GridPlot
            data={plot}
            grid={grid}
            highlighted={highlighted}
            onHover={setHovered}
            onSelect={setSelected}
          />
        ) : (
          <p className="muted grid-no-metrics" data-testid="grid-no-metrics">
            {grid.clipModel
              ? 'No metrics yet: they appear as cells finish.'
              : 'No CLIP numbers: choose a CLIP ViT-L/14 model in the model dialog to measure each cell.'}
          </p>
        )}
      </div>
      <p className="muted grid-hint">
        Arrow keys move between cells · Enter keeps the selected cell as a variant · Space or a click compares
        it with the current result · Esc closes.
      </p>
      {comparing !== null && grid.cells[comparing] && (
        <CellCompare
          grid={grid}
          cell={grid.cells[comparing]}
          message={message}
          onKeep={() => keep(comparing)}
          onClose={() => setComparing(null)}
        />
      )}
    </>
  );
}

export function GridExplorer({ messageId }: { messageId: string }) {
  const message = useAppState((state) => state.doc?.messages.find((entry) => entry.id === messageId));
  const grid = useAppState((state) => state.grids[messageId]);
  const [setup, setSetup] = useState(false);
  // A grid that (re)starts shows the results.
  const gridId = grid?.gridId;
  useEffect(() => setSetup(false), [gridId]);
  const showSetup = setup || !grid;
  useEffect(() => {
    if (!showSetup) return;
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== 'Escape') return;
      event.stopPropagation();
      closeGridExplorer();
    };
    window.addEventListener('keydown', onKey, true);
    return () => window.removeEventListener('keydown', onKey, true);
  }, [showSetup]);
  // The edit went away (undone, deleted): nothing to explore any more.
  const gone = !message;
  useEffect(() => {
    if (gone) closeGridExplorer();
  }, [gone]);
  if (!message) return null;
  return (
    <div className="grid-overlay" role="dialog" aria-label="Explore guidance" data-testid="grid-explorer">
      <header className="compare-bar">
        <h2>Explore guidance — “{message.instruction}”</h2>
        <button
          className="icon-button"
          title="Close (Esc)"
          data-testid="grid-close"
          onClick={closeGridExplorer}
        >
          <Icon name="x" />
        </button>
      </header>
      <div className="grid-body">
        {showSetup ? (
          <GridSetupForm
            message={message}
            lastGrid={grid ?? null}
            onCancel={grid ? () => setSetup(false) : undefined}
          />
        ) : (
          <GridResults grid={grid} message={message} onNewGrid={() => setSetup(true)} />
        )}
      </div>
    </div>
  );
}
