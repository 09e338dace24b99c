import { describe, expect, it } from 'vitest';
import {
  float16BitsToFloat32,
  float32ToFloat16Bits,
  fromFloat16,
  toFloat16Bits,
} from '../../src/main/engine/float16';

describe('float16 bits', () => {
  it('encodes known values exactly', () => {
    expect(float32ToFloat16Bits(0)).toBe(0x0000);
    expect(float32ToFloat16Bits(-0)).toBe(0x8000);
    expect(float32ToFloat16Bits(1)).toBe(0x3c00);
    expect(float32ToFloat16Bits(-2)).toBe(0xc000);
    expect(float32ToFloat16Bits(65504)).toBe(0x7bff);
    expect(float32ToFloat16Bits(1e6)).toBe(0x7c00);
    expect(float32ToFloat16Bits(2 ** -24)).toBe(0x0001);
    expect(float32ToFloat16Bits(0.1)).toBe(0x2e66);
    expect(float32ToFloat16Bits(NaN) & 0x7c00).toBe(0x7c00);
  });

  it('round-trips every finite half value', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const exponent = (bits >>> 10) & 0x1f;
      if (exponent === 0x1f) continue;
      expect(float32ToFloat16Bits(float16BitsToFloat32(bits))).toBe(bits === 0x8000 ? 0x8000 : bits);
    }
  });

  it('rounds to nearest even and converts arrays both ways', () => {
    // 1 + 2^-11 is exactly halfway between 1 and the next half: ties go to even (1).
    expect(float32ToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00);
    expect(float32ToFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    const values = new Float32Array([0.5, -1.25, 3.140625, 100]);
    expect(Array.from(fromFloat16(toFloat16Bits(values)))).toEqual([0.5, -1.25, 3.140625, 100]);
    expect(Array.from(fromFloat16([1, 2]))).toEqual([1, 2]);
  });
});
