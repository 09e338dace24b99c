/**
 * A small typed ONNX graph builder over onnx-proto. It keeps initializer data as typed arrays and
 * writes ModelProto bytes, optionally moving large initializers into an external data file
 * (data_location EXTERNAL with location/offset/length entries, as onnx's save_as_external_data does).
 */
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import type { onnx as P } from 'onnx-proto';
import { float32ToFloat16Bits } from '../float16';

const { onnx } = onnxProto;

export type ElemType = 'float32' | 'float16' | 'int32' | 'int64';
export type Dim = number | string;

const DATA_TYPE: Record<ElemType, number> = { float32: 1, int32: 6, int64: 7, float16: 10 };
const BYTES: Record<ElemType, number> = { float32: 4, int32: 4, int64: 8, float16: 2 };

/** The ONNX TensorProto.DataType number of an element type (for Cast's `to`). */
export function dataTypeOf(type: ElemType): number {
  return DATA_TYPE[type];
}

export type AttrValue =
  | { kind: 'f'; value: number }
  | { kind: 'i'; value: number }
  | { kind: 's'; value: string }
  | { kind: 'floats'; value: number[] }
  | { kind: 'ints'; value: number[] };

/** Attribute constructors: ONNX needs the attribute type explicitly (1.0 and 1 differ). */
export const attr = {
  f: (value: number): AttrValue => ({ kind: 'f', value }),
  i: (value: number): AttrValue => ({ kind: 'i', value }),
  s: (value: string): AttrValue => ({ kind: 's', value }),
  floats: (value: number[]): AttrValue => ({ kind: 'floats', value }),
  ints: (value: number[]): AttrValue => ({ kind: 'ints', value }),
};

type TensorArray = Float32Array | Uint16Array | Int32Array | BigInt64Array;

interface Initializer {
  name: string;
  type: ElemType;
  dims: number[];
  data: TensorArray;
}

interface ValueInfo {
  name: string;
  type: ElemType;
  dims: Dim[];
}

export interface ExternalDataOptions {
  /** File name beside model.onnx, e.g. 'weights.pb' or 'model.onnx_data'. */
  location: string;
  /** Initializers of at least this many bytes go to the external file. */
  thresholdBytes: number;
  /** When no initializer reaches the threshold, still move the largest one so the file exists. */
  ensureFile?: boolean;
}

export interface SaveOptions {
  irVersion: number;
  opset: number;
  producerName?: string;
  docString?: string;
  externalData?: ExternalDataOptions;
}

export interface SaveResult {
  modelBytes: number;
  externalBytes: number;
  externalCount: number;
}

const EXTERNAL_ALIGNMENT = 64;

export class GraphBuilder {
  private readonly nodes: P.INodeProto[] = [];
  private readonly initializers: Initializer[] = [];
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly names = new Set<string>();
  private readonly counters = new Map<string, number>();

  constructor(readonly name: string) {}

  /** A fresh value name starting with `prefix`. */
  fresh(prefix: string): string {
    let n = this.counters.get(prefix) ?? 0;
    let name = n === 0 ? prefix : `${prefix}_${n}`;
    while (this.names.has(name)) {
      n++;
      name = `${prefix}_${n}`;
    }
    this.counters.set(prefix, n + 1);
    this.names.add(name);
    return name;
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`${this.name}: value name '${name}' is already used`);
    this.names.add(name);
    return name;
  }

  input(name: string, type: ElemType, dims: Dim[]): string {
    this.inputs.push({ name: this.claim(name), type, dims });
    return name;
  }

  /** Declares a graph output; `from` is renamed to `name` through an Identity node. */
  output(name: string, from: string, type: ElemType, dims: Dim[]): void {
    this.nodes.push({
      opType: 'Identity',
      input: [from],
      output: [this.claim(name)],
      name: `${name}_identity`,
    });
    this.outputs.push({ name, type, dims });
  }

  /** Adds an initializer. float16 data may be given as float32 values (converted) or Uint16 bits. */
  initializer(prefix: string, type: ElemType, dims: number[], data: TensorArray): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (data.length !== count) {
      throw new Error(
        `${this.name}: initializer ${prefix} has ${data.length} values for dims [${dims.join(', ')}]`,
      );
    }
    let stored: TensorArray = data;
    if (type === 'float16' && data instanceof Float32Array) {
      const bits = new Uint16Array(data.length);
      for (let i = 0; i < data.length; i++) bits[i] = float32ToFloat16Bits(data[i]!);
      stored = bits;
    }
    const expected =
      type === 'float32'
        ? stored instanceof Float32Array
        : type === 'float16'
          ? stored instanceof Uint16Array
          : type === 'int32'
            ? stored instanceof Int32Array
            : stored instanceof BigInt64Array;
    if (!expected) throw new Error(`${this.name}: initializer ${prefix} data does not match type ${type}`);
    const name = this.fresh(prefix);
    this.initializers.push({ name, type, dims: [...dims], data: stored });
    return name;
  }

  /** A float constant (float32 unless `type` says float16). Scalars use dims []. */
  constFloat(
    values: number[] | Float32Array,
    dims: number[] = [values.length],
    type: ElemType = 'float32',
  ): string {
    return this.initializer('const', type, dims, Float32Array.from(values));
  }

  constInt64(values: number[], dims: number[] = [values.length]): string {
    return this.initializer('const_i64', 'int64', dims, BigInt64Array.from(values.map((v) => BigInt(v))));
  }

  /** Adds a node with one output and returns the output's name. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outName?: string): string {
    const [out] = this.opN(opType, inputs, 1, attrs, outName === undefined ? undefined : [outName]);
    return out!;
  }

  /** Adds a node with `outputs` outputs. */
  opN(
    opType: string,
    inputs: string[],
    outputs: number,
    attrs: Record<string, AttrValue> = {},
    outNames?: string[],
  ): string[] {
    for (const input of inputs) {
      if (input !== '' && !this.names.has(input))
        throw new Error(`${this.name}: ${opType} reads unknown value '${input}'`);
    }
    const out: string[] = [];
    for (let i = 0; i < outputs; i++) {
      const given = outNames?.[i];
      out.push(given === undefined ? this.fresh(opType.toLowerCase()) : this.claim(given));
    }
    const attribute: P.IAttributeProto[] = Object.entries(attrs).map(([name, a]) => toAttribute(name, a));
    this.nodes.push({ opType, input: inputs, output: out, name: this.fresh(`n_${opType}`), attribute });
    return out;
  }

  get initializerCount(): number {
    return this.initializers.length;
  }

  /** Total bytes of initializer data. */
  get weightBytes(): number {
    return this.initializers.reduce((sum, init) => sum + init.data.byteLength, 0);
  }

  /** Writes `dir/fileName` (and the external data file beside it when asked). */
  async save(dir: string, fileName: string, options: SaveOptions): Promise<SaveResult> {
    const external = new Set<Initializer>();
    const ext = options.externalData;
    if (ext) {
      for (const init of this.initializers)
        if (init.data.byteLength >= ext.thresholdBytes) external.add(init);
      if (external.size === 0 && ext.ensureFile && this.initializers.length > 0) {
        const largest = this.initializers.reduce((a, b) => (b.data.byteLength > a.data.byteLength ? b : a));
        external.add(largest);
      }
    }

    const tensors: P.ITensorProto[] = [];
    const chunks: Uint8Array[] = [];
    let offset = 0;
    for (const init of this.initializers) {
      const bytes = new Uint8Array(init.data.buffer, init.data.byteOffset, init.data.byteLength);
      const base = { name: init.name, dims: init.dims, dataType: DATA_TYPE[init.type] };
      if (ext && external.has(init)) {
        const pad = (EXTERNAL_ALIGNMENT - (offset % EXTERNAL_ALIGNMENT)) % EXTERNAL_ALIGNMENT;
        if (pad > 0) {
          chunks.push(new Uint8Array(pad));
          offset += pad;
        }
        tensors.push({
          ...base,
          dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
          externalData: [
            { key: 'location', value: ext.location },
            { key: 'offset', value: String(offset) },
            { key: 'length', value: String(bytes.byteLength) },
          ],
        });
        chunks.push(bytes);
        offset += bytes.byteLength;
      } else {
        tensors.push({ ...base, rawData: bytes });
      }
    }

    const model: P.IModelProto = {
      irVersion: options.irVersion,
      opsetImport: [{ domain: '', version: options.opset }],
      producerName: options.producerName ?? 'instruct-edit tiny-model',
      producerVersion: '1',
      docString: options.docString ?? '',
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: tensors,
        input: this.inputs.map(toValueInfo),
        output: this.outputs.map(toValueInfo),
      },
    };
    const encoded = onnx.ModelProto.encode(model).finish();
    await writeFile(join(dir, fileName), encoded);
    if (ext && external.size > 0) {
      const handle = await open(join(dir, ext.location), 'w');
      try {
        for (const chunk of chunks) await handle.write(chunk);
      } finally {
        await handle.close();
      }
    }
    return { modelBytes: encoded.byteLength, externalBytes: offset, externalCount: external.size };
  }
}

function toAttribute(name: string, a: AttrValue): P.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.kind) {
    case 'f':
      return { name, type: T.FLOAT, f: a.value };
    case 'i':
      return { name, type: T.INT, i: a.value };
    case 's':
      return { name, type: T.STRING, s: new TextEncoder().encode(a.value) };
    case 'floats':
      return { name, type: T.FLOATS, floats: a.value };
    case 'ints':
      return { name, type: T.INTS, ints: a.value };
  }
}

function toValueInfo(info: ValueInfo): P.IValueInfoProto {
  return {
    name: info.name,
    type: {
      tensorType: {
        elemType: DATA_TYPE[info.type],
        shape: { dim: info.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export function bytesPerElement(type: ElemType): number {
  return BYTES[type];
}
