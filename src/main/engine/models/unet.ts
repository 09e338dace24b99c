import type { TensorInfo } from '../../../shared/engine-types';
import type { OnnxSession, TensorData } from '../backend';
import { float32ToFloat16Bits, toFloat16Bits } from '../float16';
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

/** One UNet call of a step: which rows it covers and its inputs that never change. */
interface UnetCall {
  start: number;
  count: number;
  hidden: TensorData;
  sampleDims: readonly number[];
  /** The float16 sample buffer, reused at every step (float16 graphs only). */
  sampleBits?: Uint16Array<ArrayBuffer>;
}

export interface UnetConditioning {
  readonly rows: number;
  readonly rowSize: number;
  readonly outputRowSize: number;
  readonly calls: readonly UnetCall[];
}

const embeddingIds = new WeakMap<Float32Array, number>();
let nextEmbeddingId = 0;

function embeddingId(embedding: Float32Array): number {
  let id = embeddingIds.get(embedding);
  if (id === undefined) {
    id = nextEmbeddingId++;
    embeddingIds.set(embedding, id);
  }
  return id;
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
   * Everything about the text side of an edit that stays the same at every step, converted once:
   * one hidden-states tensor per UNet call (in the graph's element type) and the sample buffers.
   * `rowEmbeddings[r]` is the embedding of guidance row r ([seq, dim] values); rows go to the UNet
   * `batch` at a time (all rows in one call, or 1 = rows in sequence).
   */
  prepare(
    rowEmbeddings: readonly Float32Array[],
    hiddenDims: readonly [number, number],
    latentHeight: number,
    latentWidth: number,
    batch: number,
  ): UnetConditioning {
    const rows = rowEmbeddings.length;
    if (batch < 1 || batch > rows) throw new Error(`UNet batch ${batch} outside 1..${rows}`);
    const rowSize = this.inChannels * latentHeight * latentWidth;
    const hiddenSize = hiddenDims[0] * hiddenDims[1];
    // Calls whose rows hold the same embeddings (rows 1 and 2 in sequence) share one tensor.
    const byContent = new Map<string, TensorData>();
    const calls: UnetCall[] = [];
    for (let start = 0; start < rows; start += batch) {
      const count = Math.min(batch, rows - start);
      const members = rowEmbeddings.slice(start, start + count);
      const key = members.map((embedding) => embeddingId(embedding)).join(',');
      let hidden = byContent.get(key);
      if (!hidden) {
        const values = new Float32Array(count * hiddenSize);
        members.forEach((embedding, i) => values.set(embedding, i * hiddenSize));
        hidden = floatTensor(values, this.hiddenStatesType, [count, ...hiddenDims]);
        byContent.set(key, hidden);
      }
      calls.push({
        start,
        count,
        hidden,
        sampleDims: [count, this.inChannels, latentHeight, latentWidth],
        sampleBits: this.sampleType === 'float16' ? new Uint16Array(count * rowSize) : undefined,
      });
    }
    return { rows, rowSize, outputRowSize: 4 * latentHeight * latentWidth, calls };
  }

  /**
   * One guided step's UNet work: `sample` is [rows, 8, h, w]; returns the prediction [rows, 4, h, w]
   * as float32, whether the rows went in one call or in several.
   */
  async predict(
    sample: Float32Array,
    conditioning: UnetConditioning,
    timestep: number,
  ): Promise<Float32Array> {
    const { calls, rowSize, outputRowSize } = conditioning;
    if (sample.length !== conditioning.rows * rowSize) {
      throw new Error(`UNet sample holds ${sample.length} values, expected ${conditioning.rows * rowSize}`);
    }
    const prediction = calls.length === 1 ? undefined : new Float32Array(conditioning.rows * outputRowSize);
    for (const call of calls) {
      const rows = sample.subarray(call.start * rowSize, (call.start + call.count) * rowSize);
      const data = call.sampleBits ? toFloat16Bits(rows, call.sampleBits) : rows;
      const result = await this.session.run(
        {
          sample: { type: this.sampleType, dims: call.sampleDims, data },
          timestep: timestepTensor(this.timestep, timestep, call.count),
          encoder_hidden_states: call.hidden,
        },
        [this.outputName],
      );
      const output = readFloat(result[this.outputName], this.session.label);
      if (!prediction) return output;
      prediction.set(output, call.start * outputRowSize);
    }
    return prediction!;
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
