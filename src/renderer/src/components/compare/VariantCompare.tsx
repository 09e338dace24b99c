/**
 * Variants of one instruction, large: side by side with one shared zoom and pan (wheel zooms at the
 * pointer, drag pans, double-click fits), or one at a time with an A/B flip (F or the button).
 * Each variant's pixels come from `document.layerImage` with its variantId.
 */
import { useEffect, useLayoutEffect, useRef, useState, type PointerEvent, type WheelEvent } from 'react';
import type { MessageView, VariantView } from '../../../../shared/contract/schemas';
import { useLayerImage } from '../../hooks/images';
import { pickVariant } from '../../state/actions';
import { setState, useAppState } from '../../state/store';
import { nextVariant } from '../../state/ui-logic';
import { Icon } from '../common/Icon';

interface View {
  scale: number;
  x: number;
  y: number;
}

function fitView(pane: { width: number; height: number }, image: { width: number; height: number }): View {
  const scale = Math.min(pane.width / image.width, pane.height / image.height);
  return {
    scale,
    x: (pane.width - image.width * scale) / 2,
    y: (pane.height - image.height * scale) / 2,
  };
}

function VariantPane({
  layerId,
  variant,
  index,
  picked,
  view,
  onPane,
}: {
  layerId: string;
  variant: VariantView;
  index: number;
  picked: boolean;
  view: View | null;
  onPane?: (element: HTMLDivElement | null) => void;
}) {
  const image = useLayerImage(layerId, 'pixels', variant.revision, variant.id);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const canvas = canvasRef.current;
    const context = canvas?.getContext('2d');
    if (!canvas || !context || !image) return;
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    context.drawImage(image, 0, 0);
  }, [image]);
  const { settings } = variant;
  return (
    <div className="compare-pane" ref={onPane} data-testid="compare-pane" data-variant-id={variant.id}>
      <canvas
        ref={canvasRef}
        className={`compare-image ${view && view.scale > 1 ? 'pixelated' : ''}`}
        style={
          view
            ? { transform: `translate(${view.x}px, ${view.y}px) scale(${view.scale})` }
            : { visibility: 'hidden' }
        }
      />
      <div className="compare-label">
        <strong>{index + 1}</strong> text {settings.textGuidance} · image {settings.imageGuidance} · seed{' '}
        {settings.seed} · {settings.steps} steps{' '}
        {picked && <span className="status-pill pill-done">picked</span>}
      </div>
    </div>
  );
}

export function VariantCompare({ message }: { message: MessageView }) {
  const target = useAppState((state) => state.compareVariants);
  const variants = message.variants.filter((variant) => target?.variantIds.includes(variant.id));
  const [mode, setMode] = useState<'side' | 'flip'>('side');
  const [shown, setShown] = useState(message.pickedVariantId ?? variants[0]?.id ?? '');
  const [view, setView] = useState<View | null>(null);
  const pane = useRef<HTMLDivElement | null>(null);
  const drag = useRef<{ x: number; y: number } | null>(null);
  const docWidth = useAppState((state) => state.doc?.width ?? 0);
  const docHeight = useAppState((state) => state.doc?.height ?? 0);
  const layerId = message.layerId;

  const fit = () => {
    const element = pane.current;
    if (!element || !docWidth || !docHeight) return;
    setView(
      fitView(
        { width: element.clientWidth, height: element.clientHeight },
        { width: docWidth, height: docHeight },
      ),
    );
  };
  // Fit once the panes have their size, and again when the mode changes their size.
  useLayoutEffect(fit, [mode, docWidth, docHeight]);

  const close = () => setState({ compareVariants: null });
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') {
        event.stopPropagation();
        close();
      } else if (event.key === 'f' || event.key === 'F') {
        event.stopPropagation();
        setMode('flip');
        setShown((current) =>
          nextVariant(
            variants.map((v) => v.id),
            current,
          ),
        );
      }
    };
    window.addEventListener('keydown', onKey, true);
    return () => window.removeEventListener('keydown', onKey, true);
  });

  if (!layerId || variants.length === 0) return null;

  const onWheel = (event: WheelEvent<HTMLDivElement>) => {
    if (!view) return;
    const rect = (event.target as HTMLElement).closest('.compare-pane')?.getBoundingClientRect();
    if (!rect) return;
    const factor = Math.exp(-event.deltaY * 0.0015);
    const scale = Math.min(32, Math.max(0.02, view.scale * factor));
    const px = event.clientX - rect.left;
    const py = event.clientY - rect.top;
    // Keep the picture point under the pointer in place, in every pane alike.
    setView({
      scale,
      x: px - ((px - view.x) * scale) / view.scale,
      y: py - ((py - view.y) * scale) / view.scale,
    });
  };
  const onPointerDown = (event: PointerEvent<HTMLDivElement>) => {
    drag.current = { x: event.clientX, y: event.clientY };
    (event.currentTarget as HTMLElement).setPointerCapture(event.pointerId);
  };
  const onPointerMove = (event: PointerEvent<HTMLDivElement>) => {
    const start = drag.current;
    if (!start || !view) return;
    drag.current = { x: event.clientX, y: event.clientY };
    setView({ ...view, x: view.x + event.clientX - start.x, y: view.y + event.clientY - start.y });
  };
  const onPointerUp = () => {
    drag.current = null;
  };

  const visible = mode === 'side' ? variants : variants.filter((variant) => variant.id === shown);
  const shownIndex = variants.findIndex((variant) => variant.id === shown);
  return (
    <div
      className="compare-overlay"
      role="dialog"
      aria-label="Compare variants"
      data-testid="variant-compare"
    >
      <header className="compare-bar">
        <h2>
          “{message.instruction}” — {variants.length} variants
        </h2>
        <div className="bar-group">
          <button
            className={`bar-button ${mode === 'side' ? 'active' : ''}`}
            aria-pressed={mode === 'side'}
            data-testid="compare-side"
            onClick={() => setMode('side')}
          >
            Side by side
          </button>
          <button
            className={`bar-button ${mode === 'flip' ? 'active' : ''}`}
            aria-pressed={mode === 'flip'}
            data-testid="compare-flip"
            title="Flip between the variants in one place (F)"
            onClick={() => {
              if (mode === 'flip')
                setShown(
                  nextVariant(
                    variants.map((v) => v.id),
                    shown,
                  ),
                );
              setMode('flip');
            }}
          >
            A/B flip{mode === 'flip' ? ` · ${shownIndex + 1} of ${variants.length}` : ''}
          </button>
          <button className="bar-button" data-testid="compare-fit" title="Fit (double-click)" onClick={fit}>
            <Icon name="fit" />
          </button>
          {mode === 'flip' && (
            <button
              className="button primary"
              data-testid="compare-pick"
              disabled={shown === message.pickedVariantId}
              onClick={() => void pickVariant(message.id, shown)}
            >
              Use variant {shownIndex + 1}
            </button>
          )}
          <button className="icon-button" title="Close (Esc)" data-testid="compare-close" onClick={close}>
            <Icon name="x" />
          </button>
        </div>
      </header>
      <div
        className={`compare-panes count-${visible.length}`}
        onWheel={onWheel}
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={onPointerUp}
        onDoubleClick={fit}
      >
        {visible.map((variant, index) => (
          <VariantPane
            key={variant.id}
            layerId={layerId}
            variant={variant}
            index={mode === 'side' ? index : shownIndex}
            picked={variant.id === message.pickedVariantId}
            view={view}
            onPane={
              index === 0
                ? (element) => {
                    pane.current = element;
                  }
                : undefined
            }
          />
        ))}
      </div>
    </div>
  );
}
