import { useEffect, useRef } from 'react';
import { useLayerImage } from '../../hooks/images';

/** A thumbnail from the main side, drawn into a small canvas (checkerboard behind transparency). */
export function LayerThumb({
  layerId,
  revision,
  variantId,
  size = 44,
}: {
  layerId: string;
  revision: number;
  variantId?: string;
  size?: number;
}) {
  const image = useLayerImage(layerId, 'thumbnail', revision, variantId);
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const canvas = ref.current;
    const context = canvas?.getContext('2d');
    if (!canvas || !context || !image) return;
    const scale = Math.min(size / image.naturalWidth, size / image.naturalHeight);
    const width = Math.max(1, Math.round(image.naturalWidth * scale));
    const height = Math.max(1, Math.round(image.naturalHeight * scale));
    canvas.width = size * 2;
    canvas.height = size * 2;
    context.clearRect(0, 0, canvas.width, canvas.height);
    context.imageSmoothingQuality = 'high';
    context.drawImage(image, size - width, size - height, width * 2, height * 2);
  }, [image, size]);
  return <canvas ref={ref} className="thumb" style={{ width: size, height: size }} />;
}
