/**
 * A specified, platform-independent PRNG so a seed gives the same pixels everywhere.
 * PCG32 (XSH-RR, 64-bit state via BigInt-free 32-bit halves) would do; we use SplitMix32-seeded
 * xoshiro128** because it is fully specified on 32-bit integer math, then Box–Muller for normals.
 */

export interface NoiseSource {
  /** `count` independent standard normal samples. */
  normal(count: number): Float32Array;
  /** Uniform in [0, 1). */
  uniform(): number;
}

function splitMix32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export class SeededRandom implements NoiseSource {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new Error(`Seed must be an integer from 0 to 4294967295, got ${seed}`);
    }
    const init = splitMix32(seed);
    this.s0 = init();
    this.s1 = init();
    this.s2 = init();
    this.s3 = init();
  }

  /** xoshiro128** next 32-bit output. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  uniform(): number {
    // 53 bits would need two draws; 32 bits is plenty for Box–Muller and keeps the stream simple.
    return this.nextUint32() / 4294967296;
  }

  normal(count: number): Float32Array {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i += 2) {
      // 1 - u keeps the argument of log in (0, 1].
      const u1 = 1 - this.uniform();
      const u2 = this.uniform();
      const radius = Math.sqrt(-2 * Math.log(u1));
      const angle = 2 * Math.PI * u2;
      out[i] = radius * Math.cos(angle);
      if (i + 1 < count) out[i + 1] = radius * Math.sin(angle);
    }
    return out;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** A random 32-bit seed for users who did not pick one (the chosen seed is always recorded). */
export function randomSeed(): number {
  return Math.floor(Math.random() * 4294967296) >>> 0;
}
