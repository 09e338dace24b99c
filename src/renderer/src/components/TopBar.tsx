/** The tool bar: files, undo/redo, tools, zoom, compare, and the model / engine status. */
import type { ReactNode } from 'react';
import { exportAs, exportTrainingPairs, openFromDialog, redo, saveProject, undo } from '../state/actions';
import { setState, useAppState } from '../state/store';
import { viewCommands } from '../state/view-commands';
import { Icon, type IconName } from './common/Icon';

const mod = typeof navigator !== 'undefined' && /Mac/.test(navigator.platform) ? '⌘' : 'Ctrl+';

function ToolButton(props: {
  icon: IconName;
  label: string;
  title: string;
  onClick: () => void;
  disabled?: boolean;
  active?: boolean;
  testId?: string;
  children?: ReactNode;
}) {
  return (
    <button
      className={`bar-button ${props.active ? 'active' : ''}`}
      title={props.title}
      aria-label={props.label}
      aria-pressed={props.active}
      disabled={props.disabled}
      data-testid={props.testId}
      onClick={props.onClick}
    >
      <Icon name={props.icon} />
      {props.children}
    </button>
  );
}

function ModelPill() {
  const model = useAppState((state) => state.model);
  const engine = useAppState((state) => state.engine);
  const label =
    model?.state === 'ready'
      ? `${model.provider ?? 'cpu'} · ready${
          model.optimization?.state === 'cached' || model.optimization?.state === 'optimised'
            ? ' · optimised'
            : ''
        }`
      : model?.state === 'loading'
        ? 'loading model…'
        : model?.state === 'error'
          ? 'model error'
          : 'no model';
  const crashed = engine?.state === 'crashed';
  return (
    <button
      className={`model-pill state-${model?.state ?? 'none'} ${crashed ? 'crashed' : ''}`}
      data-testid="model-pill"
      title={crashed ? (engine?.message ?? 'The engine stopped') : (model?.dir ?? 'Choose a model')}
      onClick={() => setState({ dialog: 'models' })}
    >
      <Icon name="chip" size={14} /> {crashed ? 'engine stopped' : label}
    </button>
  );
}

export function TopBar() {
  const hasDoc = useAppState((state) => state.doc !== null);
  const canUndo = useAppState((state) => state.doc?.canUndo ?? false);
  const canRedo = useAppState((state) => state.doc?.canRedo ?? false);
  const undoLabel = useAppState((state) => state.doc?.undoLabel ?? null);
  const redoLabel = useAppState((state) => state.doc?.redoLabel ?? null);
  const tool = useAppState((state) => state.tool);
  const compare = useAppState((state) => state.compare);
  const zoom = useAppState((state) => state.zoom);
  const docName = useAppState((state) => state.doc?.name ?? null);
  const dirty = useAppState((state) => state.doc?.dirty ?? false);

  return (
    <header className="top-bar">
      <div className="brand">
        <span className="logo">◐</span> <span className="brand-name">Instruct Edit</span>
      </div>
      <div className="bar-group">
        <ToolButton
          icon="open"
          label="Open"
          title={`Open a picture or project (${mod}O)`}
          testId="open"
          onClick={() => void openFromDialog()}
        />
        <ToolButton
          icon="save"
          label="Save"
          title={`Save the project (${mod}S)`}
          disabled={!hasDoc}
          testId="save"
          onClick={() => void saveProject(false)}
        />
        <ToolButton
          icon="export"
          label="Export PNG"
          title={`Export PNG (${mod}E)`}
          disabled={!hasDoc}
          testId="export-png"
          onClick={() => void exportAs('png')}
        >
          <span className="bar-text">PNG</span>
        </ToolButton>
        <ToolButton
          icon="export"
          label="Export PSD"
          title={`Export PSD with layers (${mod}Shift+E)`}
          disabled={!hasDoc}
          testId="export-psd"
          onClick={() => void exportAs('psd')}
        >
          <span className="bar-text">PSD</span>
        </ToolButton>
        <ToolButton
          icon="export"
          label="Export training pairs"
          title="Export training pairs… (each edit's input and kept result, with its instruction, in InstructPix2Pix's dataset layout)"
          disabled={!hasDoc}
          testId="export-pairs"
          onClick={() => void exportTrainingPairs()}
        >
          <span className="bar-text">Pairs</span>
        </ToolButton>
      </div>
      <div className="bar-group">
        <ToolButton
          icon="undo"
          label="Undo"
          title={`Undo ${undoLabel ?? ''} (${mod}Z)`}
          disabled={!canUndo}
          testId="undo"
          onClick={() => void undo()}
        />
        <ToolButton
          icon="redo"
          label="Redo"
          title={`Redo ${redoLabel ?? ''} (Shift+${mod}Z)`}
          disabled={!canRedo}
          testId="redo"
          onClick={() => void redo()}
        />
      </div>
      <div className="bar-group">
        <ToolButton
          icon="hand"
          label="Move"
          title="Pan and zoom (V)"
          active={tool === 'move'}
          testId="tool-move"
          onClick={() => setState({ tool: 'move' })}
        />
        <ToolButton
          icon="brush"
          label="Mask brush"
          title="Paint the selected layer's mask (B)"
          active={tool === 'mask'}
          disabled={!hasDoc}
          testId="tool-brush"
          onClick={() => setState({ tool: 'mask' })}
        />
      </div>
      <div className="bar-group">
        <ToolButton
          icon="zoomOut"
          label="Zoom out"
          title={`Zoom out (${mod}-)`}
          disabled={!hasDoc}
          onClick={() => viewCommands.emit('zoomOut')}
        />
        <span className="zoom-value" data-testid="zoom-value">
          {Math.round(zoom * 100)} %
        </span>
        <ToolButton
          icon="zoomIn"
          label="Zoom in"
          title={`Zoom in (${mod}+)`}
          disabled={!hasDoc}
          onClick={() => viewCommands.emit('zoomIn')}
        />
        <ToolButton
          icon="fit"
          label="Fit"
          title={`Fit to window (${mod}0)`}
          disabled={!hasDoc}
          testId="zoom-fit"
          onClick={() => viewCommands.emit('zoomFit')}
        />
        <button
          className="bar-button"
          title={`Actual size (${mod}1)`}
          disabled={!hasDoc}
          data-testid="zoom-100"
          onClick={() => viewCommands.emit('zoom100')}
        >
          1:1
        </button>
      </div>
      <div className="bar-group">
        <ToolButton
          icon="compare"
          label="Split compare"
          title="Before / after split slider (hold \\ to see the source)"
          active={compare === 'split'}
          disabled={!hasDoc}
          testId="compare-split"
          onClick={() => setState({ compare: compare === 'split' ? 'off' : 'split' })}
        />
        <button
          className="bar-button"
          disabled={!hasDoc}
          title="Hold to see the source (or hold the \\ key)"
          data-testid="compare-hold"
          onPointerDown={() => setState({ showBefore: true })}
          onPointerUp={() => setState({ showBefore: false })}
          onPointerLeave={() => setState({ showBefore: false })}
        >
          Before
        </button>
      </div>
      <div className="doc-title" title={docName ?? ''}>
        {docName ? `${docName}${dirty ? ' •' : ''}` : ''}
      </div>
      <div className="bar-group right">
        <ModelPill />
        <ToolButton
          icon="gear"
          label="Settings"
          title="Settings"
          testId="settings"
          onClick={() => setState({ dialog: 'settings' })}
        />
      </div>
    </header>
  );
}
