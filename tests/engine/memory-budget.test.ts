import { describe, expect, it } from 'vitest';
import { buildSessionOptions } from '../../src/main/engine/backend';
import {
  editPeakBytes,
  largestFittingSize,
  parseMemoryBudget,
  planMemory,
  resolveMemoryBudget,
  unetCallBytes,
  vaeBytes,
  type ModelDimensions,
} from '../../src/main/engine/memory-budget';

const GB = 1024 ** 3;
const MB = 1024 ** 2;

/** Stable Diffusion 1.5 as exported in fp32: 3.4 GB UNet, 0.5 GB text encoder, 0.2 GB VAE halves. */
const sd15: ModelDimensions = {
  unetWidths: [320, 640, 1280, 1280],
  unetHeads: 8,
  vaeWidths: [128, 256, 512, 512],
  weightBytes: { textEncoder: 0.49 * GB, unet: 3.44 * GB, vaeEncoder: 0.14 * GB, vaeDecoder: 0.2 * GB },
  weightFactor: 1,
  fusedAttention: false,
};

describe('memory budget setting', () => {
  it('parses sizes with units, byte counts and auto', () => {
    expect(parseMemoryBudget('6GB')).toBe(6 * GB);
    expect(parseMemoryBudget('6 GiB')).toBe(6 * GB);
    expect(parseMemoryBudget('1.5g')).toBe(1.5 * GB);
    expect(parseMemoryBudget('512MB')).toBe(512 * MB);
    expect(parseMemoryBudget(String(3 * GB))).toBe(3 * GB);
    expect(parseMemoryBudget('AUTO')).toBe('auto');
    expect(() => parseMemoryBudget('lots')).toThrow(/looks like 6GB, 512MB/);
    expect(() => parseMemoryBudget('100MB')).toThrow(/below 256 MB/);
  });

  it('auto is free memory plus what this process holds, at most 85 % of the machine', () => {
    expect(resolveMemoryBudget('auto', { free: 4 * GB, total: 16 * GB, rss: 2 * GB })).toBe(6 * GB);
    expect(resolveMemoryBudget('auto', { free: 15 * GB, total: 16 * GB, rss: 1 * GB })).toBe(0.85 * 16 * GB);
    expect(resolveMemoryBudget(5 * GB, { free: 1, total: 2, rss: 0 })).toBe(5 * GB);
    // macOS reports its cache as used: at least 60 % of the machine there, not elsewhere.
    const tight = { free: 1 * GB, total: 16 * GB, rss: 1 * GB };
    expect(resolveMemoryBudget('auto', { ...tight, platform: 'darwin' })).toBeCloseTo(0.6 * 16 * GB, -3);
    expect(resolveMemoryBudget('auto', { ...tight, platform: 'linux' })).toBe(2 * GB);
  });
});

describe('memory estimate', () => {
  it('counts two [batch, heads, tokens, tokens] fp32 attention tensors plus the convolutions', () => {
    // 512²: 64×64 latent = 4096 tokens; batch 3 × 8 heads.
    const attention = 2 * 3 * 8 * 4096 * 4096 * 4;
    const convolutions = 24 * 3 * 320 * 4096 * 4;
    expect(unetCallBytes(sd15, 64, 64, 3)).toBe(attention + convolutions);
    expect(unetCallBytes(sd15, 64, 64, 1)).toBe((attention + convolutions) / 3);
    // Fused attention (an optimised folder) keeps 0.15 of one scores tensor instead of two.
    const fused = { ...sd15, fusedAttention: true };
    expect(unetCallBytes(fused, 64, 64, 3)).toBeCloseTo((0.15 / 2) * attention + convolutions, -3);
    // The largest VAE tensor at 512²: 128 channels at full size; its mid attention at 64×64.
    expect(vaeBytes(sd15, 512, 512)).toBe(8 * 128 * 512 * 512 * 4 + 2 * 4096 * 4096 * 4);
    // Its attention fused too (folders optimised since the optimiser fuses the VAE's).
    expect(vaeBytes({ ...fused, fusedVaeAttention: true }, 512, 512)).toBeCloseTo(
      8 * 128 * 512 * 512 * 4 + 0.15 * 4096 * 4096 * 4,
      -3,
    );
  });

  it('an SD 1.5 edit at 512² needs about 9 GB batched and about 6.8 GB with rows in sequence', () => {
    const batched = editPeakBytes(sd15, 512, 512, 3, 'resident');
    const sequence = editPeakBytes(sd15, 512, 512, 1, 'resident');
    expect(batched / GB).toBeCloseTo(9.0, 2);
    expect(sequence / GB).toBeCloseTo(6.76, 2);
    // weights + runtime + the UNet call's activations (kept by the arena) + the VAE pass
    expect(sequence).toBeCloseTo(
      4.27 * GB + 0.25 * GB + unetCallBytes(sd15, 64, 64, 1) + vaeBytes(sd15, 512, 512),
      -3,
    );
    expect(editPeakBytes(sd15, 512, 512, 1, 'on-demand')).toBeLessThan(sequence);
  });

  it('plans batched rows when they fit, then on-demand VAE sessions, then rows in sequence', () => {
    const request = { width: 512, height: 512, rows: 3 };
    expect(planMemory(sd15, { ...request, budget: 16 * GB })).toMatchObject({
      unetBatch: 3,
      vaeSessions: 'resident',
    });
    const onDemandBatched = editPeakBytes(sd15, 512, 512, 3, 'on-demand');
    expect(planMemory(sd15, { ...request, budget: onDemandBatched })).toMatchObject({
      unetBatch: 3,
      vaeSessions: 'on-demand',
    });
    expect(planMemory(sd15, { ...request, budget: 7 * GB })).toMatchObject({
      unetBatch: 1,
      vaeSessions: 'resident',
    });
    expect(planMemory(sd15, { ...request, budget: 3 * GB })).toBeUndefined();
    // An explicit batch is kept; with both modes explicit the plan is returned even over budget.
    expect(planMemory(sd15, { ...request, budget: 16 * GB, unetBatch: 'row-by-row' })?.unetBatch).toBe(1);
    expect(
      planMemory(sd15, { ...request, budget: 1 * GB, unetBatch: 'all-rows', vaeSessions: 'resident' })
        ?.unetBatch,
    ).toBe(3);
  });

  it('names the largest size that fits, keeping the aspect ratio', () => {
    const budget = 6 * GB;
    const fits = largestFittingSize(sd15, 1024, 768, 3, budget)!;
    expect(fits.width / 64).toBe(Math.floor(fits.width / 64));
    expect(fits.width).toBeGreaterThan(fits.height);
    expect(planMemory(sd15, { width: fits.width, height: fits.height, rows: 3, budget })).toBeDefined();
    const next = { width: fits.width + 64, height: Math.floor(((fits.width + 64) * 768) / 1024 / 64) * 64 };
    expect(planMemory(sd15, { ...next, rows: 3, budget })).toBeUndefined();
    expect(largestFittingSize(sd15, 512, 512, 3, 1 * GB)).toBeUndefined();
  });
});

describe('session options', () => {
  it('turn the memory pattern off and pass the thread count', () => {
    expect(buildSessionOptions('cpu', { intraOpNumThreads: 3 })).toMatchObject({
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      enableMemPattern: false,
      intraOpNumThreads: 3,
    });
    expect(buildSessionOptions('cpu', {})).not.toHaveProperty('intraOpNumThreads');
  });
});
