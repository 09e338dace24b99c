import type { NoiseSource } from '../rng';
import {
  checkStepIndex,
  denoisedFromOutput,
  scaleBySigma,
  sigmaSchedule,
  spacedTimesteps,
} from './noise-schedule';
import type { Scheduler, SchedulerConfig } from './scheduler';

/** Euler (Karras et al. 2022, Algorithm 2 without churn), as diffusers' EulerDiscreteScheduler. */
export class EulerScheduler implements Scheduler {
  readonly name = 'euler' as const;
  readonly timesteps: Float64Array;
  readonly sigmas: Float64Array;
  readonly initNoiseSigma: number;

  constructor(
    private readonly config: SchedulerConfig,
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
