import type { NoiseSource } from '../rng';
import { alphasCumprod, checkStepIndex, spacedTimesteps } from './noise-schedule';
import type { Scheduler, SchedulerConfig } from './scheduler';

/**
 * DDIM with η = 0 (deterministic), as diffusers' DDIMScheduler. Samples live in the
 * variance-preserving space, so the initial noise is unscaled and model inputs are not rescaled.
 * The previous timestep is the next one in the schedule (diffusers subtracts T/steps, which is the
 * same for "leading" spacing and drifts for the others).
 */
export class DdimScheduler implements Scheduler {
  readonly name = 'ddim' as const;
  readonly timesteps: Float64Array;
  readonly initNoiseSigma = 1;
  private readonly cumprod: Float64Array;
  private readonly finalAlphaCumprod: number;

  constructor(
    private readonly config: SchedulerConfig,
    readonly stepCount: number,
  ) {
    this.cumprod = alphasCumprod(config);
    this.finalAlphaCumprod = config.setAlphaToOne ? 1 : this.cumprod[0]!;
    this.timesteps = spacedTimesteps(config, stepCount, true);
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
    const t = this.timesteps[stepIndex]!;
    const alpha = this.cumprod[t]!;
    const previous = stepIndex + 1 < this.stepCount ? this.timesteps[stepIndex + 1]! : -1;
    const alphaPrevious = previous >= 0 ? this.cumprod[previous]! : this.finalAlphaCumprod;
    const sqrtAlpha = Math.sqrt(alpha);
    const sqrtOneMinusAlpha = Math.sqrt(1 - alpha);
    const sqrtAlphaPrevious = Math.sqrt(alphaPrevious);
    const sqrtOneMinusAlphaPrevious = Math.sqrt(1 - alphaPrevious);
    const out = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      let x0: number;
      let epsilon: number;
      if (this.config.predictionType === 'epsilon') {
        epsilon = modelOutput[i]!;
        x0 = (sample[i]! - sqrtOneMinusAlpha * epsilon) / sqrtAlpha;
      } else {
        x0 = sqrtAlpha * sample[i]! - sqrtOneMinusAlpha * modelOutput[i]!;
        epsilon = sqrtAlpha * modelOutput[i]! + sqrtOneMinusAlpha * sample[i]!;
      }
      out[i] = sqrtAlphaPrevious * x0 + sqrtOneMinusAlphaPrevious * epsilon;
    }
    return out;
  }
}
