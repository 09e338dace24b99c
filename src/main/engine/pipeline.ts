import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  cellSettings,
  gridCellPositions,
  SCHEDULER_NAMES,
  type EditEngine,
  type EditResult,
  type EditRunOptions,
  type EditSettings,
  type EditTimings,
  type GridCell,
  type GridCellPosition,
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
import { validateGridScales } from './grid-by-cells';
import { gridRowCount, packCellGroups, sharedStepZeroRows } from './grid-plan';
import { combineGuidance, guidanceRows } from './guidance';
import { processingSize, resizeRgb, rgbToTensor, tensorToRgb } from './image-io';
import { LruCache } from './lru-cache';
import {
  formatBytes,
  InsufficientMemoryError,
  largestFittingSize,
  largestUnetBatch,
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
import type { Scheduler, SchedulerConfig } from './schedulers/scheduler';
import { ClipTokenizer } from './tokenizer';

const DEFAULT_VAE_SCALING_FACTOR = 0.18215;
const TEXT_CACHE_ENTRIES = 64;
const IMAGE_LATENT_CACHE_ENTRIES = 8;
/** A grid's default rows per UNet call never exceed this, however much memory is free. */
const GRID_MAX_DEFAULT_BATCH_ROWS = 9;
/**
 * On the CPU wider calls gain nothing (bench:grid, realistic widths at 256²: 9 rows per call 1.2×
 * slower than 3), so the default there is one cell's rows per call.
 */
const GRID_CPU_DEFAULT_BATCH_ROWS = 3;

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

/** What edit() and editGrid() compute once before their sampling loops. */
interface PreparedInputs {
  size: { width: number; height: number };
  plan: MemoryPlan;
  processedSource: RgbImage;
  instruction: TextEmbedding;
  empty: TextEmbedding;
  imageLatents: Float32Array;
  tokenizeMs: number;
  textEncoderMs: number;
  vaeEncoderMs: number;
}

/** One grid cell while it samples. */
interface GridCellRun {
  position: GridCellPosition;
  settings: EditSettings;
  rows: 2 | 3;
  scheduler: Scheduler;
  random: SeededRandom;
  latents: Float32Array;
  stepMs: number[];
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

    const prepared = await this.prepareInputs(source, settings, guidanceRows(settings.imageGuidance), signal);
    const { size } = prepared;
    const stepTimes: number[] = [];
    const latents = await this.denoise({
      imageLatents: prepared.imageLatents,
      latentWidth: size.width / 8,
      latentHeight: size.height / 8,
      instruction: prepared.instruction,
      empty: prepared.empty,
      settings,
      options,
      stepTimes,
      unetBatch: prepared.plan.unetBatch,
    });

    const decodeStarted = performance.now();
    const image = await this.decode(latents, size.width / 8, size.height / 8);
    const vaeDecoderMs = performance.now() - decodeStarted;

    const timings: EditTimings = {
      tokenizeMs: prepared.tokenizeMs,
      textEncoderMs: prepared.textEncoderMs,
      vaeEncoderMs: prepared.vaeEncoderMs,
      unetStepMs: stepTimes,
      vaeDecoderMs,
      totalMs: performance.now() - started,
      unetRows: guidanceRows(settings.imageGuidance),
      textEncoderRuns: this.counters.textEncoderRuns - before.textEncoderRuns,
      vaeEncoderRuns: this.counters.vaeEncoderRuns - before.vaeEncoderRuns,
    };
    return { image, processedSource: prepared.processedSource, settings: { ...settings }, timings };
  }

  /**
   * What every edit of one source and instruction needs before its sampling loop: the processing
   * size, the memory plan for `rows` guidance rows (refused here, before anything runs, when even
   * the leanest plan would not fit), the resized source, both text embeddings and the image latents.
   */
  private async prepareInputs(
    source: RgbImage,
    settings: EditSettings,
    rows: number,
    signal: AbortSignal | undefined,
  ): Promise<PreparedInputs> {
    const size = processingSize(source.width, source.height, settings.resolution);
    const plan = this.memoryPlan(size.width, size.height, rows);
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
    return {
      size,
      plan,
      processedSource,
      instruction,
      empty,
      imageLatents,
      tokenizeMs,
      textEncoderMs,
      vaeEncoderMs,
    };
  }

  /**
   * A text × image guidance grid with one seed (see GridSettings and grid-plan.ts). The text
   * embeddings and image latents are computed once; the UNet rows of step 0, the same for every
   * cell, run once; then cells run in groups that share UNet calls of up to `batchRows` rows. Each
   * cell keeps its own latents, scheduler and noise stream, so its pixels are those edit() gives
   * for cellSettings() (UNet rows are computed independently of the rows batched beside them).
   */
  async editGrid(
    source: RgbImage,
    settings: GridSettings,
    options: GridRunOptions = {},
  ): Promise<GridResult> {
    this.assertUsable();
    validateGridScales(settings);
    const positions = gridCellPositions(settings);
    const settingsOfCells = positions.map((position) => cellSettings(settings, position));
    // The scales are checked above; the fields every cell shares are checked through the first.
    validateSettings(settingsOfCells[0]!);
    const { batchRows } = options;
    if (batchRows !== undefined && (!Number.isInteger(batchRows) || batchRows < 1)) {
      throw new InvalidSettingsError(`batchRows must be a whole number of at least 1, got ${batchRows}`);
    }
    const signal = options.signal;
    throwIfAborted(signal);
    const started = performance.now();
    const before = { ...this.counters };

    const rowsPerCell = positions.map((position) => guidanceRows(position.imageGuidance));
    const prepared = await this.prepareInputs(source, settingsOfCells[0]!, Math.max(...rowsPerCell), signal);
    const { size, imageLatents, instruction, empty } = prepared;
    const latentWidth = size.width / 8;
    const latentHeight = size.height / 8;
    const latentSize = LATENT_CHANNELS * latentWidth * latentHeight;
    const rowSize = this.unet.inChannels * latentWidth * latentHeight;
    const totalRows = rowsPerCell.reduce((sum, rows) => sum + rows, 0);
    const rowsPerCall = Math.min(batchRows ?? this.gridBatchRows(size, prepared.plan, totalRows), totalRows);
    const rowEmbeddings = (rows: number) => [instruction.data, empty.data, empty.data].slice(0, rows);
    const prepareMs = performance.now() - started;
    const textEncoderRuns = this.counters.textEncoderRuns - before.textEncoderRuns;
    const vaeEncoderRuns = this.counters.vaeEncoderRuns - before.vaeEncoderRuns;

    const runs: GridCellRun[] = positions.map((position, index) => ({
      position,
      settings: settingsOfCells[index]!,
      rows: rowsPerCell[index]!,
      ...this.startSampling(settingsOfCells[index]!, latentSize),
      stepMs: [],
    }));
    const stepCount = runs[0]!.scheduler.stepCount;

    // Step 0: every cell holds the same latents at the same timestep, so one set of rows serves all.
    const sharedStarted = performance.now();
    const sharedRows = sharedStepZeroRows(positions.map((position) => position.imageGuidance));
    const sharedSample = new Float32Array(sharedRows * rowSize);
    fillGuidanceRows(
      sharedSample,
      0,
      sharedRows,
      runs[0]!.scheduler.scaleModelInput(runs[0]!.latents, 0),
      imageLatents,
      rowSize,
      latentSize,
    );
    const sharedConditioning = this.unet.prepare(
      rowEmbeddings(sharedRows),
      instruction.dims,
      latentHeight,
      latentWidth,
      Math.min(rowsPerCall, sharedRows),
    );
    throwIfAborted(signal);
    const stepZeroPrediction = await this.unet.predict(
      sharedSample,
      sharedConditioning,
      runs[0]!.scheduler.timesteps[0]!,
    );
    this.counters.unetRuns += sharedConditioning.calls.length;
    this.counters.unetRows += sharedRows;
    const sharedMs = performance.now() - sharedStarted;

    const cells: GridCell[] = [];
    let stepsDone = 0;
    for (const group of packCellGroups(rowsPerCell, rowsPerCall)) {
      const members = group.map((index) => runs[index]!);
      const groupRows = members.reduce((sum, run) => sum + run.rows, 0);
      const conditioning = this.unet.prepare(
        members.flatMap((run) => rowEmbeddings(run.rows)),
        instruction.dims,
        latentHeight,
        latentWidth,
        Math.min(rowsPerCall, groupRows),
      );
      const sample = new Float32Array(groupRows * rowSize);
      for (let step = 0; step < stepCount; step++) {
        throwIfAborted(signal);
        const stepStarted = performance.now();
        let prediction = stepZeroPrediction;
        if (step > 0) {
          let firstRow = 0;
          for (const run of members) {
            const scaled = run.scheduler.scaleModelInput(run.latents, step);
            fillGuidanceRows(sample, firstRow, run.rows, scaled, imageLatents, rowSize, latentSize);
            firstRow += run.rows;
          }
          prediction = await this.unet.predict(sample, conditioning, members[0]!.scheduler.timesteps[step]!);
          this.counters.unetRuns += conditioning.calls.length;
          this.counters.unetRows += groupRows;
        }
        let firstRow = 0;
        for (const run of members) {
          // At step 0 every cell reads the first of the shared rows it needs.
          const start = step === 0 ? 0 : firstRow * latentSize;
          const rowsOut = prediction.subarray(start, start + run.rows * latentSize);
          const guided = combineGuidance(
            rowsOut,
            run.rows,
            latentSize,
            run.settings.textGuidance,
            run.settings.imageGuidance,
          );
          run.latents = run.scheduler.step(guided, step, run.latents, run.random);
          firstRow += run.rows;
        }
        const stepMs = performance.now() - stepStarted;
        // A cell's step time is its share (by rows) of the calls it took part in.
        for (const run of members) {
          run.stepMs.push(
            step === 0
              ? (sharedMs * run.rows) / totalRows + (stepMs * run.rows) / groupRows
              : (stepMs * run.rows) / groupRows,
          );
        }
        stepsDone += members.length;
        options.onProgress?.({
          stepsDone,
          totalSteps: runs.length * stepCount,
          cellsDone: cells.length,
          totalCells: runs.length,
          elapsedMs: performance.now() - started,
          cell: members[0]!.position,
          preview: latentPreview(members[0]!.latents, latentWidth, latentHeight),
        });
      }
      for (const run of members) {
        // A cancel delivers no further cell, not even one whose sampling has finished.
        throwIfAborted(signal);
        const decodeStarted = performance.now();
        const image = await this.decode(run.latents, latentWidth, latentHeight);
        const vaeDecoderMs = performance.now() - decodeStarted;
        // The first cell carries the shared preparation, as the first of a series of edits would.
        const first = cells.length === 0;
        const unetMs = run.stepMs.reduce((sum, ms) => sum + ms, 0);
        const timings: EditTimings = {
          tokenizeMs: first ? prepared.tokenizeMs : 0,
          textEncoderMs: first ? prepared.textEncoderMs : 0,
          vaeEncoderMs: first ? prepared.vaeEncoderMs : 0,
          unetStepMs: run.stepMs,
          vaeDecoderMs,
          totalMs: (first ? prepareMs : 0) + unetMs + vaeDecoderMs,
          unetRows: run.rows,
          textEncoderRuns: first ? textEncoderRuns : 0,
          vaeEncoderRuns: first ? vaeEncoderRuns : 0,
        };
        const cell: GridCell = {
          ...run.position,
          result: { image, processedSource: prepared.processedSource, settings: run.settings, timings },
        };
        cells.push(cell);
        options.onCell?.(cell);
      }
    }
    const { unetRowsAlone } = gridRowCount(
      positions.map((position) => position.imageGuidance),
      stepCount,
    );
    return {
      cells,
      unetRows: this.counters.unetRows - before.unetRows,
      unetRowsAlone,
      totalMs: performance.now() - started,
    };
  }

  /**
   * Rows per UNet call for a grid: 1 when the load options ask for rows in sequence, else the most
   * rows (up to 3 on the CPU, 9 elsewhere) whose call fits the memory budget beside the planned VAE
   * sessions.
   */
  private gridBatchRows(
    size: { width: number; height: number },
    plan: MemoryPlan,
    totalRows: number,
  ): number {
    if (this.memory.unetBatch === 'row-by-row' || plan.unetBatch === 1) return 1;
    return largestUnetBatch(
      this.dimensions,
      size.width,
      size.height,
      plan.budget,
      plan.vaeSessions,
      Math.min(
        totalRows,
        this.info.provider === 'cpu' ? GRID_CPU_DEFAULT_BATCH_ROWS : GRID_MAX_DEFAULT_BATCH_ROWS,
      ),
    );
  }

  /** A sampling run's scheduler, noise stream and initial latents, as edit() starts them. */
  private startSampling(
    settings: EditSettings,
    latentSize: number,
  ): { scheduler: Scheduler; random: SeededRandom; latents: Float32Array } {
    const schedulerConfig =
      settings.karrasSigmas === undefined
        ? this.schedulerConfig
        : { ...this.schedulerConfig, useKarrasSigmas: settings.karrasSigmas };
    const scheduler = createScheduler(settings.scheduler, schedulerConfig, settings.steps);
    const random = new SeededRandom(settings.seed);
    const latents = random.normal(latentSize);
    for (let i = 0; i < latentSize; i++) latents[i] = latents[i]! * scheduler.initNoiseSigma;
    return { scheduler, random, latents };
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

    const sampling = this.startSampling(settings, latentSize);
    const { scheduler, random } = sampling;
    let latents = sampling.latents;

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

    const rowSize = this.unet.inChannels * plane;
    const sample = new Float32Array(rows * rowSize);

    const loopStarted = performance.now();
    for (let step = 0; step < scheduler.stepCount; step++) {
      throwIfAborted(signal);
      const stepStarted = performance.now();
      const scaled = scheduler.scaleModelInput(latents, step);
      fillGuidanceRows(sample, 0, rows, scaled, imageLatents, rowSize, latentSize);

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

/**
 * Writes one cell's guidance rows from `firstRow` on: the scaled latents in channels 0..3 of each
 * row, the image latents in channels 4..7 of rows 0 and 1; row 2 ("no image") keeps zeros there.
 */
function fillGuidanceRows(
  sample: Float32Array,
  firstRow: number,
  rows: number,
  scaled: Float32Array,
  imageLatents: Float32Array,
  rowSize: number,
  latentSize: number,
): void {
  for (let row = 0; row < rows; row++) {
    const offset = (firstRow + row) * rowSize;
    sample.set(scaled, offset);
    if (row < 2) sample.set(imageLatents, offset + latentSize);
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
