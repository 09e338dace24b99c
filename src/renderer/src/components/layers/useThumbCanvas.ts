import { useEffect, useRef } from 'react';

/**
 * Draws `image` centred and scaled to fit a `size`-pixel square canvas (at twice the resolution, for
 * HiDPI screens), over `background` or over nothing (so the thumb's CSS checkerboard shows through).
 */
export function useThumbCanvas(image: HTMLImageElement | null, size: number, background: string | null) {
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
    if (background) {
      context.fillStyle = background;
      context.fillRect(0, 0, canvas.width, canvas.height);
    }
    context.imageSmoothingQuality = 'high';
    context.drawImage(image, size - width, size - height, width * 2, height * 2);
  }, [image, size, background]);
  return ref;
}
