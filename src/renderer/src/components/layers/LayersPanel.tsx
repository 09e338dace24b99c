/** The layers, top first: thumbnails, names, show/hide, opacity, drag to reorder, delete, stale badge, mask tools. */
import { useRef } from 'react';
import { moveLayer } from '../../state/actions';
import { useAppState } from '../../state/store';
import { LayerRow } from './LayerRow';
import { MaskTools } from './MaskTools';

export function LayersPanel() {
  const doc = useAppState((state) => state.doc);
  const selectedLayerId = useAppState((state) => state.selectedLayerId);
  const dragged = useRef<string | null>(null);
  if (!doc) return <section className="panel layers-panel empty">No layers yet</section>;
  const topFirst = [...doc.layers].reverse();
  const selected = doc.layers.find((layer) => layer.id === selectedLayerId) ?? null;

  const dropOn = (targetId: string) => {
    const id = dragged.current;
    dragged.current = null;
    if (!id || id === targetId) return;
    const toIndex = doc.layers.findIndex((layer) => layer.id === targetId);
    if (toIndex >= 0) void moveLayer(id, toIndex);
  };

  return (
    <section className="panel layers-panel" data-testid="layers-panel">
      <header className="panel-header">
        <h2>Layers</h2>
        <span className="muted">{doc.layers.length}</span>
      </header>
      <ul className="layer-list">
        {topFirst.map((layer) => (
          <LayerRow
            key={layer.id}
            layer={layer}
            selected={layer.id === selectedLayerId}
            onDragStart={(id) => {
              dragged.current = id;
            }}
            onDropOn={dropOn}
          />
        ))}
      </ul>
      {selected && <MaskTools layer={selected} />}
    </section>
  );
}
