import { useLayerImage } from '../../hooks/images';
import { useThumbCanvas } from './useThumbCanvas';

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
  const ref = useThumbCanvas(image, size, '#000');
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
