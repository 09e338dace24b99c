/**
 * The canvas: the document's layers composited with Konva (visibility, opacity, masks), zoom
 * (wheel, fit, 100 %), pan (drag, or Space + drag while painting), before/after compare (hold the
 * compare key, or a split slider), and mask painting on the selected layer.
 */
import type Konva from 'konva';
import { useEffect, useMemo, useRef, useState } from 'react';
import { Circle, Group, Image as KonvaImage, Layer, Line, Rect, Stage } from 'react-konva';
import type { LayerView } from '../../../../shared/contract/schemas';
import { setMask } from '../../state/actions';
import { setState, useAppState } from '../../state/store';
import { LayerSurface } from './layer-surface';
import { useViewport } from './useViewport';

function useElementSize(ref: React.RefObject<HTMLDivElement | null>) {
  const [size, setSize] = useState({ width: 0, height: 0 });
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    const observer = new ResizeObserver(() =>
      setSize({ width: element.clientWidth, height: element.clientHeight }),
    );
    observer.observe(element);
    setSize({ width: element.clientWidth, height: element.clientHeight });
    return () => observer.disconnect();
  }, [ref]);
  return size;
}

/** Keeps one LayerSurface per layer in sync with the document; re-renders when any changes. */
function useSurfaces(layers: readonly LayerView[]) {
  const surfaces = useRef(new Map<string, LayerSurface>());
  const [, setTick] = useState(0);
  useEffect(() => {
    const map = surfaces.current;
    for (const id of [...map.keys()]) if (!layers.some((layer) => layer.id === id)) map.delete(id);
    for (const layer of layers) {
      let surface = map.get(layer.id);
      if (!surface) map.set(layer.id, (surface = new LayerSurface()));
      surface.sync(layer).then(
        (changed) => {
          if (changed) setTick((tick) => tick + 1);
        },
        () => undefined,
      );
    }
  }, [layers]);
  return { surfaces: surfaces.current, redraw: () => setTick((tick) => tick + 1) };
}

export function CanvasView() {
  const doc = useAppState((state) => state.doc);
  const tool = useAppState((state) => state.tool);
  const brush = useAppState((state) => state.brush);
  const compare = useAppState((state) => state.compare);
  const showBefore = useAppState((state) => state.showBefore);
  const split = useAppState((state) => state.split);
  const selectedLayerId = useAppState((state) => state.selectedLayerId);
  const containerRef = useRef<HTMLDivElement>(null);
  const size = useElementSize(containerRef);
  const docWidth = doc?.width;
  const docHeight = doc?.height;
  const content = useMemo(
    () => (docWidth !== undefined && docHeight !== undefined ? { width: docWidth, height: docHeight } : null),
    [docWidth, docHeight],
  );
  const { view, setView, zoomAt } = useViewport(size, content);
  const layers = useMemo(() => doc?.layers ?? [], [doc?.layers]);
  const { surfaces, redraw } = useSurfaces(layers);
  const [spaceHeld, setSpaceHeld] = useState(false);
  const [cursor, setCursor] = useState<{ x: number; y: number } | null>(null);
  const painting = useRef<{ layerId: string; last: { x: number; y: number } } | null>(null);

  const selected = layers.find((layer) => layer.id === selectedLayerId) ?? null;
  const canPaint = tool === 'mask' && selected !== null && selected.kind !== 'source';
  const panning = !canPaint || spaceHeld;

  useEffect(() => {
    const down = (event: KeyboardEvent) => {
      if (
        event.code === 'Space' &&
        !(event.target instanceof HTMLInputElement || event.target instanceof HTMLTextAreaElement)
      )
        setSpaceHeld(true);
    };
    const up = (event: KeyboardEvent) => {
      if (event.code === 'Space') setSpaceHeld(false);
    };
    window.addEventListener('keydown', down);
    window.addEventListener('keyup', up);
    return () => {
      window.removeEventListener('keydown', down);
      window.removeEventListener('keyup', up);
    };
  }, []);

  const toLayer = (stage: Konva.Stage, layer: LayerView) => {
    const pointer = stage.getPointerPosition();
    if (!pointer) return null;
    return { x: (pointer.x - view.x) / view.scale - layer.x, y: (pointer.y - view.y) / view.scale - layer.y };
  };

  const onPointerDown = (event: Konva.KonvaEventObject<PointerEvent>) => {
    if (!canPaint || spaceHeld || !selected || event.evt.button !== 0) return;
    const stage = event.target.getStage();
    const surface = surfaces.get(selected.id);
    if (!stage || !surface) return;
    const point = toLayer(stage, selected);
    if (!point) return;
    surface.beginMaskEdit();
    surface.stroke(point.x, point.y, point.x, point.y, brush);
    painting.current = { layerId: selected.id, last: point };
    redraw();
  };

  const onPointerMove = (event: Konva.KonvaEventObject<PointerEvent>) => {
    const stage = event.target.getStage();
    if (!stage) return;
    const pointer = stage.getPointerPosition();
    setCursor(pointer ? { x: pointer.x, y: pointer.y } : null);
    const stroke = painting.current;
    if (!stroke || !selected || stroke.layerId !== selected.id) return;
    const point = toLayer(stage, selected);
    const surface = surfaces.get(selected.id);
    if (!point || !surface) return;
    surface.stroke(stroke.last.x, stroke.last.y, point.x, point.y, brush);
    stroke.last = point;
    stage.batchDraw();
    redraw();
  };

  const finishStroke = () => {
    const stroke = painting.current;
    painting.current = null;
    if (!stroke) return;
    const mask = surfaces.get(stroke.layerId)?.maskBytes();
    if (mask) void setMask(stroke.layerId, mask.width, mask.height, mask.data);
  };

  const onWheel = (event: Konva.KonvaEventObject<WheelEvent>) => {
    event.evt.preventDefault();
    const stage = event.target.getStage();
    const pointer = stage?.getPointerPosition() ?? undefined;
    const factor = Math.exp(-event.evt.deltaY * (event.evt.ctrlKey ? 0.01 : 0.0015));
    zoomAt(factor, pointer);
  };

  const source = layers.find((layer) => layer.kind === 'source') ?? layers[0];
  const splitX = doc ? doc.width * split : 0;

  const renderLayer = (layer: LayerView) => {
    const surface = surfaces.get(layer.id);
    if (!surface?.ready || !layer.visible) return null;
    return (
      <KonvaImage
        key={layer.id}
        image={surface.output}
        x={layer.x}
        y={layer.y}
        opacity={layer.opacity}
        listening={false}
      />
    );
  };

  return (
    <div
      ref={containerRef}
      className={`canvas-view ${canPaint && !spaceHeld ? 'is-painting' : ''} ${panning ? 'is-panning' : ''}`}
      data-testid="canvas"
      onPointerLeave={() => setCursor(null)}
    >
      {doc && size.width > 0 && (
        <Stage
          width={size.width}
          height={size.height}
          x={view.x}
          y={view.y}
          scaleX={view.scale}
          scaleY={view.scale}
          draggable={panning}
          onDragEnd={(event) => {
            if (event.target === event.target.getStage())
              setView({ scale: view.scale, x: event.target.x(), y: event.target.y() });
          }}
          onWheel={onWheel}
          onPointerDown={onPointerDown}
          onPointerMove={onPointerMove}
          onPointerUp={finishStroke}
          onPointerLeave={finishStroke}
        >
          <Layer listening={false}>
            <Rect
              x={0}
              y={0}
              width={doc.width}
              height={doc.height}
              fill="#2a2b30"
              shadowColor="black"
              shadowBlur={24 / view.scale}
              shadowOpacity={0.6}
            />
            {showBefore ? (
              source && renderLayer({ ...source, visible: true })
            ) : compare === 'split' ? (
              <>
                {source && renderLayer(source)}
                <Group
                  clipX={splitX}
                  clipY={0}
                  clipWidth={Math.max(0, doc.width - splitX)}
                  clipHeight={doc.height}
                >
                  {layers.filter((layer) => layer !== source).map(renderLayer)}
                </Group>
                <Line
                  points={[splitX, 0, splitX, doc.height]}
                  stroke="#f5c542"
                  strokeWidth={2 / view.scale}
                />
              </>
            ) : (
              layers.map(renderLayer)
            )}
          </Layer>
          {canPaint && cursor && !spaceHeld && (
            <Layer listening={false}>
              <Circle
                x={(cursor.x - view.x) / view.scale}
                y={(cursor.y - view.y) / view.scale}
                radius={brush.size / 2}
                stroke={brush.erase ? '#ff7b7b' : '#ffffff'}
                strokeWidth={1.5 / view.scale}
                dash={[4 / view.scale, 4 / view.scale]}
              />
            </Layer>
          )}
        </Stage>
      )}
      {doc && compare === 'split' && (
        <input
          className="split-slider"
          type="range"
          min={0}
          max={1}
          step={0.001}
          value={split}
          aria-label="Before / after split"
          data-testid="split-slider"
          onChange={(event) => setState({ split: Number(event.target.value) })}
        />
      )}
      {doc && showBefore && <div className="canvas-badge">Before</div>}
      {doc && compare === 'split' && !showBefore && (
        <>
          <div className="canvas-badge left">Before</div>
          <div className="canvas-badge right">After</div>
        </>
      )}
    </div>
  );
}
