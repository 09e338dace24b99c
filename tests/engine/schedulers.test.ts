import { describe, expect, it } from 'vitest';
import { SeededRandom, type NoiseSource } from '../../src/main/engine/rng';
import { DEFAULT_SCHEDULER_CONFIG, parseSchedulerConfig } from '../../src/main/engine/schedulers/config';
import { createScheduler } from '../../src/main/engine/schedulers/index';
import {
  alphasCumprod,
  karrasSigmas,
  sigmaAt,
  timestepForSigma,
  trainingSigmas,
} from '../../src/main/engine/schedulers/noise-schedule';
import type { SchedulerConfig } from '../../src/main/engine/schedulers/scheduler';

/** The scheduler_config.json of timbrooks/instruct-pix2pix (Stable Diffusion 1.5 values). */
const SD15 = parseSchedulerConfig({
  _class_name: 'EulerAncestralDiscreteScheduler',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  clip_sample: false,
  num_train_timesteps: 1000,
  prediction_type: 'epsilon',
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
});

const noNoise: NoiseSource = {
  normal: () => {
    throw new Error('this scheduler must not draw noise');
  },
  uniform: () => 0,
};

describe('scheduler config', () => {
  it('reads diffusers keys and fills SD 1.5 defaults', () => {
    expect(SD15).toEqual(DEFAULT_SCHEDULER_CONFIG);
    expect(parseSchedulerConfig({ timestep_spacing: 'trailing', use_karras_sigmas: true })).toMatchObject({
      timestepSpacing: 'trailing',
      useKarrasSigmas: true,
    });
  });

  it('names every bad value', () => {
    expect(() => parseSchedulerConfig({ beta_schedule: 'cosine', steps_offset: -1 })).toThrow(
      /beta_schedule must be one of linear, scaled_linear, squaredcos_cap_v2, got "cosine"; steps_offset must be a whole number ≥ 0, got -1/,
    );
    expect(() => parseSchedulerConfig([])).toThrow(/must hold a JSON object/);
    expect(() => parseSchedulerConfig({ trained_betas: [0.1] })).toThrow(/trained_betas/);
  });
});

describe('noise schedule', () => {
  it('matches the SD 1.5 alphas_cumprod', () => {
    const cumprod = alphasCumprod(SD15);
    expect(cumprod[0]).toBeCloseTo(0.99915, 5);
    expect(cumprod[999]).toBeCloseTo(1 / (1 + 14.61466 ** 2), 6);
    const sigmas = trainingSigmas(cumprod);
    expect(sigmas[0]).toBeCloseTo(0.029168, 5);
    expect(sigmas[999]).toBeCloseTo(14.61466, 4);
  });

  it('sigmaAt and timestepForSigma invert each other', () => {
    const sigmas = trainingSigmas(alphasCumprod(SD15));
    for (const t of [0, 17.25, 500, 998.5])
      expect(timestepForSigma(sigmas, sigmaAt(sigmas, t))).toBeCloseTo(t, 1);
  });

  it('karras sigmas run from max to min with rho 7', () => {
    const sigmas = karrasSigmas(14.6, 0.03, 5);
    expect(sigmas[0]).toBeCloseTo(14.6, 10);
    expect(sigmas[4]).toBeCloseTo(0.03, 10);
    const middle = ((14.6 ** (1 / 7) + 0.03 ** (1 / 7)) / 2) ** 7;
    expect(sigmas[2]).toBeCloseTo(middle, 10);
  });
});

describe('Euler goldens (SD 1.5 config, 20 steps, linspace)', () => {
  for (const name of ['euler', 'euler-ancestral'] as const) {
    it(`${name}: sigmas, timesteps and init noise sigma`, () => {
      const scheduler = createScheduler(name, SD15, 20) as unknown as { sigmas: Float64Array } & ReturnType<
        typeof createScheduler
      >;
      const sigmas = Array.from(scheduler.sigmas);
      expect(sigmas).toHaveLength(21);
      expect(sigmas[0]).toBeCloseTo(14.61466, 4);
      expect(sigmas[1]).toBeCloseTo(10.74686, 4);
      expect(sigmas[2]).toBeCloseTo(8.08154, 4);
      expect(sigmas[18]).toBeCloseTo(0.23217, 4);
      expect(sigmas[19]).toBeCloseTo(0.02917, 4);
      expect(sigmas[20]).toBe(0);
      expect(scheduler.timesteps[0]).toBe(999);
      expect(scheduler.timesteps[1]).toBeCloseTo(946.421, 3);
      expect(scheduler.timesteps[2]).toBeCloseTo(893.842, 3);
      expect(scheduler.timesteps[19]).toBe(0);
      expect(scheduler.initNoiseSigma).toBeCloseTo(14.61466, 4);
    });
  }

  it('scales the model input by 1/sqrt(sigma²+1)', () => {
    const scheduler = createScheduler('euler', SD15, 20);
    const scaled = scheduler.scaleModelInput(new Float32Array([2, -4]), 0);
    const factor = 1 / Math.sqrt(14.614655 ** 2 + 1);
    expect(scaled[0]).toBeCloseTo(2 * factor, 5);
    expect(scaled[1]).toBeCloseTo(-4 * factor, 5);
  });

  it('leading spacing offsets timesteps and uses sqrt(sigma_max²+1)', () => {
    const scheduler = createScheduler('euler', { ...SD15, timestepSpacing: 'leading' }, 10);
    expect(Array.from(scheduler.timesteps)).toEqual([901, 801, 701, 601, 501, 401, 301, 201, 101, 1]);
    const sigmaMax = (scheduler as unknown as { sigmas: Float64Array }).sigmas[0]!;
    expect(scheduler.initNoiseSigma).toBeCloseTo(Math.sqrt(sigmaMax ** 2 + 1), 10);
  });

  it('trailing spacing starts at the last training timestep', () => {
    const scheduler = createScheduler('euler', { ...SD15, timestepSpacing: 'trailing' }, 4);
    expect(Array.from(scheduler.timesteps)).toEqual([999, 749, 499, 249]);
  });
});

describe('steps', () => {
  it('euler: an exact epsilon lands on the clean sample', () => {
    // x = x0 + sigma·eps; with the true eps every Euler step keeps x0 fixed, and the last lands on it.
    const scheduler = createScheduler('euler', SD15, 5);
    const x0 = new Float32Array([0.5, -0.25, 1]);
    const eps = new Float32Array([1, -2, 0.5]);
    let x: Float32Array = x0.map((v, i) => v + scheduler.initNoiseSigma * eps[i]!);
    for (let step = 0; step < 5; step++) x = scheduler.step(eps, step, x, noNoise);
    for (let i = 0; i < 3; i++) expect(x[i]).toBeCloseTo(x0[i]!, 4);
  });

  it('euler ancestral: the noise it adds has size sigma_up and the last step draws none', () => {
    const scheduler = createScheduler('euler-ancestral', SD15, 3) as unknown as {
      sigmas: Float64Array;
    } & ReturnType<typeof createScheduler>;
    const sample = new Float32Array([1, 1]);
    const zero = new Float32Array(2);
    let drawn = 0;
    const constantNoise: NoiseSource = {
      normal: (count) => {
        drawn++;
        return new Float32Array(count).fill(1);
      },
      uniform: () => 0,
    };
    const [from, to] = [scheduler.sigmas[0]!, scheduler.sigmas[1]!];
    const up = Math.sqrt((to ** 2 * (from ** 2 - to ** 2)) / from ** 2);
    const down = Math.sqrt(to ** 2 - up ** 2);
    const out = scheduler.step(zero, 0, sample, constantNoise);
    // With eps = 0 the denoised estimate is the sample itself: derivative 0, so out = x + sigma_up.
    expect(out[0]).toBeCloseTo(1 + up, 5);
    expect(down).toBeLessThan(to);
    expect(drawn).toBe(1);
    scheduler.step(zero, 2, sample, constantNoise);
    expect(drawn).toBe(1);
  });

  for (const name of ['ddim', 'dpmpp-2m'] as const) {
    it(`${name}: an exact epsilon recovers the clean sample in variance-preserving space`, () => {
      const scheduler = createScheduler(name, SD15, 6);
      expect(scheduler.initNoiseSigma).toBe(1);
      const cumprod = alphasCumprod(SD15);
      const x0 = new Float32Array([0.5, -0.25, 1]);
      const eps = new Float32Array([1, -2, 0.5]);
      const a = cumprod[scheduler.timesteps[0]!]!;
      let x: Float32Array = x0.map((v, i) => Math.sqrt(a) * v + Math.sqrt(1 - a) * eps[i]!);
      for (let step = 0; step < 6; step++) {
        expect(scheduler.scaleModelInput(x, step)).toBe(x);
        x = scheduler.step(eps, step, x, noNoise);
      }
      // DDIM ends at alpha = cumprod[0] (set_alpha_to_one false); DPM-Solver++ at sigma 0.
      const scale = name === 'ddim' ? Math.sqrt(cumprod[0]!) : 1;
      const tail = name === 'ddim' ? Math.sqrt(1 - cumprod[0]!) : 0;
      for (let i = 0; i < 3; i++) expect(x[i]).toBeCloseTo(scale * x0[i]! + tail * eps[i]!, 3);
    });
  }

  it('ddim: integer timesteps; dpm-solver++: drops the t=0 point', () => {
    expect(Array.from(createScheduler('ddim', SD15, 4).timesteps)).toEqual([999, 666, 333, 0]);
    expect(Array.from(createScheduler('dpmpp-2m', SD15, 4).timesteps)).toEqual([999, 749, 500, 250]);
  });

  it('dpm-solver++ 2M differs from the first-order solver once it has history', () => {
    const run = (config: SchedulerConfig) => {
      const scheduler = createScheduler('dpmpp-2m', config, 8);
      const random = new SeededRandom(3);
      let x = random.normal(16);
      for (let step = 0; step < 8; step++) {
        // A prediction that depends on x so that the multistep correction matters.
        const eps = x.map((v) => Math.tanh(v) * 0.9);
        x = scheduler.step(eps, step, x, noNoise);
      }
      return x;
    };
    const plain = run(SD15);
    const karras = run({ ...SD15, useKarrasSigmas: true });
    expect(plain.every(Number.isFinite)).toBe(true);
    expect(karras.every(Number.isFinite)).toBe(true);
    expect(Math.max(...plain.map((v, i) => Math.abs(v - karras[i]!)))).toBeGreaterThan(1e-4);
  });

  it('v-prediction: euler recovers x0 from the true velocity', () => {
    const config = { ...SD15, predictionType: 'v_prediction' as const };
    const scheduler = createScheduler('euler', config, 4) as unknown as { sigmas: Float64Array } & ReturnType<
      typeof createScheduler
    >;
    const sigma = scheduler.sigmas[0]!;
    const x0 = 0.3;
    const eps = -1.2;
    const x = x0 + sigma * eps;
    // v = alpha_t·eps − sigma_t·x0 in VP terms, with alpha_t = 1/sqrt(σ²+1), sigma_t = σ·alpha_t.
    const alphaT = 1 / Math.sqrt(sigma ** 2 + 1);
    const v = alphaT * eps - sigma * alphaT * x0;
    const out = scheduler.step(new Float32Array([v]), 0, new Float32Array([x]), noNoise);
    const next = scheduler.sigmas[1]!;
    expect(out[0]).toBeCloseTo(x0 + next * eps, 3);
  });

  it('rejects a step index outside the schedule', () => {
    const scheduler = createScheduler('euler', SD15, 3);
    expect(() => scheduler.step(new Float32Array(1), 3, new Float32Array(1), noNoise)).toThrow(
      /outside 0..2/,
    );
    expect(() => createScheduler('euler', SD15, 0)).toThrow(/Steps must be/);
  });
});
