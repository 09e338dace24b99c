import type { NoiseSource } from '../rng';
import { checkStepIndex, linspace, sigmaSchedule } from './noise-schedule';
import type { Scheduler, SchedulerConfig } from './scheduler';

/**
 * DPM-Solver++ 2M (Lu et al. 2022), as diffusers' DPMSolverMultistepScheduler with
 * algorithm_type "dpmsolver++", solver_order 2, midpoint update, final sigma 0. Samples live in
 * the variance-preserving space: x_t = α_t·x₀ + σ_t·ε with α_t = 1/sqrt(σ² + 1), σ_t = σ·α_t.
 * The first and the last step are first order (DPM-Solver++ 1 = DDIM).
 */
export class DpmSolverPlusPlus2MScheduler implements Scheduler {
  readonly name = 'dpmpp-2m' as const;
  readonly timesteps: Float64Array;
  readonly sigmas: Float64Array;
  readonly initNoiseSigma = 1;
  private previousDenoised: Float32Array | undefined;

  constructor(
    private readonly config: SchedulerConfig,
    readonly stepCount: number,
  ) {
    const schedule = sigmaSchedule(config, stepCount, dpmTimesteps(config, stepCount));
    this.sigmas = schedule.sigmas;
    this.timesteps = config.useKarrasSigmas ? schedule.timesteps.map(Math.round) : schedule.timesteps;
  }

  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array {
    checkStepIndex(stepIndex, this.stepCount);
    return sample;
  }

  step(
    modelOutput: Float32Array,
    stepIndex: number,
    sample: Float32Array,
    _noise: NoiseSource,
  ): Float32Array {
    checkStepIndex(stepIndex, this.stepCount);
    const current = vp(this.sigmas[stepIndex]!);
    const next = vp(this.sigmas[stepIndex + 1]!);
    const denoised = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      denoised[i] =
        this.config.predictionType === 'epsilon'
          ? (sample[i]! - current.sigma * modelOutput[i]!) / current.alpha
          : current.alpha * sample[i]! - current.sigma * modelOutput[i]!;
    }

    const h = next.lambda - current.lambda;
    const expMinusH = Math.exp(-h); // 0 when the next sigma is 0 (λ = +∞)
    const sampleScale = next.sigma / current.sigma;
    const denoisedScale = -next.alpha * (expMinusH - 1);
    const firstOrder =
      stepIndex === 0 || stepIndex === this.stepCount - 1 || this.previousDenoised === undefined;
    const out = new Float32Array(sample.length);
    if (firstOrder) {
      for (let i = 0; i < sample.length; i++)
        out[i] = sampleScale * sample[i]! + denoisedScale * denoised[i]!;
    } else {
      const previous = vp(this.sigmas[stepIndex - 1]!);
      const r = (current.lambda - previous.lambda) / h;
      const older = this.previousDenoised!;
      for (let i = 0; i < sample.length; i++) {
        const difference = (denoised[i]! - older[i]!) / r;
        out[i] = sampleScale * sample[i]! + denoisedScale * denoised[i]! + 0.5 * denoisedScale * difference;
      }
    }
    this.previousDenoised = denoised;
    return out;
  }
}

function vp(sigma: number): { alpha: number; sigma: number; lambda: number } {
  const alpha = 1 / Math.sqrt(sigma * sigma + 1);
  const sigmaT = sigma * alpha;
  return { alpha, sigma: sigmaT, lambda: Math.log(alpha) - Math.log(sigmaT) };
}

/** DPMSolverMultistepScheduler picks steps+1 points and drops the last (t = 0) one. */
function dpmTimesteps(config: SchedulerConfig, steps: number): Float64Array {
  const total = config.numTrainTimesteps;
  const out = new Float64Array(steps);
  switch (config.timestepSpacing) {
    case 'linspace': {
      const values = linspace(0, total - 1, steps + 1);
      for (let i = 0; i < steps; i++) out[i] = Math.round(values[steps - i]!);
      break;
    }
    case 'leading': {
      const ratio = Math.floor(total / (steps + 1));
      for (let i = 0; i < steps; i++) out[i] = (steps - i) * ratio + config.stepsOffset;
      break;
    }
    case 'trailing': {
      const ratio = total / steps;
      for (let i = 0; i < steps; i++) out[i] = Math.round(total - i * ratio) - 1;
      break;
    }
  }
  return out;
}
