/**
 * One open document on the main side: the records, their undo history, the pixels they reference,
 * and the queue of edit jobs that run on an EditEngine. Every user operation goes through a named
 * action (src/shared/document/actions.ts) and is recorded as a diff; jobs add their results as
 * layers or variants. Statuses (queued, running, stale, failed) are derived after every change.
 *
 * History never lies: the same history position is always the same document. A new edit's layer
 * stays outside history until its first result lands (then its creation is recorded, placed by the
 * layers below it, never by an index); until then the runner alone changes it (its failure, its
 * settings). Every change to a layer history knows is recorded: results, failures, settings.
 *
 * Plain Node: no electron, no DOM. The app's DocumentService, the CLI and the tests all drive this.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import {
  actionLabel,
  activeVariant,
  applyAction,
  applyDiff,
  BASE_LAYER_ID,
  creationDiff,
  DocumentActionError,
  History,
  idsBelow,
  isEmptyDiff,
  orderedLayers,
  settingsOf,
  sourceParts,
  staleLayerIds,
  UNKNOWN_MODEL,
  withStatuses,
  type DocumentAction,
  type DocumentRecord,
  type EditLayer,
  type EditRequest,
  type JobPhase,
  type ModelRef,
  type PlacementMode,
  type Variant,
} from '../../shared/document';
import {
  CANCELLED_ERROR_NAME,
  type EditEngine,
  type EditProgress,
  type EditResult,
  type EditSettings,
  type GridProgress,
  type RgbImage,
} from '../../shared/engine-types';
import type { GridRecord } from '../../shared/document/schema';
import { copyInSteps } from '../util/turns';
import { blendIntoInSteps } from './composite';
import { DocumentStateError } from './errors';
import { GridBook } from './grids';
import type { ImportedImage } from './import';
import { PixelStore } from './pixel-store';
import { placeResult } from './placement';

/** The failure text a cancelled first run leaves on its layer (the layer stays, to re-run or delete). */
export const CANCELLED_FAILURE = 'Cancelled before it finished';

export type JobOutcome = 'done' | 'failed' | 'cancelled';

export interface JobEvent {
  jobId: string;
  layerId: string;
  status: JobPhase | JobOutcome;
  error: string | null;
}

export interface SessionEvents {
  /** After every change of the records (actions, undo/redo, job phases). */
  changed?(doc: DocumentRecord): void;
  progress?(event: { jobId: string; layerId: string; progress: EditProgress }): void;
  job?(event: JobEvent): void;
  /** A guidance grid started, got a cell, ended, or had a cell kept. */
  grid?(event: { gridId: string; layerId: string }): void;
  gridProgress?(event: { gridId: string; layerId: string; progress: GridProgress }): void;
}

export interface EnqueueOptions {
  /** Re-run this edit layer (a new variant) instead of adding a new layer. */
  rerunOf?: string;
  placement?: PlacementMode;
  /** Make the new variant the active one (default true). */
  activate?: boolean;
}

/** What re-running stale layers did: what it re-ran (bottom first) and what it left alone. */
export interface RerunStaleReport {
  rerun: { layerId: string; outcome: JobOutcome }[];
  skipped: { layerId: string; reason: string }[];
}

interface Job {
  id: string;
  layerId: string;
  request: EditRequest;
  activate: boolean;
  /** The layer was created for this job (a cancel leaves it marked cancelled). */
  createsLayer: boolean;
  phase: JobPhase;
  controller: AbortController;
  done: Promise<JobOutcome>;
  settle(outcome: JobOutcome): void;
  settled: boolean;
}

export interface DocumentSessionOptions {
  engine?: EditEngine | null;
  /** Which model results are made with (recorded in every request). */
  model?: () => ModelRef;
  now?: () => number;
  /** Guidance grids saved with the project (their thumbnails in the store). */
  grids?: readonly GridRecord[];
}

export class DocumentSession {
  private record: DocumentRecord;
  readonly history = new History();
  private readonly jobs = new Map<string, Job>();
  /** Layers outside history: new edits whose first result has not landed. */
  private readonly outsideHistory = new Set<string>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly listeners = new Set<SessionEvents>();
  private engine: EditEngine | null;
  private model: () => ModelRef;
  private readonly now: () => number;
  /** Bumps on every change; views and autosave use it. */
  revision = 0;
  /** The revision last saved (or opened); the document is dirty when they differ. */
  private savedRevision = 0;
  path: string | null;
  private disposed = false;
  /** The last guidance grid of each edit layer: beside the records, never in history. */
  readonly grids: GridBook;

  constructor(
    doc: DocumentRecord,
    readonly store: PixelStore,
    options: DocumentSessionOptions & { path?: string | null } = {},
  ) {
    this.record = withStatuses(doc);
    this.engine = options.engine ?? null;
    this.model = options.model ?? (() => UNKNOWN_MODEL);
    this.now = options.now ?? Date.now;
    this.path = options.path ?? null;
    this.grids = new GridBook(this, options.grids ?? []);
  }

  /** A new document whose base is `imported` (pixels stored in a new or the given store). */
  static fromImage(
    imported: ImportedImage,
    options: DocumentSessionOptions & { store?: PixelStore } = {},
  ): DocumentSession {
    const store = options.store ?? new PixelStore();
    return DocumentSession.withBase(imported, store.putRgb(imported.image), store, options);
  }

  /**
   * fromImage, with the picture's pixels hashed in steps (the event loop stays free meanwhile). The
   * store keeps `imported.image.data` itself (no copy): the caller must not use it afterwards.
   */
  static async fromImageInSteps(
    imported: ImportedImage,
    options: DocumentSessionOptions & { store?: PixelStore } = {},
  ): Promise<DocumentSession> {
    const store = options.store ?? new PixelStore();
    const pixels = await store.putInSteps('rgb', imported.image, { adopt: true });
    return DocumentSession.withBase(imported, pixels, store, options);
  }

  private static withBase(
    imported: ImportedImage,
    pixels: string,
    store: PixelStore,
    options: DocumentSessionOptions,
  ): DocumentSession {
    const now = (options.now ?? Date.now)();
    const doc: DocumentRecord = {
      id: newId('doc'),
      width: imported.image.width,
      height: imported.image.height,
      base: {
        id: BASE_LAYER_ID,
        name: imported.fileName ?? 'Background',
        pixels,
        origin: { fileName: imported.fileName, format: imported.format, notices: [...imported.notices] },
      },
      layers: {},
      order: [],
      createdAt: now,
    };
    return new DocumentSession(doc, store, options);
  }

  get doc(): DocumentRecord {
    return this.record;
  }

  get dirty(): boolean {
    return this.revision !== this.savedRevision;
  }

  markSaved(path?: string): void {
    if (path !== undefined) this.path = path;
    this.savedRevision = this.revision;
    this.emitChanged();
  }

  setEngine(engine: EditEngine | null): void {
    this.engine = engine;
  }

  setModel(model: () => ModelRef): void {
    this.model = model;
  }

  get currentEngine(): EditEngine | null {
    return this.engine;
  }

  currentModel(): ModelRef {
    return this.model();
  }

  /** Runs `task` after every job queued so far; jobs queued later wait for it (one engine run at a time). */
  schedule(task: () => Promise<void>): Promise<void> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Marks a change that is saved with the project but is no undo step (a guidance grid ran). */
  touch(): void {
    this.revision++;
    this.emitChanged();
  }

  /** Tells listeners about a guidance grid (for GridBook). */
  emitGrid(event: { gridId: string; layerId: string }, progress?: GridProgress): void {
    for (const listener of this.listeners) {
      if (progress) listener.gridProgress?.({ ...event, progress });
      else listener.grid?.(event);
    }
  }

  /**
   * An edit's result as a variant: placed at document size over its source, with the raw result,
   * the source and what the source was made of. The one path results enter the document by.
   */
  async makeVariant(
    source: RgbImage,
    result: EditResult,
    request: EditRequest,
    parts: string[],
    durationMs: number,
  ): Promise<Variant> {
    const placed = await placeResult(source, result, request.placement);
    // Three full-size images: hashed in steps, so a landing result does not hold up other calls.
    const pixels = await this.store.putInSteps('rgb', placed);
    const resultPixels = await this.store.putInSteps('rgb', result.image);
    const sourcePixels = await this.store.putInSteps('rgb', source);
    return {
      id: newId('variant'),
      request,
      pixels,
      result: resultPixels,
      source: sourcePixels,
      sourceParts: parts,
      processedWidth: result.image.width,
      processedHeight: result.image.height,
      createdAt: this.now(),
      durationMs: Math.round(durationMs),
    };
  }

  subscribe(events: SessionEvents): () => void {
    this.listeners.add(events);
    return () => this.listeners.delete(events);
  }

  // ---- Actions with undo/redo ---------------------------------------------------------------

  /** Applies a named action and records it in history. Returns false when it changed nothing. */
  apply(action: DocumentAction, label: string = actionLabel(this.record, action)): boolean {
    this.assertOpen();
    this.validate(action);
    const { doc, diff } = applyAction(this.record, action);
    if (isEmptyDiff(diff)) return false;
    this.history.push({ label, type: action.type, diff, at: this.now() });
    this.commit(doc);
    return true;
  }

  undo(): boolean {
    const step = this.history.undo();
    if (!step) return false;
    this.commit(applyDiff(this.record, step.diff));
    return true;
  }

  redo(): boolean {
    const step = this.history.redo();
    if (!step) return false;
    this.commit(applyDiff(this.record, step.diff));
    return true;
  }

  layer(layerId: string): EditLayer {
    const layer = this.record.layers[layerId];
    if (!layer) throw new DocumentStateError(`No layer with id ${JSON.stringify(layerId)}`);
    return layer;
  }

  /** The edit layer at a 1-based position among the edit layers, bottom first (as the CLI counts). */
  layerAt(position: number): EditLayer {
    const layers = orderedLayers(this.record);
    const layer = Number.isInteger(position) ? layers[position - 1] : undefined;
    if (!layer) {
      throw new DocumentStateError(
        layers.length === 0
          ? 'The project has no edit layers'
          : `There is no layer ${position}: the project has edit layers 1 to ${layers.length}`,
      );
    }
    return layer;
  }

  // ---- Pixels ---------------------------------------------------------------------------------

  /** The composite of the base and every contributing layer below `layerId` (null: all layers). */
  async compositeBelow(layerId: string | null): Promise<RgbImage> {
    // The records as they are now: a change while the pixels load must not mix two states (a job's
    // source has to match the sourceParts it records).
    const doc = this.record;
    const base = await this.store.getRgb(doc.base.pixels);
    // Copied and blended in steps: a full-size picture per layer would hold the event loop.
    const out: RgbImage = { width: base.width, height: base.height, data: await copyInSteps(base.data) };
    for (const layer of orderedLayers(doc)) {
      if (layer.id === layerId) break;
      const variant = activeVariant(layer);
      if (!layer.visible || !variant) continue;
      await blendIntoInSteps(out, {
        pixels: await this.store.getRgb(variant.pixels),
        opacity: Math.round(layer.opacity * 255),
        blendMode: layer.blendMode,
        mask: layer.mask ? await this.store.getGray(layer.mask) : null,
      });
    }
    return out;
  }

  // ---- Jobs -----------------------------------------------------------------------------------

  /**
   * Queues an edit: a new layer on top whose source is the composite below it, or (rerunOf) a new
   * variant of an existing layer. Jobs run one at a time in the order queued.
   */
  enqueue(settings: EditSettings, options: EnqueueOptions = {}): { jobId: string; layerId: string } {
    this.assertOpen();
    if (!this.engine) throw new DocumentStateError('No model is loaded: choose or download one first');
    checkInstruction(settings.instruction);
    let layerId: string;
    const createsLayer = options.rerunOf === undefined;
    const placement = options.placement ?? 'delta';
    // Fields in schema order, so a saved request reads back (and saves again) byte for byte.
    const request: EditRequest = { ...settingsOf(settings), model: this.model(), placement };
    if (options.rerunOf !== undefined) {
      const layer = this.layer(options.rerunOf);
      if (this.busyLayers().has(layer.id)) {
        throw new DocumentStateError(`“${layer.name}” is already queued or running`);
      }
      // The layer stays as it is until the run ends: the job carries the new settings.
      layerId = layer.id;
    } else {
      layerId = newId('layer');
      const layer: EditLayer = {
        id: layerId,
        kind: 'edit',
        name: layerName(settings.instruction),
        visible: true,
        opacity: 1,
        blendMode: 'normal',
        mask: null,
        request,
        variants: [],
        activeVariantId: null,
        failure: null,
        status: { state: 'queued', reason: null },
        createdAt: this.now(),
      };
      // Outside history until its first result lands (then its creation is recorded).
      this.record = applyAction(this.record, { type: 'add-edit', layer }).doc;
      this.outsideHistory.add(layerId);
    }
    const jobId = newId('job');
    let settle: (outcome: JobOutcome) => void = () => undefined;
    const job: Job = {
      id: jobId,
      layerId,
      request,
      activate: options.activate ?? true,
      createsLayer,
      phase: 'queued',
      controller: new AbortController(),
      done: new Promise<JobOutcome>((resolve) => (settle = resolve)),
      settle: (outcome) => settle(outcome),
      settled: false,
    };
    this.jobs.set(jobId, job);
    this.commit(this.record, false);
    this.emitJob({ jobId, layerId, status: 'queued', error: null });
    this.queue = this.queue.then(() => this.run(job));
    return { jobId, layerId };
  }

  /** Resolves when the job has finished (at once for unknown ids). */
  async waitFor(jobId: string): Promise<JobOutcome | null> {
    const job = this.jobs.get(jobId);
    return job ? job.done : null;
  }

  /** Resolves when every queued job has finished. */
  async idle(): Promise<void> {
    while (this.jobs.size > 0) await Promise.all([...this.jobs.values()].map((job) => job.done));
  }

  jobPhases(): ReadonlyMap<string, { jobId: string; phase: JobPhase }> {
    const out = new Map<string, { jobId: string; phase: JobPhase }>();
    for (const job of this.jobs.values()) out.set(job.layerId, { jobId: job.id, phase: job.phase });
    return out;
  }

  /**
   * Cancels a queued or running job. Nothing already in the document is lost. A queued job ends at
   * once; a running one when the engine stops.
   */
  cancel(jobId: string): boolean {
    const job = this.jobs.get(jobId);
    if (!job) return false;
    job.controller.abort();
    if (job.phase === 'queued') this.failed(job, null);
    return true;
  }

  cancelAll(): void {
    for (const job of [...this.jobs.values()]) this.cancel(job.id);
  }

  /**
   * Re-runs every stale (or never run) layer, bottom first, each on the composite below it then.
   * Layers already queued or running are left to their jobs (and reported as skipped).
   */
  async rerunStale(overrides: Partial<EditSettings> = {}): Promise<RerunStaleReport> {
    const report: RerunStaleReport = { rerun: [], skipped: [] };
    const seen = new Set<string>();
    // One at a time: each re-run changes the source of the layers above it.
    for (;;) {
      const busy = this.busyLayers();
      let next: string | undefined;
      for (const id of staleLayerIds(this.record)) {
        if (seen.has(id)) continue;
        seen.add(id);
        if (!busy.has(id)) {
          next = id;
          break;
        }
        report.skipped.push({ layerId: id, reason: 'already queued or running' });
      }
      if (next === undefined) break;
      const layer = this.layer(next);
      const { jobId } = this.enqueue({ ...settingsOf(layer.request), ...overrides }, { rerunOf: next });
      const outcome = (await this.waitFor(jobId)) ?? 'failed';
      report.rerun.push({ layerId: next, outcome });
      if (outcome !== 'done') break;
    }
    return report;
  }

  private busyLayers(): Set<string> {
    return new Set([...this.jobs.values()].map((job) => job.layerId));
  }

  private async run(job: Job): Promise<void> {
    if (job.settled) return; // cancelled while queued
    const { signal } = job.controller;
    try {
      if (signal.aborted) throw cancelled();
      if (!this.record.layers[job.layerId])
        throw new DocumentStateError('The layer was deleted before its edit ran');
      const engine = this.engine;
      if (!engine) throw new DocumentStateError('No model is loaded: choose or download one first');
      job.phase = 'running';
      this.commit(this.record, false);
      this.emitJob({ jobId: job.id, layerId: job.layerId, status: 'running', error: null });

      const parts = sourceParts(this.record, job.layerId);
      const source = await this.compositeBelow(job.layerId);
      const started = performance.now();
      const result = await engine.edit(source, settingsOf(job.request), {
        signal,
        onProgress: (progress) => {
          for (const listener of this.listeners)
            listener.progress?.({ jobId: job.id, layerId: job.layerId, progress });
        },
      });
      if (signal.aborted) throw cancelled();
      const variant = await this.makeVariant(source, result, job.request, parts, performance.now() - started);
      if (signal.aborted) throw cancelled();
      job.settled = true;
      this.jobs.delete(job.id);
      this.land(job, variant);
      this.emitJob({ jobId: job.id, layerId: job.layerId, status: 'done', error: null });
      job.settle('done');
    } catch (error) {
      const wasCancelled = signal.aborted || (error as Error).name === CANCELLED_ERROR_NAME;
      this.failed(job, wasCancelled ? null : errorMessage(error));
    }
  }

  /**
   * A job that ended without a result (`message` null: cancelled). A layer outside history is the
   * runner's: it keeps the failure (a cancelled new edit is marked so, to re-run or delete). A layer
   * history knows gets the failure as a recorded step; a cancel changes nothing in it.
   */
  private failed(job: Job, message: string | null): void {
    if (job.settled) return;
    job.settled = true;
    this.jobs.delete(job.id);
    const layer = this.record.layers[job.layerId];
    if (layer && this.outsideHistory.has(layer.id)) {
      const failure = message ?? (job.createsLayer ? CANCELLED_FAILURE : layer.failure);
      const request = message !== null ? job.request : layer.request;
      this.commit(
        applyAction(this.record, { type: 'set-failure', layerId: layer.id, failure, request }).doc,
        false,
      );
    } else if (layer && message !== null && !this.disposed) {
      const request = layer.variants.length === 0 ? { request: job.request } : {};
      if (!this.apply({ type: 'set-failure', layerId: layer.id, failure: message, ...request }))
        this.commit(this.record, false);
    } else {
      this.commit(this.record, false);
    }
    this.emitJob({
      jobId: job.id,
      layerId: job.layerId,
      status: message === null ? 'cancelled' : 'failed',
      error: message,
    });
    job.settle(message === null ? 'cancelled' : 'failed');
  }

  /**
   * A finished job's result enters the document as one undoable step: the creation of a layer that
   * was outside history (placed by the layers below it), or a new variant of one history knows.
   */
  private land(job: Job, variant: Variant): void {
    const layer = this.record.layers[job.layerId];
    if (!layer) return; // deleted while it ran: the result has nowhere to go
    if (this.outsideHistory.has(layer.id)) {
      const completed: EditLayer = {
        ...layer,
        request: variant.request,
        variants: [variant],
        activeVariantId: variant.id,
        failure: null,
      };
      const diff = creationDiff(completed, idsBelow(this.record.order, layer.id));
      this.history.push({
        label: actionLabel(this.record, { type: 'add-edit', layer: completed }),
        type: 'add-edit',
        diff,
        at: this.now(),
      });
      this.outsideHistory.delete(layer.id);
      this.commit(applyDiff(this.record, diff));
    } else {
      const activate = job.activate || layer.variants.length === 0;
      this.apply({ type: 'add-variant', layerId: layer.id, variant, activate });
    }
  }

  /** Refuses what the records cannot hold: a mask of another size or kind, an empty instruction. */
  private validate(action: DocumentAction): void {
    if (action.type === 'set-mask' && action.mask !== null) {
      const info = this.store.info(action.mask);
      if (!info) {
        throw new DocumentActionError('invalid', "The mask's pixels are not in the document's pixel store");
      }
      const { width, height } = this.record;
      if (info.kind !== 'gray' || info.width !== width || info.height !== height) {
        throw new DocumentActionError(
          'invalid',
          `A mask must be ${width}×${height} grey pixels, got ${info.width}×${info.height} ${info.kind === 'gray' ? 'grey' : 'RGB'}`,
        );
      }
    }
    if (action.type === 'add-edit') checkInstruction(action.layer.request.instruction);
  }

  // ---- Lifecycle --------------------------------------------------------------------------------

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.cancelAll();
    this.grids.cancelAll();
    await this.queue.catch(() => undefined);
    this.listeners.clear();
  }

  private assertOpen(): void {
    if (this.disposed) throw new DocumentStateError('The document was closed');
  }

  /** Sets the records (statuses derived from the jobs) and tells listeners. */
  private commit(doc: DocumentRecord, changesContent = true): void {
    const phases = new Map<string, JobPhase>();
    for (const job of this.jobs.values()) phases.set(job.layerId, job.phase);
    this.record = withStatuses(doc, phases);
    if (changesContent) this.revision++;
    this.emitChanged();
  }

  private emitChanged(): void {
    for (const listener of this.listeners) listener.changed?.(this.record);
  }

  private emitJob(event: JobEvent): void {
    for (const listener of this.listeners) listener.job?.(event);
  }
}

function newId(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 13)}`;
}

function checkInstruction(instruction: string): void {
  if (instruction.trim() === '') {
    throw new DocumentActionError('invalid', 'The instruction is empty: write what the edit should change');
  }
}

function layerName(instruction: string): string {
  const oneLine = instruction.replace(/\s+/g, ' ').trim();
  return oneLine.length > 80 ? `${oneLine.slice(0, 79)}…` : oneLine;
}

function cancelled(): Error {
  const error = new Error('The edit was cancelled');
  error.name = CANCELLED_ERROR_NAME;
  return error;
}

function errorMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] || 'The edit failed';
}
