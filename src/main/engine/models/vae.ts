import type { OnnxSession } from '../backend';
import { ModelFolderError } from '../model-folder';
import {
  expectFloat,
  expectRank,
  findInput,
  findOutput,
  floatTensor,
  readFloat,
  type FloatType,
} from './tensors';

export const LATENT_CHANNELS = 4;

/**
 * VAE encoder. diffusers' convert script outputs `latent_sample` [B,4,h,w]; Optimum outputs
 * `latent_parameters` [B,8,h,w] = mean then log-variance, of which the edit uses the mean.
 */
export class VaeEncoder {
  readonly inputType: FloatType;
  readonly outputKind: 'latent_sample' | 'latent_parameters';

  constructor(private readonly session: OnnxSession) {
    const input = findInput(session, 'sample', 'the image, [-1, 1]');
    expectRank(session, input, 4);
    this.inputType = expectFloat(session, input);
    const output = findOutput(session, ['latent_parameters', 'latent_sample'], 'image latents');
    expectRank(session, output, 4);
    expectFloat(session, output);
    this.outputKind = output.name as VaeEncoder['outputKind'];
    const channels = output.shape[1];
    const expected = this.outputKind === 'latent_parameters' ? 2 * LATENT_CHANNELS : LATENT_CHANNELS;
    if (typeof channels === 'number' && channels !== expected) {
      throw new ModelFolderError(
        `${session.label}: '${output.name}' should have ${expected} channels, found ${channels}`,
      );
    }
  }

  /** Image CHW in [-1, 1] → unscaled latent mean [4, h, w]. */
  async encode(image: Float32Array, width: number, height: number): Promise<Float32Array> {
    const result = await this.session.run(
      { sample: floatTensor(image, this.inputType, [1, 3, height, width]) },
      [this.outputKind],
    );
    const latents = readFloat(result[this.outputKind], this.session.label);
    const size = LATENT_CHANNELS * (height / 8) * (width / 8);
    if (latents.length < size) {
      throw new Error(`${this.session.label} returned ${latents.length} values, expected at least ${size}`);
    }
    // The mean is the first half of latent_parameters; copy so the cache owns its memory.
    return Float32Array.from(latents.subarray(0, size));
  }

  dispose(): Promise<void> {
    return this.session.dispose();
  }
}

export class VaeDecoder {
  readonly inputType: FloatType;
  private readonly outputName: string;

  constructor(private readonly session: OnnxSession) {
    const input = findInput(session, 'latent_sample', 'scaled latents');
    expectRank(session, input, 4);
    this.inputType = expectFloat(session, input);
    const output = findOutput(session, ['sample'], 'the decoded image');
    expectRank(session, output, 4);
    this.outputName = output.name;
  }

  /** Latents [4, h, w] (already divided by the scaling factor) → image CHW in about [-1, 1]. */
  async decode(latents: Float32Array, latentWidth: number, latentHeight: number): Promise<Float32Array> {
    const result = await this.session.run(
      {
        latent_sample: floatTensor(latents, this.inputType, [1, LATENT_CHANNELS, latentHeight, latentWidth]),
      },
      [this.outputName],
    );
    return readFloat(result[this.outputName], this.session.label);
  }

  dispose(): Promise<void> {
    return this.session.dispose();
  }
}
