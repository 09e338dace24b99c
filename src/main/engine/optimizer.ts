/**
 * Rewrites a model folder's UNet attention into onnxruntime's fused com.microsoft.MultiHeadAttention
 * (one kernel instead of MatMul → scale → Softmax → MatMul over a [batch, heads, tokens, tokens]
 * tensor). It recognises the exporters' three writings (see tiny-model.ts' AttentionStyle): heads
 * moved into the batch with the scores multiplied (diffusers) or divided (older Optimum), and torch
 * 2's scaled_dot_product_attention with q and kᵀ each scaled (Optimum ≥ 1.24). Every Softmax of the
 * UNet must match one of them exactly, or nothing is written; the VAE's mid-block attention (one
 * head) is fused the same way. For the CPU a float16 model is made float32 once (optimizer-float32.ts).
 * Every rewritten component is checked against the original on a small input before the folder
 * is kept; the others are linked or copied unchanged.
 */
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import onnxProto from 'onnx-proto';
import type { onnx as P } from 'onnx-proto';
import { openSession, type OnnxSession, type TensorData } from './backend';
import { fromFloat16, toFloat16Bits } from './float16';
import { inspectModelFolder } from './model-folder';
import {
  convertToFloat32,
  Float32ConversionError,
  usesFloat16,
  writeModel,
  type Float32Conversion,
} from './optimizer-float32';

const { onnx } = onnxProto;

export const OPTIMIZATION_FILE = 'optimization.json';
export const FUSED_ATTENTION_OP = 'com.microsoft.MultiHeadAttention';
/** A rewritten float32 component must agree with the original within this on the check input. */
export const EQUIVALENCE_TOLERANCE = 1e-4;
/**
 * A float16 component made float32: ‖float32 − float16 original‖₂ within this share of
 * ‖original‖₂. The float32 copy computes exactly with the same weights; the difference is the
 * original's own rounding of every intermediate to float16 (measured 1.0–1.1e-3 on the generated
 * random UNets, 3–4e-4 on their VAE and text encoder), so the bound is a little above that.
 */
export const FLOAT32_CONVERSION_TOLERANCE = 2e-3;

export class OptimizeRefusedError extends Error {
  override name = 'OptimizeRefusedError';
}

export interface OptimizeResult {
  outDir: string;
  attentionRewritten: number;
  nodesRemoved: number;
  /** Largest |optimised − original| of the UNet on the check input. */
  maxDifference: number;
  /** Attention blocks fused in the VAE encoder and decoder together (their mid-block attention). */
  vaeAttentionRewritten: number;
  /** Component folders turned from float16 into float32 (CPU only; empty for float32 models). */
  convertedToFloat32: string[];
  /** Casts that converted float32 to float32 after that, removed. */
  castsRemoved: number;
  /** Every rewritten component's equivalence check. */
  checks: PartCheck[];
}

type Style = 'heads-in-batch-mul' | 'heads-in-batch-div' | 'sdpa';

interface Graph {
  nodes: P.INodeProto[];
  producers: Map<string, P.INodeProto>;
  consumers: Map<string, P.INodeProto[]>;
  constants: Map<string, number[]>;
  outputs: Set<string>;
}

interface Match {
  style: Style;
  query: string;
  key: string;
  value: string;
  heads: number;
  scale: number;
  /** The value the fused node produces in place of the pattern's last Reshape. */
  output: string;
  /** Pattern nodes to remove (shape arithmetic feeding them dies with them). */
  nodes: P.INodeProto[];
}

class NoMatch extends Error {}

function fail(reason: string): never {
  throw new NoMatch(reason);
}

function indexGraph(graph: P.IGraphProto): Graph {
  const nodes = [...(graph.node ?? [])];
  const producers = new Map<string, P.INodeProto>();
  const consumers = new Map<string, P.INodeProto[]>();
  for (const node of nodes) {
    for (const output of node.output ?? []) producers.set(output, node);
    for (const input of node.input ?? []) {
      if (input === '') continue;
      const list = consumers.get(input) ?? [];
      list.push(node);
      consumers.set(input, list);
    }
  }
  const constants = new Map<string, number[]>();
  for (const tensor of graph.initializer ?? []) {
    const values = tensorValues(tensor);
    if (values && tensor.name) constants.set(tensor.name, values);
  }
  for (const node of nodes) {
    if (node.opType !== 'Constant') continue;
    const value = node.attribute?.find((a) => a.name === 'value')?.t;
    const values = value ? tensorValues(value) : undefined;
    if (values && node.output?.[0]) constants.set(node.output[0], values);
  }
  return {
    nodes,
    producers,
    consumers,
    constants,
    outputs: new Set((graph.output ?? []).map((o) => o.name ?? '')),
  };
}

/** Values of a small inline tensor (float32, float16, int64, int32, double); undefined otherwise. */
function tensorValues(tensor: P.ITensorProto): number[] | undefined {
  const count = (tensor.dims ?? []).reduce<number>((a, b) => a * toNumber(b), 1);
  if (count > 16) return undefined;
  const T = onnx.TensorProto.DataType;
  const raw = tensor.rawData && tensor.rawData.length > 0 ? tensor.rawData : undefined;
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : undefined;
  const read = (
    bytes: number,
    get: (offset: number) => number,
    fallback: ArrayLike<unknown> | null | undefined,
  ) =>
    view ? Array.from({ length: count }, (_, i) => get(i * bytes)) : Array.from(fallback ?? [], toNumber);
  switch (tensor.dataType) {
    case T.FLOAT:
      return read(4, (o) => view!.getFloat32(o, true), tensor.floatData);
    case T.DOUBLE:
      return read(8, (o) => view!.getFloat64(o, true), tensor.doubleData);
    case T.INT64:
      return read(8, (o) => Number(view!.getBigInt64(o, true)), tensor.int64Data);
    case T.INT32:
      return read(4, (o) => view!.getInt32(o, true), tensor.int32Data);
    case T.FLOAT16:
      return read(2, (o) => halfToFloat(view!.getUint16(o, true)), tensor.int32Data);
    default:
      return undefined;
  }
}

/** protobufjs hands int64 fields back as Long objects or numbers. */
function toNumber(value: unknown): number {
  if (typeof value === 'object' && value !== null && 'toNumber' in value)
    return (value as { toNumber(): number }).toNumber();
  return Number(value);
}

function halfToFloat(bits: number): number {
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  const sign = bits & 0x8000 ? -1 : 1;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

function intsAttr(node: P.INodeProto, name: string): number[] | undefined {
  const attribute = node.attribute?.find((a) => a.name === name);
  return attribute?.ints?.map(toNumber);
}

function sameList(a: readonly number[] | undefined, b: readonly number[]): boolean {
  return a !== undefined && a.length === b.length && a.every((v, i) => v === b[i]);
}

function describeNode(node: P.INodeProto | undefined): string {
  return node ? `${node.opType} '${node.name ?? node.output?.[0] ?? '?'}'` : 'a graph input';
}

/** The node producing `value`, which must be `op` and feed nothing but the pattern. */
function only(g: Graph, value: string | null | undefined, op: string): P.INodeProto {
  const node = value ? g.producers.get(value) : undefined;
  if (!node || node.opType !== op) fail(`expected ${op} before '${value}', found ${describeNode(node)}`);
  if (g.outputs.has(value!)) fail(`'${value}' is a graph output`);
  const users = g.consumers.get(value!) ?? [];
  if (users.length !== 1) fail(`'${value}' feeds ${users.length} nodes, the pattern needs it to feed one`);
  return node;
}

function constant(g: Graph, value: string | null | undefined, what: string): number[] {
  const values = value ? g.constants.get(value) : undefined;
  if (!values) fail(`${what} ('${value}') is not a constant`);
  return values;
}

function scalar(g: Graph, value: string | null | undefined, what: string): number {
  const values = constant(g, value, what);
  if (values.length !== 1 || !Number.isFinite(values[0])) fail(`${what} is not one finite number`);
  return values[0]!;
}

/** x → Reshape [0, 0, H, d] → Transpose(perm): returns x, H and d. */
function splitHeads(g: Graph, value: string, perm: number[], nodes: P.INodeProto[]) {
  const transpose = only(g, value, 'Transpose');
  if (!sameList(intsAttr(transpose, 'perm'), perm))
    fail(`${describeNode(transpose)} has perm other than [${perm}]`);
  const reshape = only(g, transpose.input?.[0], 'Reshape');
  const shape = constant(g, reshape.input?.[1], 'the head split shape');
  if (shape.length !== 4 || shape[0] !== 0 || shape[1] !== 0 || !(shape[2]! > 0) || !(shape[3]! > 0))
    fail(`${describeNode(reshape)} splits to [${shape}], not [0, 0, heads, head size]`);
  nodes.push(transpose, reshape);
  return { source: reshape.input![0]!, heads: shape[2]!, headSize: shape[3]! };
}

/** Heads moved into the batch: Reshape(split-heads x, [-1, tokens, d]). */
function headsInBatch(g: Graph, value: string, nodes: P.INodeProto[]) {
  const reshape = only(g, value, 'Reshape');
  nodes.push(reshape);
  const split = splitHeads(g, reshape.input![0]!, [0, 2, 1, 3], nodes);
  // The target shape is computed from x's shape at run time ([-1, N, d]); its last entry must be d.
  const shapeNode = g.producers.get(reshape.input?.[1] ?? '');
  const last = shapeNode?.opType === 'Concat' ? shapeNode.input?.[shapeNode.input.length - 1] : undefined;
  const target = reshape.input?.[1] ? g.constants.get(reshape.input[1]) : undefined;
  const lastValue = target ? target[target.length - 1] : last ? scalar(g, last, 'the head size') : undefined;
  if (lastValue !== split.headSize) fail(`${describeNode(reshape)} does not fold heads into the batch`);
  return split;
}

function matchAt(g: Graph, softmax: P.INodeProto): Match {
  const axis = softmax.attribute?.find((a) => a.name === 'axis');
  if (axis && ![-1, 2, 3].includes(toNumber(axis.i)))
    fail(`${describeNode(softmax)} is not over the last axis`);
  const nodes: P.INodeProto[] = [softmax];
  const users = g.consumers.get(softmax.output![0]!) ?? [];
  if (users.length !== 1 || users[0]!.opType !== 'MatMul' || users[0]!.input?.[0] !== softmax.output![0])
    fail(`${describeNode(softmax)} does not feed exactly one MatMul as its left operand`);
  const context = users[0]!;
  nodes.push(context);
  const scoresNode = only(g, softmax.input?.[0], g.producers.get(softmax.input?.[0] ?? '')?.opType ?? '?');

  if (scoresNode.opType === 'MatMul') {
    // torch 2 SDPA: MatMul(Mul(q4, r), Mul(kᵀ4, r)).
    nodes.push(scoresNode);
    const qScale = only(g, scoresNode.input?.[0], 'Mul');
    const kScale = only(g, scoresNode.input?.[1], 'Mul');
    nodes.push(qScale, kScale);
    const rq = scalar(g, qScale.input?.[1], 'the query scale');
    const rk = scalar(g, kScale.input?.[1], 'the key scale');
    const q = splitHeads(g, qScale.input![0]!, [0, 2, 1, 3], nodes);
    const k = splitHeads(g, kScale.input![0]!, [0, 2, 3, 1], nodes);
    const v = splitHeads(g, context.input![1]!, [0, 2, 1, 3], nodes);
    const output = mergeHeads(g, context.output![0]!, q.heads * q.headSize, nodes, false);
    checkHeads([q, k, v]);
    return {
      style: 'sdpa',
      query: q.source,
      key: k.source,
      value: v.source,
      heads: q.heads,
      scale: rq * rk,
      output,
      nodes,
    };
  }

  if (scoresNode.opType !== 'Mul' && scoresNode.opType !== 'Div')
    fail(`${describeNode(softmax)} reads ${describeNode(scoresNode)}, not MatMul, Mul or Div`);
  nodes.push(scoresNode);
  const factor = scalar(g, scoresNode.input?.[1], 'the attention scale');
  const product = only(g, scoresNode.input?.[0], 'MatMul');
  nodes.push(product);
  const kT = only(g, product.input?.[1], 'Transpose');
  if (!sameList(intsAttr(kT, 'perm'), [0, 2, 1])) fail(`${describeNode(kT)} does not transpose the keys`);
  nodes.push(kT);
  const q = headsInBatch(g, product.input![0]!, nodes);
  const k = headsInBatch(g, kT.input![0]!, nodes);
  const v = headsInBatch(g, context.input![1]!, nodes);
  checkHeads([q, k, v]);
  const output = mergeHeads(g, context.output![0]!, q.heads * q.headSize, nodes, true);
  const style = scoresNode.opType === 'Mul' ? 'heads-in-batch-mul' : 'heads-in-batch-div';
  const scale = style === 'heads-in-batch-mul' ? factor : 1 / factor;
  return { style, query: q.source, key: k.source, value: v.source, heads: q.heads, scale, output, nodes };
}

function checkHeads(parts: { heads: number; headSize: number }[]): void {
  const [q, ...rest] = parts;
  for (const part of rest)
    if (part.heads !== q!.heads || part.headSize !== q!.headSize)
      fail('query, key and value split into different heads');
}

/** [B(·H), H?, N, d] → (Reshape [B, H, N, d]) → Transpose [0,2,1,3] → Reshape [0, 0, H·d]. */
function mergeHeads(g: Graph, value: string, dim: number, nodes: P.INodeProto[], fromBatch: boolean): string {
  let current = value;
  if (fromBatch) {
    const users = g.consumers.get(current) ?? [];
    if (users.length !== 1 || users[0]!.opType !== 'Reshape')
      fail(`'${current}' is not reshaped back to heads`);
    nodes.push(users[0]!);
    current = users[0]!.output![0]!;
  }
  const transposeUsers = g.consumers.get(current) ?? [];
  const transpose = transposeUsers[0];
  if (
    transposeUsers.length !== 1 ||
    transpose?.opType !== 'Transpose' ||
    !sameList(intsAttr(transpose, 'perm'), [0, 2, 1, 3])
  )
    fail(`'${current}' is not transposed back to [batch, tokens, heads, head size]`);
  nodes.push(transpose);
  const reshapeUsers = g.consumers.get(transpose.output![0]!) ?? [];
  const reshape = reshapeUsers[0];
  if (reshapeUsers.length !== 1 || reshape?.opType !== 'Reshape')
    fail(`'${transpose.output![0]}' is not merged`);
  const shape = constant(g, reshape.input?.[1], 'the merge shape');
  if (!sameList(shape, [0, 0, dim]))
    fail(`${describeNode(reshape)} merges to [${shape}], not [0, 0, ${dim}]`);
  nodes.push(reshape);
  return reshape.output![0]!;
}

/** Removes nodes whose outputs nothing reads (shape arithmetic the rewrite left behind). */
function removeDead(nodes: P.INodeProto[], graphOutputs: Set<string>): P.INodeProto[] {
  let live = nodes;
  for (;;) {
    const read = new Set<string>(graphOutputs);
    for (const node of live) for (const input of node.input ?? []) read.add(input);
    const next = live.filter((node) => (node.output ?? []).some((output) => read.has(output)));
    if (next.length === live.length) return live;
    live = next;
  }
}

/**
 * Rewrites the attention of a graph in place (the UNet's unless `part` names another); throws
 * OptimizeRefusedError unless all match. A part other than the UNet may have no attention at all.
 */
export function fuseAttention(
  model: P.IModelProto,
  part: { label: string; attentionRequired: boolean } = { label: 'the UNet', attentionRequired: true },
): { rewritten: number; removed: number } {
  const graph = model.graph;
  if (!graph) throw new OptimizeRefusedError(`${part.label} file holds no graph`);
  const g = indexGraph(graph);
  const softmaxes = g.nodes.filter((node) => node.opType === 'Softmax');
  if (softmaxes.length === 0) {
    if (!part.attentionRequired) return { rewritten: 0, removed: 0 };
    throw new OptimizeRefusedError(`${part.label} has no Softmax: no attention to fuse`);
  }
  if (
    (graph.input ?? []).some(
      (input) => input.type?.tensorType?.elemType === onnx.TensorProto.DataType.FLOAT16,
    )
  )
    throw new OptimizeRefusedError(
      `${part.label} computes in float16; onnxruntime runs MultiHeadAttention on the CPU in float32 only`,
    );
  const matches: Match[] = [];
  const problems: string[] = [];
  for (const softmax of softmaxes) {
    try {
      matches.push(matchAt(g, softmax));
    } catch (error) {
      if (!(error instanceof NoMatch)) throw error;
      problems.push(`${describeNode(softmax)}: ${error.message}`);
    }
  }
  if (problems.length > 0) {
    throw new OptimizeRefusedError(
      `${problems.length} of ${softmaxes.length} attention blocks ${part.label === 'the UNet' ? '' : `of ${part.label} `}` +
        `do not match a known export pattern exactly, so nothing was rewritten: ${problems.slice(0, 3).join('; ')}`,
    );
  }
  const removed = new Set<P.INodeProto>(matches.flatMap((match) => match.nodes));
  const before = g.nodes.length;
  let nodes: P.INodeProto[] = [];
  for (const node of g.nodes) {
    const match = matches.find((m) => m.nodes[m.nodes.length - 1] === node);
    if (match) {
      nodes.push({
        opType: 'MultiHeadAttention',
        domain: 'com.microsoft',
        name: `fused_attention_${matches.indexOf(match)}`,
        input: [match.query, match.key, match.value],
        output: [match.output],
        attribute: [
          { name: 'num_heads', type: onnx.AttributeProto.AttributeType.INT, i: match.heads },
          { name: 'scale', type: onnx.AttributeProto.AttributeType.FLOAT, f: match.scale },
        ],
      });
    } else if (!removed.has(node)) {
      nodes.push(node);
    }
  }
  // The fused node must come after its inputs: keep it where the pattern ended (its last node).
  nodes = removeDead(nodes, g.outputs);
  graph.node = nodes;
  const used = new Set(nodes.flatMap((node) => node.input ?? []));
  graph.initializer = (graph.initializer ?? []).filter((tensor) => used.has(tensor.name ?? ''));
  const imports = model.opsetImport ?? [];
  if (!imports.some((entry) => entry.domain === 'com.microsoft'))
    model.opsetImport = [...imports, { domain: 'com.microsoft', version: 1 }];
  return { rewritten: matches.length, removed: before - nodes.length };
}

/** Hard-links (or copies) every file of `from` into `to`, recursively. */
function linkTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) linkTree(source, target);
    else if (entry.isFile()) {
      try {
        linkSync(source, target);
      } catch {
        copyFileSync(source, target);
      }
    }
  }
}

type Part = 'textEncoder' | 'unet' | 'vaeEncoder' | 'vaeDecoder';
const PARTS: Part[] = ['textEncoder', 'unet', 'vaeEncoder', 'vaeDecoder'];
const PART_DIRS: Record<Part, string> = {
  textEncoder: 'text_encoder',
  unet: 'unet',
  vaeEncoder: 'vae_encoder',
  vaeDecoder: 'vae_decoder',
};
const PART_LABELS: Record<Part, string> = {
  textEncoder: 'the text encoder',
  unet: 'the UNet',
  vaeEncoder: 'the VAE encoder',
  vaeDecoder: 'the VAE decoder',
};

const wave = (count: number, k: number) => Float32Array.from({ length: count }, (_, i) => Math.sin(i * k));

/** Fixed small inputs for the equivalence check: 16×16 latents (a 128×128 picture), batch 1. */
function checkValues(
  part: Part,
  session: OnnxSession,
): Record<string, { dims: number[]; values: Float32Array }> {
  const byName = new Map(session.inputs.map((input) => [input.name, input]));
  const first = session.inputs[0]!.name;
  switch (part) {
    case 'unet': {
      const hidden = byName.get('encoder_hidden_states');
      const dim = typeof hidden?.shape[2] === 'number' ? hidden.shape[2] : 768;
      const timestep = byName.get('timestep');
      return {
        sample: { dims: [1, 8, 16, 16], values: wave(8 * 16 * 16, 0.37) },
        timestep: { dims: timestep?.shape.length === 0 ? [] : [1], values: Float32Array.of(421) },
        encoder_hidden_states: { dims: [1, 77, dim], values: wave(77 * dim, 0.11) },
      };
    }
    case 'vaeEncoder':
      return { [first]: { dims: [1, 3, 128, 128], values: wave(3 * 128 * 128, 0.013) } };
    case 'vaeDecoder':
      return { [first]: { dims: [1, 4, 16, 16], values: wave(4 * 16 * 16, 0.29) } };
    case 'textEncoder':
      // Token ids 0..199 and, last, the largest (CLIP pools at the end-of-text token).
      return {
        [first]: {
          dims: [1, 77],
          values: Float32Array.from({ length: 77 }, (_, i) => (i === 76 ? 255 : (i * 13) % 200)),
        },
      };
  }
}

/** The check values as `session` takes them (float16 values are rounded for both sessions alike). */
function feedsFor(
  session: OnnxSession,
  values: Record<string, { dims: number[]; values: Float32Array }>,
): Record<string, TensorData> {
  const feeds: Record<string, TensorData> = {};
  for (const input of session.inputs) {
    const value = values[input.name];
    if (!value)
      throw new OptimizeRefusedError(`${session.label} has an input '${input.name}' the check does not know`);
    const { dims } = value;
    switch (input.type) {
      case 'float16':
        feeds[input.name] = { type: 'float16', dims, data: toFloat16Bits(value.values) };
        break;
      case 'int64':
        feeds[input.name] = {
          type: 'int64',
          dims,
          data: BigInt64Array.from(value.values, (v) => BigInt(Math.round(v))),
        };
        break;
      case 'int32':
        feeds[input.name] = { type: 'int32', dims, data: Int32Array.from(value.values, Math.round) };
        break;
      default:
        feeds[input.name] = { type: 'float32', dims, data: value.values };
    }
  }
  return feeds;
}

async function runPart(
  part: Part,
  path: string,
  values?: Record<string, { dims: number[]; values: Float32Array }>,
): Promise<{ outputs: Float32Array[]; values: Record<string, { dims: number[]; values: Float32Array }> }> {
  const session = await openSession(path, `${PART_DIRS[part]}/model.onnx`, 'cpu', undefined);
  try {
    let checkInput = values ?? checkValues(part, session);
    if (!values && session.inputs.some((input) => input.type === 'float16')) {
      // Both sessions get the float16-rounded values.
      checkInput = Object.fromEntries(
        Object.entries(checkInput).map(([name, v]) => [
          name,
          { dims: v.dims, values: fromFloat16(toFloat16Bits(v.values)) },
        ]),
      );
    }
    const result = await session.run(feedsFor(session, checkInput));
    const outputs = session.outputs.map((output) => {
      const tensor = result[output.name]!;
      return tensor.type === 'float16'
        ? fromFloat16(tensor.data as Uint16Array)
        : Float32Array.from(tensor.data as ArrayLike<number>);
    });
    return { outputs, values: checkInput };
  } finally {
    await session.dispose();
  }
}

/** One part's equivalence check over all its outputs on the check input. */
export interface PartCheck {
  part: Part;
  /** Largest |optimised − original|. */
  maxDifference: number;
  largestValue: number;
  /** ‖optimised − original‖₂ / ‖original‖₂. */
  relativeDifference: number;
  /**
   * What was checked: maxDifference ≤ EQUIVALENCE_TOLERANCE, or for a float16 part made float32
   * relativeDifference ≤ FLOAT32_CONVERSION_TOLERANCE (the float16 original rounds its own output).
   */
  criterion: 'absolute' | 'relative';
}

async function checkPart(
  part: Part,
  original: string,
  optimised: string,
  converted: boolean,
): Promise<PartCheck> {
  const before = await runPart(part, original);
  const after = await runPart(part, optimised, before.values);
  let maxDifference = 0;
  let largestValue = 0;
  let squaredDifference = 0;
  let squaredValue = 0;
  before.outputs.forEach((values, k) => {
    const other = after.outputs[k]!;
    for (let i = 0; i < values.length; i++) {
      const difference = Math.abs(values[i]! - other[i]!);
      maxDifference = Math.max(maxDifference, difference);
      largestValue = Math.max(largestValue, Math.abs(values[i]!));
      squaredDifference += difference * difference;
      squaredValue += values[i]! * values[i]!;
    }
  });
  const relativeDifference = Math.sqrt(squaredDifference / squaredValue);
  const criterion = converted ? 'relative' : 'absolute';
  const [measured, allowed] = converted
    ? [relativeDifference, FLOAT32_CONVERSION_TOLERANCE]
    : [maxDifference, EQUIVALENCE_TOLERANCE];
  if (!(measured <= allowed))
    throw new OptimizeRefusedError(
      `the rewritten ${PART_LABELS[part].replace('the ', '')} differs from the original by ` +
        `${measured.toExponential(2)}${converted ? ' (relative)' : ''}, allowed ${allowed}`,
    );
  return { part, maxDifference, largestValue, relativeDifference, criterion };
}

export interface OptimizeOptions {
  /**
   * The execution provider the copy is for. On 'cpu' (the default) a float16 model becomes float32
   * (onnxruntime's CPU kernels are float32: it would cast at every run and keep both copies of the
   * weights); on other providers float16 models are refused (the fused-attention check runs on the
   * CPU, in float32).
   */
  provider?: string;
}

/**
 * Writes an optimised copy of the model folder `dir` to `outDir` (default: `<dir>-optimized`
 * beside it): UNet and VAE attention fused, float16 turned into float32 on the CPU. The source
 * folder is never changed; on refusal or a failed check nothing is left.
 */
export async function optimizeModelFolder(
  dir: string,
  outDir = `${resolve(dir)}-optimized`,
  options: OptimizeOptions = {},
): Promise<OptimizeResult> {
  const layout = inspectModelFolder(dir);
  if (resolve(outDir) === resolve(dir))
    throw new OptimizeRefusedError('--out is the model folder itself; choose another');
  if (existsSync(outDir) && readdirSync(outDir).length > 0)
    throw new OptimizeRefusedError(`${outDir} exists and is not empty`);
  if (existsSync(join(dir, 'unet', OPTIMIZATION_FILE)))
    throw new OptimizeRefusedError(`${dir} is already optimised`);
  const provider = options.provider ?? 'cpu';

  const models = {} as Record<Part, P.IModelProto>;
  for (const part of PARTS) models[part] = onnx.ModelProto.decode(readFileSync(layout.paths[part]));
  const toFloat32 = provider === 'cpu' && usesFloat16(models.unet);
  const conversions = new Map<Part, Float32Conversion>();
  if (toFloat32) {
    for (const part of PARTS) {
      if (!usesFloat16(models[part])) continue;
      try {
        conversions.set(part, convertToFloat32(models[part], dirname(layout.paths[part])));
      } catch (error) {
        if (!(error instanceof Float32ConversionError)) throw error;
        throw new OptimizeRefusedError(`${PART_LABELS[part]} cannot be made float32: ${error.message}`);
      }
    }
  }
  const { rewritten, removed } = fuseAttention(models.unet);
  const fusedVae = { vaeEncoder: 0, vaeDecoder: 0 };
  for (const part of ['vaeEncoder', 'vaeDecoder'] as const)
    fusedVae[part] = fuseAttention(models[part], {
      label: PART_LABELS[part],
      attentionRequired: false,
    }).rewritten;
  const changed = PARTS.filter(
    (part) => conversions.has(part) || part === 'unet' || (part !== 'textEncoder' && fusedVae[part] > 0),
  );

  const created = !existsSync(outDir);
  try {
    linkTree(dir, outDir);
    for (const part of changed) {
      const partDir = join(outDir, PART_DIRS[part]);
      const conversion = conversions.get(part);
      if (conversion) {
        // The graph and its weights are new files; the hard links to the source's go first.
        for (const name of readdirSync(partDir))
          if (!name.endsWith('.json') && !name.endsWith('.txt')) rmSync(join(partDir, name));
        await writeModel(models[part], partDir, conversion.pending);
      } else {
        const path = join(partDir, 'model.onnx');
        rmSync(path);
        await writeFile(path, onnx.ModelProto.encode(models[part]).finish());
      }
    }
    const checks: PartCheck[] = [];
    for (const part of changed)
      checks.push(
        await checkPart(
          part,
          layout.paths[part],
          join(outDir, PART_DIRS[part], 'model.onnx'),
          conversions.has(part),
        ),
      );
    const unetCheck = checks.find((check) => check.part === 'unet')!;
    const castsRemoved = [...conversions.values()].reduce((sum, c) => sum + c.castsRemoved, 0);
    await writeFile(
      join(outDir, 'unet', OPTIMIZATION_FILE),
      `${JSON.stringify(
        {
          attention: FUSED_ATTENTION_OP,
          attentionRewritten: rewritten,
          vaeAttentionRewritten: fusedVae,
          float16ToFloat32: [...conversions.keys()].map((part) => PART_DIRS[part]),
          castsRemoved,
          provider,
          source: resolve(dir),
          sourceUnetBytes: statSync(layout.paths.unet).size,
          maxDifference: unetCheck.maxDifference,
          checks: checks.map((check) => ({ ...check, part: PART_DIRS[check.part] })),
        },
        null,
        2,
      )}\n`,
    );
    return {
      outDir,
      attentionRewritten: rewritten,
      nodesRemoved: removed,
      maxDifference: unetCheck.maxDifference,
      vaeAttentionRewritten: fusedVae.vaeEncoder + fusedVae.vaeDecoder,
      convertedToFloat32: [...conversions.keys()].map((part) => PART_DIRS[part]),
      castsRemoved,
      checks,
    };
  } catch (error) {
    if (created) rmSync(outDir, { recursive: true, force: true });
    else
      for (const entry of readdirSync(outDir)) rmSync(join(outDir, entry), { recursive: true, force: true });
    throw error;
  }
}

export function defaultOptimizedDir(dir: string): string {
  return join(dirname(resolve(dir)), `${basename(resolve(dir))}-optimized`);
}
