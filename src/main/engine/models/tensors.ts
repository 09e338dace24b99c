import type { TensorInfo } from '../../../shared/engine-types';
import type { OnnxSession, TensorData } from '../backend';
import { fromFloat16, toFloat16Bits } from '../float16';
import { ModelFolderError } from '../model-folder';

export type FloatType = 'float32' | 'float16';

/** A float tensor in the element type the graph declares; scheduler math stays float32 outside. */
export function floatTensor(data: Float32Array, type: FloatType, dims: readonly number[]): TensorData {
  return { type, dims, data: type === 'float16' ? toFloat16Bits(data) : data };
}

export function readFloat(tensor: TensorData | undefined, label: string): Float32Array {
  if (!tensor) throw new Error(`${label} produced no output`);
  if (tensor.type === 'float32') return tensor.data as Float32Array;
  if (tensor.type === 'float16') return fromFloat16(tensor.data as ArrayLike<number>);
  throw new Error(`${label} returned ${tensor.type} where a float tensor was expected`);
}

export function findInput(session: OnnxSession, name: string, what: string): TensorInfo {
  return findValue(session, session.inputs, name, 'input', what);
}

export function findOutput(session: OnnxSession, names: readonly string[], what: string): TensorInfo {
  for (const name of names) {
    const value = session.outputs.find((output) => output.name === name);
    if (value) return value;
  }
  throw new ModelFolderError(
    `${session.label}: expected an output named ${names.map((n) => `'${n}'`).join(' or ')} (${what}), ` +
      `found ${list(session.outputs)}`,
  );
}

function findValue(
  session: OnnxSession,
  values: readonly TensorInfo[],
  name: string,
  kind: string,
  what: string,
): TensorInfo {
  const value = values.find((candidate) => candidate.name === name);
  if (!value) {
    throw new ModelFolderError(
      `${session.label}: expected an ${kind} named '${name}' (${what}), found ${list(values)}`,
    );
  }
  return value;
}

export function expectFloat(session: OnnxSession, value: TensorInfo): FloatType {
  if (value.type === 'float32' || value.type === 'float16') return value.type;
  throw new ModelFolderError(
    `${session.label}: '${value.name}' should be float32 or float16, found ${value.type}`,
  );
}

export function expectRank(session: OnnxSession, value: TensorInfo, rank: number): void {
  if (value.shape.length !== rank) {
    throw new ModelFolderError(
      `${session.label}: '${value.name}' should have ${rank} dimensions, found shape [${value.shape.join(', ')}]`,
    );
  }
}

function list(values: readonly TensorInfo[]): string {
  return values.length
    ? values.map((value) => `'${value.name}' ${value.type} [${value.shape.join(', ')}]`).join(', ')
    : 'none';
}
