import type { NoiseSource } from '../rng';
import { SigmaScheduler } from './euler';
import { checkStepIndex, denoisedFromOutput } from './noise-schedule';

/**
 * Euler ancestral (k-diffusion `sample_euler_ancestral`, η = 1), the sampler the InstructPix2Pix
 * paper uses: a deterministic Euler step down to σ_down, then fresh noise of size σ_up.
 */
export class EulerAncestralScheduler extends SigmaScheduler {
  readonly name = 'euler-ancestral' as const;

  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array, noise: NoiseSource): Float32Array {
    checkStepIndex(stepIndex, this.stepCount);
    const sigmaFrom = this.sigmas[stepIndex]!;
    const sigmaTo = this.sigmas[stepIndex + 1]!;
    const sigmaUp = Math.sqrt(
      (sigmaTo * sigmaTo * (sigmaFrom * sigmaFrom - sigmaTo * sigmaTo)) / (sigmaFrom * sigmaFrom),
    );
    const sigmaDown = Math.sqrt(sigmaTo * sigmaTo - sigmaUp * sigmaUp);
    const dt = sigmaDown - sigmaFrom;
    const denoised = denoisedFromOutput(this.config, modelOutput, sample, sigmaFrom);
    // The last step (σ_to = 0) adds no noise; drawing none keeps the stream identical to k-diffusion.
    const fresh = sigmaUp > 0 ? noise.normal(sample.length) : undefined;
    const out = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const derivative = (sample[i]! - denoised[i]!) / sigmaFrom;
      out[i] = sample[i]! + derivative * dt + (fresh ? fresh[i]! * sigmaUp : 0);
    }
    return out;
  }
}
