/**
 * InstructPix2Pix classifier-free guidance over two conditions. The UNet batch is ordered
 * [instruction + image, "" + image, "" + zero latents]; with image guidance 1 the last row
 * cancels exactly, so only the first two are run.
 */

export function guidanceRows(imageGuidance: number): 2 | 3 {
  return imageGuidance === 1 ? 2 : 3;
}

/**
 * `prediction` holds `rows` consecutive blocks of `size` values.
 * e = e_u + s_T·(e_ti − e_i) + s_I·(e_i − e_u); for two rows e = e_i + s_T·(e_ti − e_i).
 */
export function combineGuidance(
  prediction: Float32Array,
  rows: 2 | 3,
  size: number,
  textGuidance: number,
  imageGuidance: number,
): Float32Array {
  if (prediction.length < rows * size) {
    throw new Error(`UNet returned ${prediction.length} values, expected ${rows * size}`);
  }
  const guided = new Float32Array(size);
  if (rows === 2) {
    for (let i = 0; i < size; i++) {
      const withText = prediction[i]!;
      const imageOnly = prediction[size + i]!;
      guided[i] = imageOnly + textGuidance * (withText - imageOnly);
    }
    return guided;
  }
  for (let i = 0; i < size; i++) {
    const withText = prediction[i]!;
    const imageOnly = prediction[size + i]!;
    const unconditional = prediction[2 * size + i]!;
    guided[i] =
      unconditional + textGuidance * (withText - imageOnly) + imageGuidance * (imageOnly - unconditional);
  }
  return guided;
}
