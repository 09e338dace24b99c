/**
 * The only file that imports onnxruntime-node. Everything else in the engine works with
 * `OnnxSession` and plain typed arrays, so the runtime can be swapped or mocked in one place.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import type { ProviderName, TensorInfo } from '../../shared/engine-types';

export type TensorElementType = 'float32' | 'float16' | 'int32' | 'int64';
export type TensorArray = Float32Array | Uint16Array | Int32Array | BigInt64Array;

export interface TensorData {
  type: TensorElementType;
  dims: readonly number[];
  data: TensorArray;
}

export interface OnnxSession {
  /** Path relative to the model folder, for messages (e.g. "unet/model.onnx"). */
  readonly label: string;
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  /** Calls of `run` and the milliseconds spent inside onnxruntime's own run, for overhead figures. */
  readonly stats: { runs: number; runMs: number };
  run(
    feeds: Record<string, TensorData>,
    outputNames?: readonly string[],
  ): Promise<Record<string, TensorData>>;
  dispose(): Promise<void>;
}

/** Execution providers onnxruntime-node knows, by our short names. */
const ORT_PROVIDER_NAME: Record<Exclude<ProviderName, 'auto'>, string> = {
  cpu: 'cpu',
  cuda: 'cuda',
  dml: 'dml',
  coreml: 'coreml',
  webgpu: 'webgpu',
};

export class ProviderUnavailableError extends Error {
  override name = 'ProviderUnavailableError';
}

/** What `auto` tries on this platform, best first; CPU is always the last resort. */
export function autoProviderOrder(
  platform: NodeJS.Platform = process.platform,
): Exclude<ProviderName, 'auto'>[] {
  switch (platform) {
    case 'win32':
      return ['dml', 'webgpu', 'cpu'];
    case 'darwin':
      return ['coreml', 'webgpu', 'cpu'];
    default:
      return ['cuda', 'webgpu', 'cpu'];
  }
}

function supportedBackends(): Map<string, boolean> {
  return new Map(ort.listSupportedBackends().map((backend) => [backend.name, backend.bundled]));
}

/** CUDA ships separately (npm run install:cuda); its provider library sits beside the binding. */
function cudaProviderInstalled(): boolean {
  try {
    const resolver = typeof require === 'function' ? require : createRequire(import.meta.url);
    const bindingDir = dirname(resolver.resolve('onnxruntime-node/package.json'));
    const libDir = join(bindingDir, 'bin', 'napi-v6', process.platform, process.arch);
    return (
      existsSync(join(libDir, 'libonnxruntime_providers_cuda.so')) ||
      existsSync(join(libDir, 'onnxruntime_providers_cuda.dll'))
    );
  } catch {
    return false;
  }
}

/** Why a provider cannot be used on this machine, or undefined when it may be tried. */
export function providerUnavailableReason(provider: Exclude<ProviderName, 'auto'>): string | undefined {
  const backends = supportedBackends();
  const name = ORT_PROVIDER_NAME[provider];
  if (!backends.has(name)) {
    return `${provider} is not supported by onnxruntime-node on ${process.platform}/${process.arch}`;
  }
  if (provider === 'cuda' && !backends.get(name) && !cudaProviderInstalled()) {
    return 'the CUDA provider is not installed (run `npm run install:cuda`, which needs internet and CUDA 12)';
  }
  return undefined;
}

export interface SessionFactory {
  /** The provider sessions are created with, after `auto` was resolved. */
  readonly provider: Exclude<ProviderName, 'auto'>;
  /** Set when `auto` fell back to a lesser provider: shown to the user. */
  readonly notice?: string;
  create(modelPath: string, label: string): Promise<OnnxSession>;
}

export interface SessionFactoryOptions {
  provider: ProviderName;
  /** Threads for CPU inference; defaults to onnxruntime's choice. */
  intraOpNumThreads?: number;
}

/**
 * Resolves the execution provider by creating the probe model's session with each candidate.
 * An explicit provider that fails is an error; `auto` falls back and says so in `notice`.
 */
export async function createSessionFactory(
  probeModelPath: string,
  probeLabel: string,
  options: SessionFactoryOptions,
): Promise<{ factory: SessionFactory; probe: OnnxSession }> {
  const candidates = options.provider === 'auto' ? autoProviderOrder() : [options.provider];
  const failures: string[] = [];
  for (const provider of candidates) {
    const reason = providerUnavailableReason(provider);
    if (reason) {
      failures.push(`${provider}: ${reason}`);
      continue;
    }
    try {
      const probe = await openSession(probeModelPath, probeLabel, provider, options.intraOpNumThreads);
      const notice =
        options.provider === 'auto' && failures.length > 0
          ? `Using the ${provider} execution provider; not available: ${failures.join('; ')}`
          : undefined;
      const factory: SessionFactory = {
        provider,
        notice,
        create: (modelPath, label) => openSession(modelPath, label, provider, options.intraOpNumThreads),
      };
      return { factory, probe };
    } catch (error) {
      const message = errorMessage(error);
      if (options.provider !== 'auto' || provider === 'cpu') {
        if (provider === 'cpu') throw error;
        throw new ProviderUnavailableError(`The ${provider} execution provider could not start: ${message}`);
      }
      failures.push(`${provider}: ${readableProviderFailure(message)}`);
    }
  }
  throw new ProviderUnavailableError(
    `The ${options.provider} execution provider is not available: ${failures.join('; ')}`,
  );
}

export interface SessionMemoryOptions {
  /** Threads for CPU inference (intra-op); undefined = onnxruntime's choice (one per core). */
  intraOpNumThreads?: number;
}

/**
 * onnxruntime session options. The memory pattern stays off: with it, every run of a dynamic-shape
 * UNet or VAE plans and allocates a fresh activation block it cannot reuse (a 512² edit peaked at
 * 10.3 GB with it, 6.1 GB without, and ran faster). The CPU arena stays on: off, it returned the
 * UNet's activations before the VAE ran (−0.25 GB at 256²) but UNet steps took twice as long.
 */
export function buildSessionOptions(
  provider: Exclude<ProviderName, 'auto'>,
  memory: SessionMemoryOptions,
): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [ORT_PROVIDER_NAME[provider]],
    graphOptimizationLevel: 'all',
    enableMemPattern: false,
    executionMode: 'sequential',
    ...(memory.intraOpNumThreads ? { intraOpNumThreads: memory.intraOpNumThreads } : {}),
  };
}

async function openSession(
  modelPath: string,
  label: string,
  provider: Exclude<ProviderName, 'auto'>,
  intraOpNumThreads: number | undefined,
): Promise<OnnxSession> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(
      modelPath,
      buildSessionOptions(provider, { intraOpNumThreads }),
    );
  } catch (error) {
    // Keep provider failures distinguishable from a broken file.
    if (provider !== 'cpu') throw error;
    throw new Error(`Could not load ${label}: ${firstLine(errorMessage(error))}`, { cause: error });
  }
  return wrapSession(session, label);
}

function describe(metadata: readonly ort.InferenceSession.ValueMetadata[]): TensorInfo[] {
  return metadata.map((value) =>
    value.isTensor
      ? { name: value.name, type: value.type, shape: [...value.shape] }
      : { name: value.name, type: 'non-tensor', shape: [] },
  );
}

function wrapSession(session: ort.InferenceSession, label: string): OnnxSession {
  const inputs = describe(session.inputMetadata);
  const outputs = describe(session.outputMetadata);
  const stats = { runs: 0, runMs: 0 };
  return {
    label,
    inputs,
    outputs,
    stats,
    async run(feeds, outputNames) {
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [name, tensor] of Object.entries(feeds)) {
        ortFeeds[name] = new ort.Tensor(tensor.type, tensor.data, tensor.dims);
      }
      const started = performance.now();
      const results = outputNames
        ? await session.run(ortFeeds, outputNames as string[])
        : await session.run(ortFeeds);
      stats.runMs += performance.now() - started;
      stats.runs++;
      const out: Record<string, TensorData> = {};
      for (const [name, value] of Object.entries(results)) {
        out[name] = {
          type: value.type as TensorElementType,
          dims: value.dims,
          data: value.data as TensorArray,
        };
      }
      return out;
    },
    dispose: () => session.release(),
  };
}

/** onnxruntime prefixes provider failures with its source location; keep the part a user can act on. */
function readableProviderFailure(message: string): string {
  const adapter = /Failed to get a WebGPU adapter: ([^\n]*)/.exec(message);
  if (adapter) return `no usable GPU adapter (${adapter[1]})`;
  return firstLine(message).replace(/^\S+\.(?:cc|cpp|h):\d+ \S+(?: \S+)*? (?=[A-Z])/, '');
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}
