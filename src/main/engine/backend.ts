/**
 * The only file that imports onnxruntime-node. Everything else in the engine works with
 * `OnnxSession` and plain typed arrays, so the runtime can be swapped or mocked in one place.
 */
import { execFileSync } from 'node:child_process';
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
const ORT_PROVIDER_NAME: Record<ConcreteProvider, string> = {
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
export function autoProviderOrder(platform: NodeJS.Platform = process.platform): ConcreteProvider[] {
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

/** Where Linux keeps shared libraries, for finding the Vulkan loader without loading it. */
const LINUX_LIBRARY_DIRS = [
  '/usr/lib/x86_64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/usr/lib64',
  '/usr/lib',
  '/lib/x86_64-linux-gnu',
  '/lib/aarch64-linux-gnu',
  '/lib64',
  '/lib',
  '/usr/local/lib',
];

/**
 * Whether a Vulkan loader is installed (Linux): WebGPU (Dawn) needs one, and without it prints a
 * native warning to stderr on every try. Looks in LD_LIBRARY_PATH, the usual folders and
 * `ldconfig -p`.
 */
export function vulkanLoaderPresent(
  env: NodeJS.ProcessEnv = process.env,
  exists: (path: string) => boolean = existsSync,
  ldconfigListing: () => string = readLdconfigListing,
): boolean {
  const dirs = [...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...LINUX_LIBRARY_DIRS];
  if (dirs.some((dir) => exists(join(dir, VULKAN_LOADER)))) return true;
  return ldconfigListing().includes(VULKAN_LOADER);
}

const VULKAN_LOADER = 'libvulkan.so.1';

function readLdconfigListing(): string {
  for (const ldconfig of ['/sbin/ldconfig', '/usr/sbin/ldconfig', 'ldconfig']) {
    try {
      return execFileSync(ldconfig, ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      /* the next one */
    }
  }
  return '';
}

/** Why a provider cannot be used on this machine, or undefined when it may be tried. */
export function providerUnavailableReason(provider: ConcreteProvider): string | undefined {
  const backends = supportedBackends();
  const name = ORT_PROVIDER_NAME[provider];
  if (!backends.has(name)) {
    return `${provider} is not supported by onnxruntime-node on ${process.platform}/${process.arch}`;
  }
  if (provider === 'cuda' && !backends.get(name) && !cudaProviderInstalled()) {
    return 'the CUDA provider is not installed (run `npm run install:cuda`, which needs internet and CUDA 12)';
  }
  if (provider === 'webgpu' && process.platform === 'linux' && !vulkanLoaderPresent()) {
    return `no Vulkan loader (${VULKAN_LOADER}) is installed`;
  }
  return undefined;
}

/** onnxruntime's own log output: errors only, unless asked for more (`--verbose`). */
export type RuntimeLogLevel = 'warning' | 'error';
let runtimeLogLevel: RuntimeLogLevel = 'error';

/** Sets onnxruntime's log level for the sessions created from now on (and its environment, if not yet started). */
export function setRuntimeLogLevel(level: RuntimeLogLevel): void {
  runtimeLogLevel = level;
  ort.env.logLevel = level;
}
ort.env.logLevel = runtimeLogLevel;

export type ConcreteProvider = Exclude<ProviderName, 'auto'>;

/** Creates one session on one provider; the default is onnxruntime's. Injectable for tests. */
export type SessionOpener = (
  modelPath: string,
  label: string,
  provider: ConcreteProvider,
) => Promise<OnnxSession>;

export interface SessionFactory {
  /**
   * The provider the sessions run on: the one `auto` settled on, or, when some models fell back,
   * a list such as "webgpu, cpu for unet/model.onnx".
   */
  readonly provider: string;
  /** Set when `auto` fell back to a lesser provider, for the whole model or for some of its parts: shown to the user. */
  readonly notice: string | undefined;
  create(modelPath: string, label: string): Promise<OnnxSession>;
}

export interface SessionFactoryOptions {
  provider: ProviderName;
  /** Threads for CPU inference; defaults to onnxruntime's choice. */
  intraOpNumThreads?: number;
  /** Replaces onnxruntime's session creation (tests inject provider failures with it). */
  openSession?: SessionOpener;
  /** What `auto` tries, best first (default: autoProviderOrder()). */
  autoOrder?: readonly ConcreteProvider[];
  /** Why a provider cannot be tried here (default: providerUnavailableReason). */
  unavailableReason?: (provider: ConcreteProvider) => string | undefined;
}

/**
 * Resolves the execution provider by creating the probe model's session with each candidate,
 * then creates every further model on that provider. An explicit provider that fails is an
 * error. `auto` falls back and says so in `notice`: for the whole model when a provider cannot
 * even load the probe, and for one part when a provider loads the probe but rejects a later part
 * (e.g. a 2–3 GB UNet with an operator a GPU provider does not support): that part runs on the
 * next provider that takes it.
 */
export async function createSessionFactory(
  probeModelPath: string,
  probeLabel: string,
  options: SessionFactoryOptions,
): Promise<{ factory: SessionFactory; probe: OnnxSession }> {
  const open: SessionOpener =
    options.openSession ??
    ((modelPath, label, provider) => openSession(modelPath, label, provider, options.intraOpNumThreads));
  const unavailable = options.unavailableReason ?? providerUnavailableReason;
  const requested = options.provider;
  const auto = requested === 'auto';
  const candidates: ConcreteProvider[] =
    requested === 'auto' ? [...(options.autoOrder ?? autoProviderOrder())] : [requested];
  const failures: string[] = [];
  const usable: ConcreteProvider[] = [];
  for (const provider of candidates) {
    const reason = unavailable(provider);
    if (reason) failures.push(`${provider}: ${reason}`);
    else usable.push(provider);
  }
  if (!auto && usable.length === 0) {
    throw new ProviderUnavailableError(
      `The ${options.provider} execution provider is not available: ${failures.join('; ')}`,
    );
  }

  let probe: OnnxSession | null = null;
  let chosen: ConcreteProvider | null = null;
  while (usable.length > 0 && !probe) {
    const provider = usable[0]!;
    try {
      probe = await open(probeModelPath, probeLabel, provider);
      chosen = provider;
    } catch (error) {
      const message = errorMessage(error);
      if (!auto || provider === 'cpu') {
        if (provider === 'cpu') throw error;
        throw new ProviderUnavailableError(`The ${provider} execution provider could not start: ${message}`);
      }
      failures.push(`${provider}: ${readableProviderFailure(message)}`);
      usable.shift();
    }
  }
  if (!probe || !chosen) {
    throw new ProviderUnavailableError(
      `The ${options.provider} execution provider is not available: ${failures.join('; ')}`,
    );
  }

  const wholeModelNotice =
    auto && failures.length > 0
      ? `Using the ${chosen} execution provider; not available: ${failures.join('; ')}`
      : undefined;
  const partFallbacks: { label: string; provider: ConcreteProvider; failures: string[] }[] = [];
  const factory: SessionFactory = {
    get provider() {
      if (partFallbacks.length === 0) return chosen!;
      return [chosen, ...partFallbacks.map((part) => `${part.provider} for ${part.label}`)].join(', ');
    },
    get notice() {
      const parts = partFallbacks.map(
        (part) => `${part.label} runs on ${part.provider} (${part.failures.join('; ')})`,
      );
      const all = [...(wholeModelNotice ? [wholeModelNotice] : []), ...parts];
      return all.length > 0 ? all.join('. ') : undefined;
    },
    async create(modelPath, label) {
      const partFailures: string[] = [];
      for (const provider of usable) {
        try {
          const session = await open(modelPath, label, provider);
          if (partFailures.length > 0) partFallbacks.push({ label, provider, failures: partFailures });
          return session;
        } catch (error) {
          if (!auto || provider === 'cpu') {
            if (provider === 'cpu') throw error;
            throw new ProviderUnavailableError(
              `The ${provider} execution provider could not load ${label}: ${firstLine(errorMessage(error))}`,
            );
          }
          partFailures.push(`${provider} could not load it: ${readableProviderFailure(errorMessage(error))}`);
        }
      }
      throw new ProviderUnavailableError(
        `No execution provider could load ${label}: ${partFailures.join('; ')}`,
      );
    },
  };
  return { factory, probe };
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

/** Creates one onnxruntime session on one provider (what `createSessionFactory` uses by default). */
export async function openSession(
  modelPath: string,
  label: string,
  provider: ConcreteProvider,
  intraOpNumThreads: number | undefined,
): Promise<OnnxSession> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(modelPath, {
      ...buildSessionOptions(provider, { intraOpNumThreads }),
      logSeverityLevel: runtimeLogLevel === 'warning' ? 2 : 3,
    });
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
