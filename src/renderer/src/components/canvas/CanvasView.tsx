/**
 * The canvas: the document's layers composited with Konva (visibility, opacity, masks), zoom
 * (wheel, fit, 100 %), pan (drag, or Space + drag while painting), before/after compare (hold the
 * compare key, or a split slider), and mask painting on the selected layer.
 */
import type Konva from 'konva';
import { useEffect, useMemo, useRef, useState } from 'react';
import { Circle, Group, Image as KonvaImage, Layer, Line, Rect, Stage } from 'react-konva';
import type { DocumentView, LayerView } from '../../../../shared/contract/schemas';
import { setMask } from '../../state/actions';
import { setState, useAppState } from '../../state/store';
import { LayerSurface } from './layer-surface';
import { useViewport } from './useViewport';

/** The split slider's thumb width (styles.css), so its centre can sit on the split line. */
const SLIDER_THUMB = 14;

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

/** The document state the canvas shows: all its layers' surfaces are up to date with it. */
interface Frame {
  docId: string;
  width: number;
  height: number;
  layers: readonly LayerView[];
}

/** Surfaces of one document's layers, by document and layer (ids repeat across documents). */
const surfaceKey = (docId: string, layerId: string) => `${docId}|${layerId}`;

/**
 * Keeps one LayerSurface per layer in step with the document and presents a new frame only when
 * every layer of the new document state has its pixels: the canvas is a pure view of the document,
 * never a mix of old and new layers. While a state is on its way, `loading` says so.
 */
function useFrame(doc: DocumentView | null, maxSide: number) {
  const surfaces = useRef(new Map<string, LayerSurface>());
  const [frame, setFrame] = useState<Frame | null>(null);
  /** Names of the layers whose pixels are on their way (empty: the canvas is up to date). */
  const [pending, setPending] = useState<readonly string[]>([]);
  const [, setTick] = useState(0);
  const generation = useRef(0);
  const docId = doc?.id ?? null;
  const width = doc?.width ?? 0;
  const height = doc?.height ?? 0;
  const layers = doc?.layers;
  useEffect(() => {
    const current = ++generation.current;
    if (docId === null || !layers) {
      surfaces.current.clear();
      setFrame(null);
      setPending([]);
      return;
    }
    // Not before the canvas has a size: the first fetch would be for the wrong one.
    if (maxSide <= 0) return;
    const map = surfaces.current;
    const fetching: string[] = [];
    const updates = layers.map((layer) => {
      const key = surfaceKey(docId, layer.id);
      let surface = map.get(key);
      if (!surface) map.set(key, (surface = new LayerSurface()));
      if (!surface.isCurrent(layer, maxSide)) fetching.push(layer.name);
      // A layer whose pixels cannot be had is left out rather than holding back the others.
      return surface.prepare(docId, layer, maxSide).catch(() => null);
    });
    if (fetching.length > 0) setPending(fetching);
    void Promise.all(updates).then((applies) => {
      if (current !== generation.current) return;
      for (const apply of applies) apply?.();
      const keep = new Set(layers.map((layer) => surfaceKey(docId, layer.id)));
      for (const key of [...map.keys()]) if (!keep.has(key)) map.delete(key);
      setFrame({ docId, width, height, layers });
      setPending([]);
    });
  }, [docId, width, height, layers, maxSide]);
  const surfaceOf = (layerId: string) =>
    frame ? (surfaces.current.get(surfaceKey(frame.docId, layerId)) ?? null) : null;
  return {
    frame,
    pending,
    loading: pending.length > 0,
    surfaceOf,
    redraw: () => setTick((tick) => tick + 1),
  };
}

/** A small checkerboard tile: the backdrop that shows through transparent areas. */
function checkerboardTile(): HTMLCanvasElement {
  const tile = document.createElement('canvas');
  tile.width = 16;
  tile.height = 16;
  const context = tile.getContext('2d');
  if (context) {
    context.fillStyle = '#9a9ca1';
    context.fillRect(0, 0, 16, 16);
    context.fillStyle = '#6e7075';
    context.fillRect(0, 0, 8, 8);
    context.fillRect(8, 8, 8, 8);
  }
  return tile;
}

/** The quick-mask view: a red tint over the parts of the layer its mask hides. */
function maskTint(mask: HTMLCanvasElement, into: HTMLCanvasElement | null): HTMLCanvasElement {
  const tint = into ?? document.createElement('canvas');
  if (tint.width !== mask.width || tint.height !== mask.height) {
    tint.width = mask.width;
    tint.height = mask.height;
  }
  const context = tint.getContext('2d');
  if (!context) return tint;
  context.globalCompositeOperation = 'source-over';
  context.clearRect(0, 0, tint.width, tint.height);
  context.fillStyle = 'rgba(235, 40, 60, 0.5)';
  context.fillRect(0, 0, tint.width, tint.height);
  context.globalCompositeOperation = 'destination-out';
  context.drawImage(mask, 0, 0);
  context.globalCompositeOperation = 'source-over';
  return tint;
}

/** Device pixels of the canvas, rounded up to a step so small resizes do not refetch layers. */
function screenSide(size: { width: number; height: number }): number {
  if (size.width <= 0 || size.height <= 0) return 0;
  const ratio = window.devicePixelRatio || 1;
  const side = Math.max(size.width, size.height) * ratio;
  return Math.max(256, Math.ceil(side / 256) * 256);
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
  const pictureLayerRef = useRef<Konva.Layer>(null);
  const size = useElementSize(containerRef);
  const docWidth = doc?.width;
  const docHeight = doc?.height;
  const content = useMemo(
    () => (docWidth !== undefined && docHeight !== undefined ? { width: docWidth, height: docHeight } : null),
    [docWidth, docHeight],
  );
  const { view, setView, zoomAt, settled } = useViewport(size, content);
  // Screen-size pixels first; the full resolution once the picture is shown larger than that.
  const displaySide = screenSide(size);
  const docSide = Math.max(docWidth ?? 0, docHeight ?? 0);
  const zoomedPast = settled && docSide * view.scale * (window.devicePixelRatio || 1) > displaySide;
  const { frame, pending, loading, surfaceOf, redraw } = useFrame(doc, zoomedPast ? Infinity : displaySide);
  const [maskOverlay, setMaskOverlay] = useState(false);
  const tintRef = useRef<HTMLCanvasElement | null>(null);
  const checkerboard = useMemo(() => checkerboardTile(), []);
  const [spaceHeld, setSpaceHeld] = useState(false);
  const [cursor, setCursor] = useState<{ x: number; y: number } | null>(null);
  const painting = useRef<{ layerId: string; last: { x: number; y: number } } | null>(null);

  // The frame's surfaces are updated in place: redraw after every render that may have changed them.
  useEffect(() => {
    pictureLayerRef.current?.batchDraw();
  });

  const layers = frame?.layers ?? [];
  const selected = layers.find((layer) => layer.id === selectedLayerId) ?? null;
  const canPaint = tool === 'mask' && selected !== null && selected.kind !== 'source';
  const panning = !canPaint || spaceHeld;
  const selectedSurface = selected ? surfaceOf(selected.id) : null;

  // Crisp pixels once a surface pixel covers more than one screen pixel.
  const resolution = Math.max(
    1e-6,
    ...layers.map((layer) => (surfaceOf(layer.id)?.ready ? surfaceOf(layer.id)!.resolution : 0)),
  );
  const smoothing = view.scale / resolution < 1 - 1e-6;

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
    const surface = selectedSurface;
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
    const surface = selectedSurface;
    if (!point || !surface) return;
    surface.stroke(stroke.last.x, stroke.last.y, point.x, point.y, brush);
    stroke.last = point;
    redraw();
  };

  const finishStroke = () => {
    const stroke = painting.current;
    painting.current = null;
    if (!stroke) return;
    const layer = layers.find((entry) => entry.id === stroke.layerId);
    const mask = layer ? surfaceOf(layer.id)?.maskBytes(layer.width, layer.height) : null;
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
  const frameWidth = frame?.width ?? 0;
  const frameHeight = frame?.height ?? 0;
  // The split slider spans the picture's visible part on screen; its thumb sits on the split line.
  const pictureLeft = Math.max(0, view.x);
  const pictureRight = Math.min(size.width, view.x + frameWidth * view.scale);
  const sliderSpan = Math.max(1, pictureRight - pictureLeft);
  const splitX = frameWidth * split;
  const sliderValue = Math.min(1, Math.max(0, (view.x + splitX * view.scale - pictureLeft) / sliderSpan));

  const renderLayer = (layer: LayerView) => {
    const surface = surfaceOf(layer.id);
    if (!surface?.ready || !layer.visible) return null;
    return (
      <KonvaImage
        key={layer.id}
        image={surface.output}
        x={layer.x}
        y={layer.y}
        width={layer.width}
        height={layer.height}
        opacity={layer.opacity}
        listening={false}
      />
    );
  };

  const maskCanvas = maskOverlay && selected ? (selectedSurface?.maskCanvas ?? null) : null;
  const tint = maskCanvas ? (tintRef.current = maskTint(maskCanvas, tintRef.current)) : null;
  const showFrame = frame !== null && frame.docId === doc?.id;
  const ringRadius = (brush.size / 2) * view.scale;

  return (
    <div
      ref={containerRef}
      className={`canvas-view ${canPaint && !spaceHeld ? 'is-painting' : ''} ${panning ? 'is-panning' : ''}`}
      data-testid="canvas"
      data-view-scale={view.scale}
      data-view-x={view.x}
      data-view-y={view.y}
      data-smoothing={smoothing ? 'on' : 'off'}
      data-doc-id={showFrame ? frame.docId : ''}
      data-frame-layers={showFrame ? layers.filter((layer) => surfaceOf(layer.id)?.ready).length : 0}
      data-loading={loading ? 'true' : 'false'}
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
          <Layer ref={pictureLayerRef} listening={false} imageSmoothingEnabled={smoothing}>
            {/* A new document's size shows at once; its pixels follow (see the loading badge). */}
            <Rect
              x={0}
              y={0}
              width={doc.width}
              height={doc.height}
              fillPatternImage={checkerboard as unknown as HTMLImageElement}
              fillPatternScale={{ x: 1 / view.scale, y: 1 / view.scale }}
              fillPatternRepeat="repeat"
              shadowColor="black"
              shadowBlur={24 / view.scale}
              shadowOpacity={0.6}
              shadowForStrokeEnabled={false}
            />
            {showFrame &&
              (showBefore ? (
                source && renderLayer({ ...source, visible: true })
              ) : compare === 'split' ? (
                <>
                  {source && renderLayer(source)}
                  <Group
                    clipX={splitX}
                    clipY={0}
                    clipWidth={Math.max(0, frameWidth - splitX)}
                    clipHeight={frameHeight}
                  >
                    {layers.filter((layer) => layer !== source).map(renderLayer)}
                  </Group>
                  <Line
                    points={[splitX, 0, splitX, frameHeight]}
                    stroke="#f5c542"
                    strokeWidth={2 / view.scale}
                  />
                </>
              ) : (
                layers.map(renderLayer)
              ))}
            {showFrame && tint && selected && (
              <KonvaImage
                image={tint}
                x={selected.x}
                y={selected.y}
                width={selected.width}
                height={selected.height}
                listening={false}
              />
            )}
          </Layer>
          {canPaint && cursor && !spaceHeld && (
            <Layer listening={false}>
              {/* A black ring under a white one: visible on light and dark pixels alike. */}
              <Circle
                x={(cursor.x - view.x) / view.scale}
                y={(cursor.y - view.y) / view.scale}
                radius={ringRadius / view.scale}
                stroke="#000000"
                strokeWidth={3 / view.scale}
              />
              <Circle
                x={(cursor.x - view.x) / view.scale}
                y={(cursor.y - view.y) / view.scale}
                radius={ringRadius / view.scale}
                stroke={brush.erase ? '#ff9b9b' : '#ffffff'}
                strokeWidth={1.25 / view.scale}
                dash={brush.erase ? [4 / view.scale, 3 / view.scale] : []}
              />
            </Layer>
          )}
        </Stage>
      )}
      {doc && compare === 'split' && showFrame && (
        <input
          className="split-slider"
          type="range"
          min={0}
          max={1}
          step={0.001}
          value={sliderValue}
          style={{ left: pictureLeft - SLIDER_THUMB / 2, width: sliderSpan + SLIDER_THUMB }}
          aria-label="Before / after split"
          data-testid="split-slider"
          onChange={(event) => {
            const x = pictureLeft + Number(event.target.value) * sliderSpan;
            const fraction = (x - view.x) / view.scale / Math.max(1, frameWidth);
            setState({ split: Math.min(1, Math.max(0, fraction)) });
          }}
        />
      )}
      {doc && (loading || !showFrame) && (
        <div className="canvas-loading" role="status" data-testid="canvas-loading">
          <span className="spinner" aria-hidden="true" />
          {!showFrame
            ? 'Loading the picture…'
            : pending.length === 1
              ? `Loading “${pending[0]}”…`
              : `Loading ${pending.length} layers…`}
        </div>
      )}
      {doc && selected?.hasMask && (
        <button
          className={`canvas-mask-toggle ${maskOverlay ? 'active' : ''}`}
          aria-pressed={maskOverlay}
          data-testid="mask-overlay"
          title="Show the mask as a red tint over the hidden parts"
          onClick={() => setMaskOverlay((on) => !on)}
        >
          Mask overlay
        </button>
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
