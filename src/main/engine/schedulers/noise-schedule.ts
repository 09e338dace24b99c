import type { SchedulerConfig } from './scheduler';

/**
 * The training noise schedule and timestep selection shared by all schedulers, following
 * diffusers: betas and their cumulative product are computed in float32 (as torch does), the
 * rest in float64.
 */

/** numpy.linspace: `count` evenly spaced values from start to stop inclusive. */
export function linspace(start: number, stop: number, count: number): Float64Array {
  const out = new Float64Array(count);
  if (count === 1) {
    out[0] = start;
    return out;
  }
  const step = (stop - start) / (count - 1);
  for (let i = 0; i < count; i++) out[i] = start + i * step;
  out[count - 1] = stop;
  return out;
}

/** ᾱ_t for t = 0..T-1, rounded to float32 at each product like torch.cumprod on float32. */
export function alphasCumprod(config: SchedulerConfig): Float64Array {
  const count = config.numTrainTimesteps;
  const betas = new Float64Array(count);
  switch (config.betaSchedule) {
    case 'linear': {
      const values = linspace(config.betaStart, config.betaEnd, count);
      for (let i = 0; i < count; i++) betas[i] = Math.fround(values[i]!);
      break;
    }
    case 'scaled_linear': {
      const values = linspace(Math.sqrt(config.betaStart), Math.sqrt(config.betaEnd), count);
      for (let i = 0; i < count; i++) betas[i] = Math.fround(Math.fround(values[i]!) ** 2);
      break;
    }
    case 'squaredcos_cap_v2': {
      const alphaBar = (t: number) => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
      for (let i = 0; i < count; i++) {
        betas[i] = Math.fround(Math.min(1 - alphaBar((i + 1) / count) / alphaBar(i / count), 0.999));
      }
      break;
    }
  }
  const out = new Float64Array(count);
  let product = 1;
  for (let i = 0; i < count; i++) {
    product = Math.fround(product * Math.fround(1 - betas[i]!));
    out[i] = product;
  }
  return out;
}

/** σ_t = sqrt((1 − ᾱ_t) / ᾱ_t) for every training timestep (ascending in t), in float32. */
export function trainingSigmas(cumprod: Float64Array): Float64Array {
  const out = new Float64Array(cumprod.length);
  for (let i = 0; i < cumprod.length; i++) {
    out[i] = Math.fround(Math.sqrt(Math.fround(Math.fround(1 - cumprod[i]!) / cumprod[i]!)));
  }
  return out;
}

/**
 * Descending timesteps for `steps` inference steps, as diffusers' Euler / DDIM schedulers pick
 * them. `integer` rounds linspace values (DDIM); Euler keeps them fractional.
 */
export function spacedTimesteps(config: SchedulerConfig, steps: number, integer: boolean): Float64Array {
  const total = config.numTrainTimesteps;
  const out = new Float64Array(steps);
  switch (config.timestepSpacing) {
    case 'linspace': {
      const values = linspace(0, total - 1, steps);
      for (let i = 0; i < steps; i++) {
        const value = values[steps - 1 - i]!;
        out[i] = integer ? Math.round(value) : value;
      }
      break;
    }
    case 'leading': {
      const ratio = Math.floor(total / steps);
      for (let i = 0; i < steps; i++) out[i] = (steps - 1 - i) * ratio + config.stepsOffset;
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

/** numpy.interp of the training sigmas at (fractional) timestep t. */
export function sigmaAt(sigmas: Float64Array, t: number): number {
  if (t <= 0) return sigmas[0]!;
  const last = sigmas.length - 1;
  if (t >= last) return sigmas[last]!;
  const low = Math.floor(t);
  const fraction = t - low;
  return sigmas[low]! * (1 - fraction) + sigmas[low + 1]! * fraction;
}

/** The inverse of sigmaAt in log space, as diffusers' `_sigma_to_t` computes it. */
export function timestepForSigma(sigmas: Float64Array, sigma: number): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  const last = sigmas.length - 1;
  let low = 0;
  while (low < last - 1 && Math.log(sigmas[low + 1]!) <= logSigma) low++;
  const lowLog = Math.log(sigmas[low]!);
  const highLog = Math.log(sigmas[low + 1]!);
  const weight = Math.min(1, Math.max(0, (lowLog - logSigma) / (lowLog - highLog)));
  return (1 - weight) * low + weight * (low + 1);
}

/** Karras et al. (2022) ρ = 7 spacing between the largest and smallest sigma. */
export function karrasSigmas(sigmaMax: number, sigmaMin: number, steps: number): Float64Array {
  const rho = 7;
  const minInv = sigmaMin ** (1 / rho);
  const maxInv = sigmaMax ** (1 / rho);
  const ramp = linspace(0, 1, steps);
  const out = new Float64Array(steps);
  for (let i = 0; i < steps; i++) out[i] = (maxInv + ramp[i]! * (minInv - maxInv)) ** rho;
  return out;
}

/**
 * The k-diffusion view used by Euler, Euler ancestral and DPM-Solver++: descending sigmas for
 * each step with a final 0 appended, and the matching (fractional) model timesteps.
 */
export function sigmaSchedule(
  config: SchedulerConfig,
  steps: number,
  timesteps: Float64Array,
): { sigmas: Float64Array; timesteps: Float64Array } {
  const train = trainingSigmas(alphasCumprod(config));
  let stepSigmas: Float64Array = new Float64Array(steps);
  for (let i = 0; i < steps; i++) stepSigmas[i] = sigmaAt(train, timesteps[i]!);
  let stepTimesteps: Float64Array = timesteps;
  if (config.useKarrasSigmas) {
    stepSigmas = karrasSigmas(stepSigmas[0]!, stepSigmas[steps - 1]!, steps);
    stepTimesteps = stepSigmas.map((sigma) => timestepForSigma(train, sigma));
  }
  const sigmas = new Float64Array(steps + 1);
  sigmas.set(stepSigmas);
  return { sigmas, timesteps: stepTimesteps };
}

/** x / sqrt(σ² + 1): the k-diffusion input scaling. */
export function scaleBySigma(sample: Float32Array, sigma: number): Float32Array {
  const factor = 1 / Math.sqrt(sigma * sigma + 1);
  const out = new Float32Array(sample.length);
  for (let i = 0; i < sample.length; i++) out[i] = sample[i]! * factor;
  return out;
}

/** The denoised estimate x̂₀ from a model output, for σ-parameterised samples. */
export function denoisedFromOutput(
  config: SchedulerConfig,
  modelOutput: Float32Array,
  sample: Float32Array,
  sigma: number,
): Float32Array {
  const out = new Float32Array(sample.length);
  if (config.predictionType === 'epsilon') {
    for (let i = 0; i < sample.length; i++) out[i] = sample[i]! - sigma * modelOutput[i]!;
  } else {
    const c = sigma * sigma + 1;
    const outScale = -sigma / Math.sqrt(c);
    for (let i = 0; i < sample.length; i++) out[i] = modelOutput[i]! * outScale + sample[i]! / c;
  }
  return out;
}

export function checkStepIndex(stepIndex: number, stepCount: number): void {
  if (!Number.isInteger(stepIndex) || stepIndex < 0 || stepIndex >= stepCount) {
    throw new RangeError(`Step index ${stepIndex} is outside 0..${stepCount - 1}`);
  }
}
