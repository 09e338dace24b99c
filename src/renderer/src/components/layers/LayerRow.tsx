import { useState } from 'react';
import type { LayerView } from '../../../../shared/contract/schemas';
import { deleteLayer, updateLayer } from '../../state/actions';
import { setState } from '../../state/store';
import { Icon } from '../common/Icon';
import { LayerThumb } from './LayerThumb';
import { MaskThumb } from './MaskThumb';

export interface LayerRowProps {
  layer: LayerView;
  selected: boolean;
  onDragStart: (layerId: string) => void;
  onDropOn: (layerId: string) => void;
}

export function LayerRow({ layer, selected, onDragStart, onDropOn }: LayerRowProps) {
  const [renaming, setRenaming] = useState(false);
  const [dropTarget, setDropTarget] = useState(false);
  return (
    <li
      className={`layer-row ${selected ? 'selected' : ''} ${layer.visible ? '' : 'hidden-layer'} ${dropTarget ? 'drop-target' : ''}`}
      data-testid="layer-row"
      data-layer-id={layer.id}
      data-layer-name={layer.name}
      draggable={!renaming}
      onClick={() => setState({ selectedLayerId: layer.id })}
      onDragStart={(event) => {
        event.dataTransfer.effectAllowed = 'move';
        event.dataTransfer.setData('text/x-layer', layer.id);
        onDragStart(layer.id);
      }}
      onDragOver={(event) => {
        if (event.dataTransfer.types.includes('text/x-layer')) {
          event.preventDefault();
          setDropTarget(true);
        }
      }}
      onDragLeave={() => setDropTarget(false)}
      onDrop={(event) => {
        event.preventDefault();
        setDropTarget(false);
        onDropOn(layer.id);
      }}
    >
      <span className="drag-handle" title="Drag to reorder">
        <Icon name="drag" size={14} />
      </span>
      <button
        className="icon-button"
        data-testid="layer-visibility"
        aria-pressed={layer.visible}
        title={layer.visible ? 'Hide layer' : 'Show layer'}
        onClick={(event) => {
          event.stopPropagation();
          void updateLayer(layer.id, { visible: !layer.visible });
        }}
      >
        <Icon name={layer.visible ? 'eye' : 'eyeOff'} />
      </button>
      <LayerThumb layerId={layer.id} revision={layer.pixelsRevision * 1000 + layer.maskRevision} />
      {layer.hasMask && <MaskThumb layerId={layer.id} revision={layer.maskRevision} />}
      <div className="layer-text">
        {renaming ? (
          <input
            className="rename"
            autoFocus
            defaultValue={layer.name}
            onClick={(event) => event.stopPropagation()}
            onBlur={(event) => {
              setRenaming(false);
              const name = event.target.value.trim();
              if (name && name !== layer.name) void updateLayer(layer.id, { name });
            }}
            onKeyDown={(event) => {
              if (event.key === 'Enter') (event.target as HTMLInputElement).blur();
              if (event.key === 'Escape') setRenaming(false);
            }}
          />
        ) : (
          <span className="layer-name" title={layer.name} onDoubleClick={() => setRenaming(true)}>
            {layer.name}
          </span>
        )}
        <span className="layer-badges">
          {layer.kind === 'source' && <span className="badge">source</span>}
          {layer.hasMask && (
            <span className="badge badge-mask" data-testid="mask-badge">
              mask
            </span>
          )}
          {layer.stale && (
            <span
              className="badge badge-stale"
              data-testid="stale-badge"
              title={layer.staleReason ?? 'Its source changed since this edit ran'}
            >
              stale
            </span>
          )}
          {layer.opacity < 1 && <span className="badge">{Math.round(layer.opacity * 100)} %</span>}
        </span>
      </div>
      {layer.kind !== 'source' && (
        <button
          className="icon-button danger"
          title="Delete layer"
          data-testid="layer-delete"
          onClick={(event) => {
            event.stopPropagation();
            void deleteLayer(layer.id);
          }}
        >
          <Icon name="trash" />
        </button>
      )}
    </li>
  );
}
