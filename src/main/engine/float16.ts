/** IEEE 754 half precision as Uint16 bits: Node 20 has no Float16Array. */

const floatView = new Float32Array(1);
const intView = new Uint32Array(floatView.buffer);

export function float32ToFloat16Bits(value: number): number {
  floatView[0] = value;
  const x = intView[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) {
    // Inf or NaN (keep NaN quiet).
    return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  }
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    if (halfExponent < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - halfExponent;
    let half = mantissa >>> shift;
    const remainder = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (remainder > halfway || (remainder === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (halfExponent << 10) | (mantissa >>> 13);
  const remainder = mantissa & 0x1fff;
  if (remainder > 0x1000 || (remainder === 0x1000 && half & 1)) half++;
  return sign | half;
}

export function float16BitsToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** Converts into `out` when given (reused between UNet steps), else into a new array. */
export function toFloat16Bits(
  values: Float32Array,
  out: Uint16Array<ArrayBuffer> = new Uint16Array(values.length),
): Uint16Array<ArrayBuffer> {
  if (out.length !== values.length)
    throw new Error(`float16 buffer holds ${out.length}, need ${values.length}`);
  for (let i = 0; i < values.length; i++) out[i] = float32ToFloat16Bits(values[i]!);
  return out;
}

/** Accepts Uint16Array bits (Node 20) or a native Float16Array (newer V8, e.g. Electron). */
export function fromFloat16(values: ArrayLike<number>): Float32Array {
  if (values instanceof Uint16Array) {
    const out = new Float32Array(values.length);
    for (let i = 0; i < values.length; i++) out[i] = float16BitsToFloat32(values[i]!);
    return out;
  }
  return Float32Array.from(values);
}
