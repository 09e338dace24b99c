import type { SchedulerName } from '../../../shared/engine-types';
import type { NoiseSource } from '../rng';

/** The subset of diffusers' scheduler_config.json the schedulers honour. */
export interface SchedulerConfig {
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  betaSchedule: 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';
  stepsOffset: number;
  timestepSpacing: 'linspace' | 'leading' | 'trailing';
  predictionType: 'epsilon' | 'v_prediction';
  /** DDIM: use alpha_prod = 1 for the final step. */
  setAlphaToOne: boolean;
  useKarrasSigmas: boolean;
}

/**
 * One sampling run. Created for a fixed number of steps; `step` is called once per index
 * 0..stepCount-1 in order. Pure over Float32Array: inputs are never mutated.
 */
export interface Scheduler {
  readonly name: SchedulerName;
  readonly stepCount: number;
  /** The model timestep for each step (float; int64 exports round it). */
  readonly timesteps: Float64Array;
  /** Multiply unit-variance noise by this to get the initial latents. */
  readonly initNoiseSigma: number;
  /** Scale the noisy latents before they go into the UNet at step `stepIndex`. */
  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array;
  /** One denoising step: returns the latents for the next step. */
  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array, noise: NoiseSource): Float32Array;
}
