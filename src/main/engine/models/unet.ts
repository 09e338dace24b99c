import type { TensorInfo } from '../../../shared/engine-types';
import type { OnnxSession, TensorData } from '../backend';
import { float32ToFloat16Bits } from '../float16';
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

export const INSTRUCT_PIX2PIX_IN_CHANNELS = 8;

/**
 * How the export wants the timestep: diffusers' convert script uses float32 [batch], Optimum ≤ 1.23
 * int64 [steps] (one value), Optimum ≥ 1.24 a float scalar.
 */
export interface TimestepFormat {
  type: 'float32' | 'float16' | 'int64';
  /** 'scalar' = shape [], 'single' = [1], 'per-row' = one per batch row. */
  layout: 'scalar' | 'single' | 'per-row';
}

export class Unet {
  readonly sampleType: FloatType;
  readonly hiddenStatesType: FloatType;
  readonly timestep: TimestepFormat;
  readonly inChannels: number;
  private readonly outputName: string;

  constructor(
    private readonly session: OnnxSession,
    configInChannels?: number,
  ) {
    const sample = findInput(session, 'sample', 'noisy latents + image latents');
    expectRank(session, sample, 4);
    this.sampleType = expectFloat(session, sample);
    const declared = sample.shape[1];
    const inChannels = typeof declared === 'number' ? declared : configInChannels;
    if (inChannels !== undefined && inChannels !== INSTRUCT_PIX2PIX_IN_CHANNELS) {
      throw new ModelFolderError(
        `${session.label}: 'sample' has ${inChannels} input channels; an InstructPix2Pix UNet takes ` +
          `${INSTRUCT_PIX2PIX_IN_CHANNELS} (4 noisy latents + 4 image latents). This looks like a plain ` +
          `text-to-image or inpainting model.`,
      );
    }
    this.inChannels = inChannels ?? INSTRUCT_PIX2PIX_IN_CHANNELS;
    this.timestep = timestepFormat(session, findInput(session, 'timestep', 'the diffusion timestep'));
    const hidden = findInput(session, 'encoder_hidden_states', 'text embeddings');
    expectRank(session, hidden, 3);
    this.hiddenStatesType = expectFloat(session, hidden);
    const output = findOutput(session, ['out_sample'], 'predicted noise');
    expectRank(session, output, 4);
    this.outputName = output.name;
  }

  /**
   * One UNet pass over `rows` batch rows. `sample` is [rows, 8, h, w], `hiddenStates` [rows, seq, dim].
   * Returns the prediction [rows, 4, h, w] as float32.
   */
  async predict(
    sample: Float32Array,
    rows: number,
    latentHeight: number,
    latentWidth: number,
    timestep: number,
    hiddenStates: Float32Array,
    hiddenDims: readonly [number, number],
  ): Promise<Float32Array> {
    const result = await this.session.run(
      {
        sample: floatTensor(sample, this.sampleType, [rows, this.inChannels, latentHeight, latentWidth]),
        timestep: timestepTensor(this.timestep, timestep, rows),
        encoder_hidden_states: floatTensor(hiddenStates, this.hiddenStatesType, [rows, ...hiddenDims]),
      },
      [this.outputName],
    );
    return readFloat(result[this.outputName], this.session.label);
  }

  dispose(): Promise<void> {
    return this.session.dispose();
  }
}

function timestepFormat(session: OnnxSession, info: TensorInfo): TimestepFormat {
  if (info.type !== 'float32' && info.type !== 'float16' && info.type !== 'int64') {
    throw new ModelFolderError(
      `${session.label}: 'timestep' should be float32, float16 or int64, found ${info.type}`,
    );
  }
  if (info.shape.length === 0) return { type: info.type, layout: 'scalar' };
  if (info.shape.length !== 1) {
    throw new ModelFolderError(
      `${session.label}: 'timestep' should be a scalar or 1-D, found shape [${info.shape.join(', ')}]`,
    );
  }
  const dim = info.shape[0];
  if (dim === 1) return { type: info.type, layout: 'single' };
  if (typeof dim === 'string' && /batch/i.test(dim)) return { type: info.type, layout: 'per-row' };
  // Optimum names it 'steps' and broadcasts one value over the batch.
  return { type: info.type, layout: typeof dim === 'number' ? 'per-row' : 'single' };
}

export function timestepTensor(format: TimestepFormat, timestep: number, rows: number): TensorData {
  const count = format.layout === 'per-row' ? rows : 1;
  const dims = format.layout === 'scalar' ? [] : [count];
  switch (format.type) {
    case 'int64':
      // Schedulers give fractional timesteps (e.g. 946.421); integer exports take the nearest one.
      return { type: 'int64', dims, data: new BigInt64Array(count).fill(BigInt(Math.round(timestep))) };
    case 'float16':
      return { type: 'float16', dims, data: new Uint16Array(count).fill(float32ToFloat16Bits(timestep)) };
    default:
      return { type: 'float32', dims, data: new Float32Array(count).fill(timestep) };
  }
}
