import { useLayerImage } from '../../hooks/images';
import { useThumbCanvas } from './useThumbCanvas';

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
  const ref = useThumbCanvas(image, size, null);
  return <canvas ref={ref} className="thumb" style={{ width: size, height: size }} />;
}
