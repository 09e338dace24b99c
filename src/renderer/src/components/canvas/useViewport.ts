/** Zoom and pan of the canvas: wheel zoom around the pointer, fit, 100 %, and commands from menus. */
import { useCallback, useEffect, useRef, useState } from 'react';
import { setState } from '../../state/store';
import { viewCommands } from '../../state/view-commands';

export interface Viewport {
  scale: number;
  x: number;
  y: number;
}

const MIN_SCALE = 0.02;
const MAX_SCALE = 32;
const clamp = (value: number) => Math.min(MAX_SCALE, Math.max(MIN_SCALE, value));

export function useViewport(
  size: { width: number; height: number },
  content: { width: number; height: number } | null,
) {
  const [view, setView] = useState<Viewport>({ scale: 1, x: 0, y: 0 });
  const contentKey = content ? `${content.width}x${content.height}` : '';
  const contentKeyRef = useRef(contentKey);
  contentKeyRef.current = contentKey;
  /** The picture size the view was last set for: until a new picture is fitted, the view is the old one's. */
  const [viewFor, setViewFor] = useState('');
  /** In "fit" mode (after fitting, until the user zooms or pans) the picture re-fits on resizes. */
  const fitted = useRef(false);

  const apply = useCallback((next: Viewport) => {
    fitted.current = false;
    setView(next);
    setViewFor(contentKeyRef.current);
    setState({ zoom: next.scale });
  }, []);

  const centered = useCallback(
    (scale: number): Viewport => {
      if (!content) return { scale, x: 0, y: 0 };
      return {
        scale,
        x: (size.width - content.width * scale) / 2,
        y: (size.height - content.height * scale) / 2,
      };
    },
    [content, size.width, size.height],
  );

  const fit = useCallback(() => {
    if (!content || size.width === 0) return;
    const scale = clamp(Math.min((size.width - 48) / content.width, (size.height - 48) / content.height));
    apply(centered(scale));
    fitted.current = true;
  }, [apply, centered, content, size.width, size.height]);

  const zoomAt = useCallback(
    (factor: number, anchor?: { x: number; y: number }) => {
      fitted.current = false;
      setView((current) => {
        const point = anchor ?? { x: size.width / 2, y: size.height / 2 };
        const scale = clamp(current.scale * factor);
        const worldX = (point.x - current.x) / current.scale;
        const worldY = (point.y - current.y) / current.scale;
        const next = { scale, x: point.x - worldX * scale, y: point.y - worldY * scale };
        setState({ zoom: scale });
        return next;
      });
    },
    [size.width, size.height],
  );

  useEffect(
    () =>
      viewCommands.on((command) => {
        if (command === 'zoomFit') fit();
        else if (command === 'zoom100') apply(centered(1));
        else zoomAt(command === 'zoomIn' ? 1.25 : 0.8);
      }),
    [apply, centered, fit, zoomAt],
  );

  // Fit when a new picture (size) arrives or the window first gets a size.
  const fitRef = useRef(fit);
  fitRef.current = fit;
  const hasSize = size.width > 0;
  useEffect(() => {
    if (contentKey && hasSize) fitRef.current();
  }, [contentKey, hasSize]);
  useEffect(() => {
    if (fitted.current) fitRef.current();
  }, [size.width, size.height]);

  return { view, setView: apply, zoomAt, fit, settled: viewFor === contentKey && contentKey !== '' };
}
