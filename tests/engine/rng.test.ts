import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../src/main/engine/rng';

describe('SeededRandom', () => {
  it('produces the specified xoshiro128** stream (pinned, so a change of algorithm is caught)', () => {
    const random = new SeededRandom(42);
    expect([random.nextUint32(), random.nextUint32(), random.nextUint32()]).toEqual([
      2837322924, 544945897, 479756282,
    ]);
  });

  it('produces pinned Box–Muller normals for a seed', () => {
    const normals = Array.from(new SeededRandom(1234).normal(5));
    const expected = [
      -0.6593485474586487, -0.8698351383209229, -0.0779506117105484, 0.8700113892555237, -0.32643482089042664,
    ];
    normals.forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, 7));
  });

  it('is reproducible per seed and differs across seeds', () => {
    expect(new SeededRandom(5).normal(64)).toEqual(new SeededRandom(5).normal(64));
    expect(new SeededRandom(5).normal(64)).not.toEqual(new SeededRandom(6).normal(64));
  });

  it('draws standard normals (mean 0, variance 1) and odd counts', () => {
    for (const seed of [1, 99, 123456]) {
      const samples = new SeededRandom(seed).normal(100_001);
      expect(samples.length).toBe(100_001);
      let mean = 0;
      for (const x of samples) mean += x;
      mean /= samples.length;
      let variance = 0;
      for (const x of samples) variance += (x - mean) ** 2;
      variance /= samples.length;
      expect(Math.abs(mean)).toBeLessThan(0.015);
      expect(Math.abs(variance - 1)).toBeLessThan(0.02);
      expect(samples.every(Number.isFinite)).toBe(true);
    }
  });

  it('rejects seeds outside 32 bits', () => {
    expect(() => new SeededRandom(-1)).toThrow(/Seed must be an integer/);
    expect(() => new SeededRandom(2 ** 32)).toThrow(/Seed must be an integer/);
    expect(() => new SeededRandom(1.5)).toThrow(/Seed must be an integer/);
  });
});
