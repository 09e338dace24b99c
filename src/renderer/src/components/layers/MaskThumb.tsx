import { useEffect, useRef } from 'react';
import { useLayerImage } from '../../hooks/images';

/** The layer's mask, small, beside its thumbnail: white where the edit shows, black where hidden. */
export function MaskThumb({
  layerId,
  revision,
  size = 44,
}: {
  layerId: string;
  revision: number;
  size?: number;
}) {
  const image = useLayerImage(layerId, 'mask', revision);
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
    context.fillStyle = '#000';
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.imageSmoothingQuality = 'high';
    context.drawImage(image, size - width, size - height, width * 2, height * 2);
  }, [image, size]);
  return (
    <canvas
      ref={ref}
      className="thumb mask-thumb"
      data-testid="mask-thumb"
      title="Mask: white shows the edit, black hides it"
      style={{ width: size, height: size }}
    />
  );
}
