import type { NoiseSource } from '../rng';
import {
  checkStepIndex,
  denoisedFromOutput,
  scaleBySigma,
  sigmaSchedule,
  spacedTimesteps,
} from './noise-schedule';
import type { Scheduler, SchedulerConfig } from './scheduler';

/**
 * What the k-diffusion samplers over σ share: the σ schedule (with a final 0), the timesteps the
 * model sees, the initial noise scale and the 1/sqrt(σ² + 1) input scaling.
 */
export abstract class SigmaScheduler implements Scheduler {
  abstract readonly name: Scheduler['name'];
  readonly timesteps: Float64Array;
  readonly sigmas: Float64Array;
  readonly initNoiseSigma: number;

  constructor(
    protected readonly config: SchedulerConfig,
    readonly stepCount: number,
  ) {
    const schedule = sigmaSchedule(config, stepCount, spacedTimesteps(config, stepCount, false));
    this.sigmas = schedule.sigmas;
    this.timesteps = schedule.timesteps;
    this.initNoiseSigma = initNoiseSigma(config, this.sigmas[0]!);
  }

  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array {
    checkStepIndex(stepIndex, this.stepCount);
    return scaleBySigma(sample, this.sigmas[stepIndex]!);
  }

  abstract step(
    modelOutput: Float32Array,
    stepIndex: number,
    sample: Float32Array,
    noise: NoiseSource,
  ): Float32Array;
}

/** Euler (Karras et al. 2022, Algorithm 2 without churn), as diffusers' EulerDiscreteScheduler. */
export class EulerScheduler extends SigmaScheduler {
  readonly name = 'euler' as const;

  step(
    modelOutput: Float32Array,
    stepIndex: number,
    sample: Float32Array,
    _noise: NoiseSource,
  ): Float32Array {
    checkStepIndex(stepIndex, this.stepCount);
    const sigma = this.sigmas[stepIndex]!;
    const dt = this.sigmas[stepIndex + 1]! - sigma;
    const denoised = denoisedFromOutput(this.config, modelOutput, sample, sigma);
    const out = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const derivative = (sample[i]! - denoised[i]!) / sigma;
      out[i] = sample[i]! + derivative * dt;
    }
    return out;
  }
}

/** diffusers: σ_max for linspace/trailing spacing, sqrt(σ_max² + 1) for leading. */
export function initNoiseSigma(config: SchedulerConfig, sigmaMax: number): number {
  return config.timestepSpacing === 'leading' ? Math.sqrt(sigmaMax * sigmaMax + 1) : sigmaMax;
}
