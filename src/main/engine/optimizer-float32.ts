/**
 * Turns a float16 ONNX graph into a float32 one, for the CPU, where onnxruntime has no float16
 * kernels for most operators: it would insert Cast nodes around them and keep float32 copies of
 * the weights beside the float16 ones at every session. Here the weights are widened once (exact:
 * every float16 value is a float32 value), every float16 input, output and constant becomes
 * float32, Casts to float16 become Casts to float32, and the Casts that then convert float32 to
 * float32 are removed.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import type { onnx as P } from 'onnx-proto';
import { float16BitsToFloat32 } from './float16';

const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;

/** Weights of at least this many bytes go to the external data file. */
const EXTERNAL_THRESHOLD_BYTES = 1024;
export const FLOAT32_DATA_FILE = 'model.onnx_data';

/** A weight still in the source's external file: copied (float16 widened) when the graph is written. */
interface PendingWeight {
  tensor: P.ITensorProto;
  path: string;
  offset: number;
  length: number;
  widen: boolean;
}

export interface Float32Conversion {
  /** Initializers and constants widened from float16. */
  tensorsConverted: number;
  castsRemoved: number;
  /** External weights to copy, float16 ones widened, while writing (see writeModel). */
  pending: PendingWeight[];
}

export class Float32ConversionError extends Error {
  override name = 'Float32ConversionError';
}

/** Whether the graph holds float16 anywhere: inputs, outputs, weights or Casts. */
export function usesFloat16(model: P.IModelProto): boolean {
  const graph = model.graph;
  if (!graph) return false;
  const values = [...(graph.input ?? []), ...(graph.output ?? [])];
  return (
    values.some((value) => value.type?.tensorType?.elemType === T.FLOAT16) ||
    (graph.initializer ?? []).some((tensor) => tensor.dataType === T.FLOAT16) ||
    (graph.node ?? []).some(
      (node) =>
        node.opType === 'Cast' && node.attribute?.some((a) => a.name === 'to' && toInt(a.i) === T.FLOAT16),
    )
  );
}

function toInt(value: unknown): number {
  if (typeof value === 'object' && value !== null && 'toNumber' in value)
    return (value as { toNumber(): number }).toNumber();
  return Number(value);
}

function widenBits(bytes: Uint8Array): Uint8Array {
  const count = bytes.byteLength / 2;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = float16BitsToFloat32(view.getUint16(i * 2, true));
  return new Uint8Array(out.buffer);
}

/** Widens an inline float16 tensor in place (raw bytes or int32_data bits). */
function widenInline(tensor: P.ITensorProto): void {
  if (tensor.rawData && tensor.rawData.length > 0) {
    tensor.rawData = widenBits(tensor.rawData);
  } else {
    tensor.floatData = Array.from(tensor.int32Data ?? [], (bits) => float16BitsToFloat32(bits));
    tensor.int32Data = [];
  }
  tensor.dataType = T.FLOAT;
}

function externalEntry(tensor: P.ITensorProto, key: string): string | undefined {
  return tensor.externalData?.find((entry) => entry.key === key)?.value ?? undefined;
}

function widenValueInfo(values: P.IValueInfoProto[] | null | undefined): void {
  for (const value of values ?? []) {
    const tensorType = value.type?.tensorType;
    if (tensorType?.elemType === T.FLOAT16) tensorType.elemType = T.FLOAT;
  }
}

/** Element types of the graph's values where they follow from the graph (undefined where not). */
function elementTypes(graph: P.IGraphProto): Map<string, number> {
  const types = new Map<string, number>();
  for (const value of graph.input ?? []) {
    const elemType = value.type?.tensorType?.elemType;
    if (value.name && elemType) types.set(value.name, elemType);
  }
  for (const tensor of graph.initializer ?? []) if (tensor.name) types.set(tensor.name, tensor.dataType ?? 0);
  const INT64_OUT = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin']);
  const BOOL_OUT = new Set([
    'Equal',
    'Less',
    'Greater',
    'LessOrEqual',
    'GreaterOrEqual',
    'Not',
    'And',
    'Or',
    'Xor',
  ]);
  for (const node of graph.node ?? []) {
    const first = node.output?.[0];
    if (!first) continue;
    const attribute = (name: string) => node.attribute?.find((a) => a.name === name);
    let type: number | undefined;
    if (node.opType === 'Cast') type = toInt(attribute('to')?.i);
    else if (node.opType === 'Constant') type = attribute('value')?.t?.dataType ?? undefined;
    else if (node.opType === 'ConstantOfShape') type = attribute('value')?.t?.dataType ?? T.FLOAT;
    else if (INT64_OUT.has(node.opType ?? '')) type = T.INT64;
    else if (BOOL_OUT.has(node.opType ?? '')) type = T.BOOL;
    else if (node.opType === 'Where') type = types.get(node.input?.[1] ?? '');
    else type = types.get(node.input?.[0] ?? '');
    if (type) types.set(first, type);
  }
  return types;
}

/**
 * Converts the graph in place. `componentDir` is where the source's external data files are;
 * their float16 weights are recorded as pending and widened by writeModel.
 */
export function convertToFloat32(model: P.IModelProto, componentDir: string): Float32Conversion {
  const graph = model.graph;
  if (!graph) throw new Float32ConversionError('the file holds no graph');
  const nodes = graph.node ?? [];
  const nested = nodes.find((node) => node.attribute?.some((a) => a.g || (a.graphs?.length ?? 0) > 0));
  if (nested)
    throw new Float32ConversionError(
      `${nested.opType} '${nested.name ?? ''}' holds a subgraph; converting those is not supported`,
    );
  let tensorsConverted = 0;
  const pending: PendingWeight[] = [];
  for (const tensor of graph.initializer ?? []) {
    const widen = tensor.dataType === T.FLOAT16;
    if (widen) tensorsConverted++;
    if (tensor.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
      const location = externalEntry(tensor, 'location');
      const length = externalEntry(tensor, 'length');
      if (!location || length === undefined)
        throw new Float32ConversionError(`weight '${tensor.name}' names no external file and length`);
      pending.push({
        tensor,
        path: join(componentDir, location),
        offset: Number(externalEntry(tensor, 'offset') ?? 0),
        length: Number(length),
        widen,
      });
      if (widen) tensor.dataType = T.FLOAT;
    } else if (widen) {
      widenInline(tensor);
    }
  }
  for (const node of nodes) {
    for (const attribute of node.attribute ?? []) {
      if (attribute.t?.dataType === T.FLOAT16) {
        widenInline(attribute.t);
        tensorsConverted++;
      }
      if (node.opType === 'Cast' && attribute.name === 'to' && toInt(attribute.i) === T.FLOAT16)
        attribute.i = T.FLOAT;
    }
  }
  widenValueInfo(graph.input);
  widenValueInfo(graph.output);
  widenValueInfo(graph.valueInfo);

  // Casts from float32 to float32: their readers read the Cast's input instead.
  const types = elementTypes(graph);
  const graphOutputs = new Set((graph.output ?? []).map((value) => value.name ?? ''));
  const renamed = new Map<string, string>();
  const kept: P.INodeProto[] = [];
  let castsRemoved = 0;
  for (const node of nodes) {
    node.input = (node.input ?? []).map((input) => renamed.get(input) ?? input);
    const to = node.attribute?.find((a) => a.name === 'to');
    const source = node.input[0] ?? '';
    const output = node.output?.[0] ?? '';
    if (
      node.opType === 'Cast' &&
      toInt(to?.i) === T.FLOAT &&
      types.get(source) === T.FLOAT &&
      !graphOutputs.has(output)
    ) {
      renamed.set(output, source);
      castsRemoved++;
      continue;
    }
    kept.push(node);
  }
  graph.node = kept;
  return { tensorsConverted, castsRemoved, pending };
}

/**
 * Writes `model.onnx` into `dir` with every weight of at least 1 KB in `model.onnx_data` beside
 * it (float32 UNets exceed protobuf's 2 GB limit), copying the pending weights from the source's
 * external files on the way (float16 ones widened). Both files must not exist (`dir` may hold hard links to the source's files: never write
 * through them).
 */
export async function writeModel(model: P.IModelProto, dir: string, pending: PendingWeight[]): Promise<void> {
  const graph = model.graph!;
  const byTensor = new Map(pending.map((weight) => [weight.tensor, weight]));
  const data = await open(join(dir, FLOAT32_DATA_FILE), 'wx');
  let offset = 0;
  try {
    for (const tensor of graph.initializer ?? []) {
      const weight = byTensor.get(tensor);
      let bytes: Uint8Array | undefined;
      if (weight) {
        const source = await open(weight.path, 'r');
        try {
          const raw = new Uint8Array(weight.length);
          const { bytesRead } = await source.read(raw, 0, weight.length, weight.offset);
          if (bytesRead !== weight.length)
            throw new Float32ConversionError(`${weight.path} ends before weight '${tensor.name}'`);
          bytes = weight.widen ? widenBits(raw) : raw;
        } finally {
          await source.close();
        }
      } else if (tensor.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
        throw new Float32ConversionError(`weight '${tensor.name}' is external but was not converted`);
      } else if (tensor.rawData && tensor.rawData.length >= EXTERNAL_THRESHOLD_BYTES) {
        bytes = tensor.rawData;
      }
      if (!bytes) continue;
      await data.write(bytes, 0, bytes.byteLength, offset);
      tensor.rawData = new Uint8Array(0);
      tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      tensor.externalData = [
        { key: 'location', value: FLOAT32_DATA_FILE },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(bytes.byteLength) },
      ];
      offset += bytes.byteLength;
      offset += (64 - (offset % 64)) % 64;
    }
  } finally {
    await data.close();
  }
  const graphFile = await open(join(dir, 'model.onnx'), 'wx');
  try {
    await graphFile.write(onnx.ModelProto.encode(model).finish());
  } finally {
    await graphFile.close();
  }
}
