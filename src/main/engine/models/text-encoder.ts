import type { OnnxSession } from '../backend';
import { ModelFolderError } from '../model-folder';
import { expectRank, findInput, findOutput, readFloat } from './tensors';

/** CLIP text encoder: token ids in, last_hidden_state out (as float32, whatever the export's precision). */
export class TextEncoder {
  readonly inputIdsType: 'int32' | 'int64';
  readonly outputType: string;
  private readonly outputName: string;

  constructor(private readonly session: OnnxSession) {
    const inputIds = findInput(session, 'input_ids', 'token ids');
    if (inputIds.type !== 'int32' && inputIds.type !== 'int64') {
      throw new ModelFolderError(
        `${session.label}: 'input_ids' should be int32 or int64, found ${inputIds.type}`,
      );
    }
    expectRank(session, inputIds, 2);
    this.inputIdsType = inputIds.type;
    const output = findOutput(session, ['last_hidden_state'], 'token embeddings');
    expectRank(session, output, 3);
    this.outputName = output.name;
    this.outputType = output.type;
  }

  get label(): string {
    return this.session.label;
  }

  /** Returns [1, sequence, hidden] as float32 plus its dims. */
  async encode(ids: Int32Array): Promise<{ data: Float32Array; dims: readonly number[] }> {
    const data = this.inputIdsType === 'int64' ? BigInt64Array.from(ids, (id) => BigInt(id)) : ids;
    const result = await this.session.run(
      { input_ids: { type: this.inputIdsType, dims: [1, ids.length], data } },
      [this.outputName],
    );
    const output = result[this.outputName];
    return { data: Float32Array.from(readFloat(output, this.session.label)), dims: output!.dims };
  }

  dispose(): Promise<void> {
    return this.session.dispose();
  }
}
