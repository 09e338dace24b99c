import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  SCHEDULER_NAMES,
  type EditEngine,
  type EditResult,
  type EditRunOptions,
  type EditSettings,
  type EditTimings,
  type GridResult,
  type GridRunOptions,
  type GridSettings,
  type ModelFlavor,
  type ModelInfo,
  type ProviderName,
  type RgbImage,
} from '../../shared/engine-types';
import { LIMITS } from '../../shared/contract/limits';
import { createSessionFactory, type OnnxSession, type SessionFactoryOptions } from './backend';
import { InvalidSettingsError, throwIfAborted } from './errors';
import { runGridByCells } from './grid-by-cells';
import { combineGuidance, guidanceRows } from './guidance';
import { processingSize, resizeRgb, rgbToTensor, tensorToRgb } from './image-io';
import { LruCache } from './lru-cache';
import {
  formatBytes,
  InsufficientMemoryError,
  largestFittingSize,
  planMemory,
  readModelDimensions,
  resolveMemoryBudget,
  type MemoryBudgetSetting,
  type MemoryPlan,
  type ModelDimensions,
  type UnetBatchMode,
  type VaeSessionMode,
} from './memory-budget';
import { inspectModelFolder, type ModelFolderLayout } from './model-folder';
import { OnDemandModel } from './models/on-demand';
import { TextEncoder } from './models/text-encoder';
import { Unet } from './models/unet';
import { LATENT_CHANNELS, VaeDecoder, VaeEncoder } from './models/vae';
import { latentPreview } from './preview';
import { SeededRandom } from './rng';
import { parseSchedulerConfig } from './schedulers/config';
import { createScheduler } from './schedulers/index';
import type { SchedulerConfig } from './schedulers/scheduler';
import { ClipTokenizer } from './tokenizer';

const DEFAULT_VAE_SCALING_FACTOR = 0.18215;
const TEXT_CACHE_ENTRIES = 64;
const IMAGE_LATENT_CACHE_ENTRIES = 8;

export interface PipelineLoadOptions {
  provider?: ProviderName;
  /** Bytes an edit may use, or 'auto' (the machine's free memory; see memory-budget.ts). Default auto. */
  memoryBudget?: MemoryBudgetSetting;
  /** onnxruntime's intra-op threads; undefined = one per core. */
  threads?: number;
  /** What the budget would choose, overridden: all guidance rows in one UNet call, or one by one. */
  unetBatch?: UnetBatchMode;
  /** What the budget would choose, overridden: VAE sessions kept loaded, or opened for each use. */
  vaeSessions?: VaeSessionMode;
  /** How sessions are created and which providers `auto` tries (tests inject provider failures). */
  sessions?: Pick<SessionFactoryOptions, 'openSession' | 'autoOrder' | 'unavailableReason'>;
}

export interface TextEmbedding {
  data: Float32Array;
  /** [sequence, hidden] */
  dims: readonly [number, number];
}

/** Everything the denoising loop needs, in latent space. Exposed for tests of the guidance math. */
export interface DenoiseInput {
  imageLatents: Float32Array;
  latentWidth: number;
  latentHeight: number;
  instruction: TextEmbedding;
  empty: TextEmbedding;
  settings: EditSettings;
  options?: EditRunOptions;
  /** Collects per-step UNet times. */
  stepTimes?: number[];
  /** Rows per UNet call; by default what the memory plan chooses. */
  unetBatch?: number;
}

/** Counters since load, so callers (and tests) can see what the caches saved. */
export interface PipelineCounters {
  textEncoderRuns: number;
  vaeEncoderRuns: number;
  vaeDecoderRuns: number;
  /** UNet session calls: one per step with all rows batched, one per row and step in sequence. */
  unetRuns: number;
  unetRows: number;
}

/**
 * InstructPix2Pix over an exported ONNX folder, as the paper and diffusers run it. Sessions load
 * once; text embeddings (per prompt) and image latents (per image content) are cached so a re-run
 * with other guidance or seed runs neither the text encoder nor the VAE encoder.
 */
export class InstructPix2PixPipeline implements EditEngine {
  readonly counters: PipelineCounters = {
    textEncoderRuns: 0,
    vaeEncoderRuns: 0,
    vaeDecoderRuns: 0,
    unetRuns: 0,
    unetRows: 0,
  };
  private readonly textCache = new LruCache<string, TextEmbedding>(TEXT_CACHE_ENTRIES);
  private readonly latentCache = new LruCache<string, Float32Array>(IMAGE_LATENT_CACHE_ENTRIES);
  private disposed = false;
  /** Whether VAE sessions stay loaded after use; set by each edit's memory plan. */
  private keepVaeLoaded: boolean;

  private constructor(
    readonly info: ModelInfo,
    private readonly tokenizer: ClipTokenizer,
    private readonly schedulerConfig: SchedulerConfig,
    private readonly textEncoder: TextEncoder,
    private readonly unet: Unet,
    private readonly vaeEncoder: OnDemandModel<VaeEncoder>,
    private readonly vaeDecoder: OnDemandModel<VaeDecoder>,
    private readonly vaeScalingFactor: number,
    private readonly sessions: readonly OnnxSession[],
    /** The model's sizes, for memory estimates. */
    readonly dimensions: ModelDimensions,
    private readonly memory: PipelineLoadOptions,
  ) {
    this.keepVaeLoaded = memory.vaeSessions !== 'on-demand';
  }

  /** Milliseconds spent inside onnxruntime's run calls since load, all sessions together. */
  sessionRunMs(): number {
    return (
      this.sessions.reduce((sum, session) => sum + session.stats.runMs, 0) +
      this.vaeEncoder.runMs() +
      this.vaeDecoder.runMs()
    );
  }

  /** Which sub-models hold a session now (the VAE's may be released under a tight budget). */
  loadedSessions(): string[] {
    return [
      'text_encoder',
      'unet',
      ...(this.vaeEncoder.loaded ? ['vae_encoder'] : []),
      ...(this.vaeDecoder.loaded ? ['vae_decoder'] : []),
    ];
  }

  /** VAE sessions opened again after being released, since load. */
  vaeReopenCount(): number {
    return this.vaeEncoder.reopenCount + this.vaeDecoder.reopenCount;
  }

  /**
   * How an edit at this processing size runs within the memory budget (rows per UNet call, VAE
   * sessions), or an InsufficientMemoryError naming the largest size that fits.
   */
  memoryPlan(width: number, height: number, rows: number): MemoryPlan {
    const budget = resolveMemoryBudget(this.memory.memoryBudget);
    const plan = planMemory(this.dimensions, {
      width,
      height,
      rows,
      budget,
      unetBatch: this.memory.unetBatch,
      vaeSessions: this.memory.vaeSessions,
    });
    if (plan) return plan;
    const cheapest = planMemory(this.dimensions, {
      width,
      height,
      rows,
      budget: Number.POSITIVE_INFINITY,
      unetBatch: 'row-by-row',
      vaeSessions: 'on-demand',
    })!;
    const fits = largestFittingSize(this.dimensions, width, height, rows, budget);
    throw new InsufficientMemoryError(
      `A ${width}×${height} edit needs about ${formatBytes(cheapest.peakBytes)} of memory but the budget ` +
        `is ${formatBytes(budget)}; ` +
        (fits
          ? `the largest size that fits is ${fits.width}×${fits.height} (choose a smaller size or raise the memory budget).`
          : 'no size fits this model (raise the memory budget or close other programs).'),
    );
  }

  static async load(dir: string, options: PipelineLoadOptions = {}): Promise<InstructPix2PixPipeline> {
    const layout = inspectModelFolder(dir);
    const tokenizer = await ClipTokenizer.fromFolder(layout.tokenizerDir);
    const schedulerConfig = parseSchedulerConfig(layout.schedulerConfig);
    if (options.threads !== undefined && (!Number.isInteger(options.threads) || options.threads < 1)) {
      throw new InvalidSettingsError(`threads must be a whole number of at least 1, got ${options.threads}`);
    }
    const { factory, probe } = await createSessionFactory(
      layout.paths.textEncoder,
      'text_encoder/model.onnx',
      {
        ...options.sessions,
        provider: options.provider ?? 'auto',
        intraOpNumThreads: options.threads,
      },
    );
    const sessions: OnnxSession[] = [probe];
    try {
      const textEncoder = new TextEncoder(probe);
      const unetSession = await factory.create(layout.paths.unet, 'unet/model.onnx');
      sessions.push(unetSession);
      const unet = new Unet(unetSession, layout.unetConfigInChannels);
      // The VAE sessions open at load too, so a broken file is reported now, not mid-edit.
      const openEncoder = () => factory.create(layout.paths.vaeEncoder, 'vae_encoder/model.onnx');
      const openDecoder = () => factory.create(layout.paths.vaeDecoder, 'vae_decoder/model.onnx');
      const encoderSession = await openEncoder();
      sessions.push(encoderSession);
      const vaeEncoder = new OnDemandModel(openEncoder, (s) => new VaeEncoder(s), encoderSession);
      const decoderSession = await openDecoder();
      sessions.push(decoderSession);
      const vaeDecoder = new OnDemandModel(openDecoder, (s) => new VaeDecoder(s), decoderSession);
      const flavor = detectFlavor(unet, new VaeEncoder(encoderSession));
      if (options.vaeSessions === 'on-demand') {
        await vaeEncoder.release();
        await vaeDecoder.release();
      }

      const info: ModelInfo = {
        dir,
        flavor,
        precision: unet.sampleType,
        provider: factory.provider,
        providerNotice: factory.notice,
        unetInChannels: unet.inChannels,
        components: {
          textEncoder: { inputs: [...probe.inputs], outputs: [...probe.outputs] },
          unet: { inputs: [...unetSession.inputs], outputs: [...unetSession.outputs] },
          vaeEncoder: { inputs: [...encoderSession.inputs], outputs: [...encoderSession.outputs] },
          vaeDecoder: { inputs: [...decoderSession.inputs], outputs: [...decoderSession.outputs] },
        },
      };
      return new InstructPix2PixPipeline(
        info,
        tokenizer,
        schedulerConfig,
        textEncoder,
        unet,
        vaeEncoder,
        vaeDecoder,
        readScalingFactor(layout),
        [probe, unetSession],
        readModelDimensions(dir, { float16: unet.sampleType === 'float16', provider: factory.provider }),
        options,
      );
    } catch (error) {
      await Promise.all(sessions.map((session) => session.dispose().catch(() => undefined)));
      throw error;
    }
  }

  async edit(source: RgbImage, settings: EditSettings, options: EditRunOptions = {}): Promise<EditResult> {
    this.assertUsable();
    validateSettings(settings);
    const signal = options.signal;
    throwIfAborted(signal);
    const started = performance.now();
    const before = { ...this.counters };

    const size = processingSize(source.width, source.height, settings.resolution);
    // Refused here, before anything runs, when even the leanest plan would not fit.
    const plan = this.memoryPlan(size.width, size.height, guidanceRows(settings.imageGuidance));
    this.keepVaeLoaded = plan.vaeSessions === 'resident';
    if (!this.keepVaeLoaded) await Promise.all([this.vaeEncoder.release(), this.vaeDecoder.release()]);
    const processedSource =
      size.width === source.width && size.height === source.height
        ? source
        : await resizeRgb(source, size.width, size.height);
    throwIfAborted(signal);

    const textStarted = performance.now();
    const { embedding: instruction, tokenizeMs: tokenizeA } = await this.textEmbedding(settings.instruction);
    const { embedding: empty, tokenizeMs: tokenizeB } = await this.textEmbedding('');
    const tokenizeMs = tokenizeA + tokenizeB;
    const textEncoderMs = performance.now() - textStarted - tokenizeMs;
    throwIfAborted(signal);

    const vaeStarted = performance.now();
    const imageLatents = await this.imageLatents(processedSource);
    const vaeEncoderMs = performance.now() - vaeStarted;

    const stepTimes: number[] = [];
    const latents = await this.denoise({
      imageLatents,
      latentWidth: size.width / 8,
      latentHeight: size.height / 8,
      instruction,
      empty,
      settings,
      options,
      stepTimes,
      unetBatch: plan.unetBatch,
    });

    const decodeStarted = performance.now();
    const image = await this.decode(latents, size.width / 8, size.height / 8);
    const vaeDecoderMs = performance.now() - decodeStarted;

    const timings: EditTimings = {
      tokenizeMs,
      textEncoderMs,
      vaeEncoderMs,
      unetStepMs: stepTimes,
      vaeDecoderMs,
      totalMs: performance.now() - started,
      unetRows: guidanceRows(settings.imageGuidance),
      textEncoderRuns: this.counters.textEncoderRuns - before.textEncoderRuns,
      vaeEncoderRuns: this.counters.vaeEncoderRuns - before.vaeEncoderRuns,
    };
    return { image, processedSource, settings: { ...settings }, timings };
  }

  /** A text × image guidance grid with one seed (see GridSettings). */
  async editGrid(
    source: RgbImage,
    settings: GridSettings,
    options: GridRunOptions = {},
  ): Promise<GridResult> {
    this.assertUsable();
    return runGridByCells(this, source, settings, options);
  }

  /** The sampling loop: initial noise, guided UNet steps, scheduler updates. Returns final latents. */
  async denoise(input: DenoiseInput): Promise<Float32Array> {
    const { imageLatents, latentWidth, latentHeight, instruction, empty, settings } = input;
    const signal = input.options?.signal;
    const onProgress = input.options?.onProgress;
    const plane = latentWidth * latentHeight;
    const latentSize = LATENT_CHANNELS * plane;
    if (imageLatents.length !== latentSize) {
      throw new Error(`Image latents hold ${imageLatents.length} values, expected ${latentSize}`);
    }
    if (instruction.dims[0] !== empty.dims[0] || instruction.dims[1] !== empty.dims[1]) {
      throw new Error('Instruction and empty-prompt embeddings differ in shape');
    }

    const schedulerConfig =
      settings.karrasSigmas === undefined
        ? this.schedulerConfig
        : { ...this.schedulerConfig, useKarrasSigmas: settings.karrasSigmas };
    const scheduler = createScheduler(settings.scheduler, schedulerConfig, settings.steps);
    const random = new SeededRandom(settings.seed);
    let latents = random.normal(latentSize);
    for (let i = 0; i < latentSize; i++) latents[i] = latents[i]! * scheduler.initNoiseSigma;

    const rows = guidanceRows(settings.imageGuidance);
    const unetBatch = input.unetBatch ?? this.memoryPlan(latentWidth * 8, latentHeight * 8, rows).unetBatch;
    // Rows: text + image, image only, nothing (the third only with image guidance ≠ 1).
    const rowEmbeddings = [instruction.data, empty.data, empty.data].slice(0, rows);
    const conditioning = this.unet.prepare(
      rowEmbeddings,
      instruction.dims,
      latentHeight,
      latentWidth,
      unetBatch,
    );

    // Channels 4..7 hold the image latents for rows 0 and 1 and stay zero for row 2 ("no image").
    const rowSize = this.unet.inChannels * plane;
    const sample = new Float32Array(rows * rowSize);
    sample.set(imageLatents, latentSize);
    sample.set(imageLatents, rowSize + latentSize);

    const loopStarted = performance.now();
    for (let step = 0; step < scheduler.stepCount; step++) {
      throwIfAborted(signal);
      const stepStarted = performance.now();
      const scaled = scheduler.scaleModelInput(latents, step);
      for (let row = 0; row < rows; row++) sample.set(scaled, row * rowSize);

      const prediction = await this.unet.predict(sample, conditioning, scheduler.timesteps[step]!);
      this.counters.unetRuns += conditioning.calls.length;
      this.counters.unetRows += rows;

      const guided = combineGuidance(
        prediction,
        rows,
        latentSize,
        settings.textGuidance,
        settings.imageGuidance,
      );
      latents = scheduler.step(guided, step, latents, random);
      const stepMs = performance.now() - stepStarted;
      input.stepTimes?.push(stepMs);
      onProgress?.({
        step,
        totalSteps: scheduler.stepCount,
        stepMs,
        elapsedMs: performance.now() - loopStarted,
        preview: latentPreview(latents, latentWidth, latentHeight),
      });
    }
    throwIfAborted(signal);
    return latents;
  }

  /** Token ids → embedding, cached per distinct token sequence. */
  async textEmbedding(prompt: string): Promise<{ embedding: TextEmbedding; tokenizeMs: number }> {
    const tokenizeStarted = performance.now();
    const ids = this.tokenizer.encode(prompt);
    const tokenizeMs = performance.now() - tokenizeStarted;
    const key = ids.join(',');
    const cached = this.textCache.get(key);
    if (cached) return { embedding: cached, tokenizeMs };
    const { data, dims } = await this.textEncoder.encode(ids);
    this.counters.textEncoderRuns++;
    const embedding: TextEmbedding = {
      data,
      dims: [dims[1] ?? ids.length, dims[2] ?? data.length / ids.length],
    };
    this.textCache.set(key, embedding);
    return { embedding, tokenizeMs };
  }

  /** Unscaled VAE latent mean of an image at processing size, cached by pixel content. */
  async imageLatents(image: RgbImage): Promise<Float32Array> {
    const key = contentKey(image);
    const cached = this.latentCache.get(key);
    if (cached) return cached;
    const latents = await this.vaeEncoder.use(this.keepVaeLoaded, (encoder) =>
      encoder.encode(rgbToTensor(image), image.width, image.height),
    );
    this.counters.vaeEncoderRuns++;
    this.latentCache.set(key, latents);
    return latents;
  }

  async decode(latents: Float32Array, latentWidth: number, latentHeight: number): Promise<RgbImage> {
    const scaled = new Float32Array(latents.length);
    for (let i = 0; i < latents.length; i++) scaled[i] = latents[i]! / this.vaeScalingFactor;
    const decoded = await this.vaeDecoder.use(this.keepVaeLoaded, (decoder) =>
      decoder.decode(scaled, latentWidth, latentHeight),
    );
    this.counters.vaeDecoderRuns++;
    return tensorToRgb(decoded, latentWidth * 8, latentHeight * 8);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.textCache.clear();
    this.latentCache.clear();
    await Promise.all([
      this.textEncoder.dispose(),
      this.unet.dispose(),
      this.vaeEncoder.release(),
      this.vaeDecoder.release(),
    ]);
  }

  private assertUsable(): void {
    if (this.disposed) throw new Error('The pipeline was disposed');
  }
}

function detectFlavor(unet: Unet, vaeEncoder: VaeEncoder): ModelFlavor {
  if (unet.timestep.type === 'int64') return 'optimum-legacy';
  if (unet.timestep.layout === 'scalar') return 'optimum';
  return vaeEncoder.outputKind === 'latent_sample' ? 'diffusers' : 'optimum';
}

function readScalingFactor(layout: ModelFolderLayout): number {
  const configPath = join(layout.dir, 'vae_decoder', 'config.json');
  if (!existsSync(configPath)) return DEFAULT_VAE_SCALING_FACTOR;
  try {
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as { scaling_factor?: unknown };
    return typeof config.scaling_factor === 'number' && config.scaling_factor > 0
      ? config.scaling_factor
      : DEFAULT_VAE_SCALING_FACTOR;
  } catch {
    return DEFAULT_VAE_SCALING_FACTOR;
  }
}

function contentKey(image: RgbImage): string {
  return `${image.width}x${image.height}:${createHash('sha256').update(image.data).digest('hex')}`;
}

export function validateSettings(settings: EditSettings): void {
  const problems: string[] = [];
  const { instructionChars, maxSteps, maxGuidance, maxSeed } = LIMITS;
  if (typeof settings.instruction !== 'string' || settings.instruction.trim() === '') {
    problems.push('the instruction is empty');
  } else if (settings.instruction.length > instructionChars) {
    problems.push(
      `the instruction is ${settings.instruction.length} characters long (at most ${instructionChars})`,
    );
  }
  if (!Number.isInteger(settings.steps) || settings.steps < 1 || settings.steps > maxSteps) {
    problems.push(`steps must be a whole number from 1 to ${maxSteps}, got ${settings.steps}`);
  }
  if (
    !Number.isFinite(settings.textGuidance) ||
    settings.textGuidance < 0 ||
    settings.textGuidance > maxGuidance
  ) {
    problems.push(`text guidance must be from 0 to ${maxGuidance}, got ${settings.textGuidance}`);
  }
  if (
    !Number.isFinite(settings.imageGuidance) ||
    settings.imageGuidance < 0 ||
    settings.imageGuidance > maxGuidance
  ) {
    problems.push(`image guidance must be from 0 to ${maxGuidance}, got ${settings.imageGuidance}`);
  }
  if (!Number.isInteger(settings.seed) || settings.seed < 0 || settings.seed > maxSeed) {
    problems.push(`the seed must be a whole number from 0 to ${maxSeed}, got ${settings.seed}`);
  }
  if (!(SCHEDULER_NAMES as readonly string[]).includes(settings.scheduler)) {
    problems.push(`unknown scheduler '${settings.scheduler}' (use ${SCHEDULER_NAMES.join(', ')})`);
  }
  if (settings.resolution !== '512' && settings.resolution !== 'native') {
    problems.push(`resolution must be 512 or native, got '${settings.resolution}'`);
  }
  if (problems.length > 0) throw new InvalidSettingsError(`Invalid edit settings: ${problems.join('; ')}`);
}
