import type { RgbImage } from '../../shared/engine-types';

/**
 * A linear latent → RGB map for Stable Diffusion 1.x latents (scaled by 0.18215), fitted by the
 * community on decoded images. Good enough to show progress without a VAE decoder pass.
 * Rows: latent channel; columns: R, G, B.
 */
const LATENT_RGB_FACTORS: readonly (readonly [number, number, number])[] = [
  [0.298, 0.207, 0.208],
  [0.187, 0.286, 0.173],
  [-0.158, 0.189, 0.264],
  [-0.184, -0.271, -0.473],
];

export function latentPreview(latents: Float32Array, latentWidth: number, latentHeight: number): RgbImage {
  const plane = latentWidth * latentHeight;
  const data = new Uint8Array(plane * 3);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      let value = 0;
      for (let k = 0; k < 4; k++) value += latents[k * plane + p]! * LATENT_RGB_FACTORS[k]![c]!;
      const byte = Math.round((value + 1) * 127.5);
      data[p * 3 + c] = byte < 0 ? 0 : byte > 255 ? 255 : byte;
    }
  }
  return { width: latentWidth, height: latentHeight, data };
}
