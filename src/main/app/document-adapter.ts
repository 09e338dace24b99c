/**
 * Adapts the document package (a DocumentSession over src/shared/document records) to the
 * DocumentService the handlers use: translates records into the contract's views, layer/message
 * ids into actions, and job events into contract events. One document is open at a time.
 */
import { basename, extname } from 'node:path';
import sharp from '../native/sharp';
import { ContractError } from '../../shared/contract/errors';
import { LIMITS } from '../../shared/contract/limits';
import type {
  DocumentView,
  GridCellView,
  GridView,
  LayerView,
  MessageView,
  PngImage,
  RecoveryEntry,
} from '../../shared/contract/schemas';
import {
  activeVariant,
  BASE_LAYER_ID,
  DocumentActionError,
  orderedLayers,
  PROJECT_EXTENSION,
  settingsOf,
  staleLayerIds,
  type DocumentAction,
  type DocumentRecord,
  type EditLayer,
  type JobPhase,
  type ModelRef,
} from '../../shared/document';
import type { EditEngine } from '../../shared/engine-types';
import { invertMask } from '../document/composite';
import { DocumentStateError } from '../document/errors';
import { exportPng, exportPsd } from '../document/export';
import { importImage } from '../document/import';
import { encodeProject, loadProject, prepareProject } from '../document/project-file';
import { exportTrainingPairs } from '../document/training-pairs';
import {
  AutosaveScheduler,
  deleteRecovery,
  findRecoveries,
  findRecovery,
  isRecoveryFile,
  type RecoveryInfo,
} from '../document/recovery';
import { CANCELLED_FAILURE, DocumentSession } from '../document/session';
import { GridNotFoundError, type Grid } from '../document/grids';
import { InvalidSettingsError } from '../engine/errors';
import { gridCellPositions, type RgbImage } from '../../shared/engine-types';
import type {
  DocumentEvents,
  DocumentService,
  GridStartRequest,
  LayerPatch,
  TrainingPairsExport,
} from './document-service';

const THUMBNAIL_SIDE = 128;
/** At most one grid.progress event per grid in this time, besides the first of each cell. */
const GRID_PROGRESS_INTERVAL_MS = 100;
const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];

export interface DocumentServiceOptions {
  /** The model results are made with (recorded in each edit request). */
  model?: () => ModelRef;
  appVersion?: string;
  /** Where autosaves of pictures never saved go; no autosave without it. */
  recoveryFolder?: string;
  /** Seconds of change between autosaves (default 30). */
  autosaveIntervalMs?: number;
}

/** Gives a DocumentService backed by the real document package. */
export function createDocumentService(
  engine: EditEngine & { modelInfo?: { dir: string; flavor: string; precision: string } | null },
  options: DocumentServiceOptions = {},
): DocumentService {
  return new SessionDocumentService(engine, {
    model:
      options.model ??
      (() => {
        const info = engine.modelInfo;
        return info
          ? { id: info.dir, version: `${info.flavor}/${info.precision}` }
          : { id: 'unknown', version: 'unknown' };
      }),
    ...(options.appVersion ? { appVersion: options.appVersion } : {}),
    ...(options.recoveryFolder ? { recoveryFolder: options.recoveryFolder } : {}),
    ...(options.autosaveIntervalMs ? { autosaveIntervalMs: options.autosaveIntervalMs } : {}),
  });
}

class SessionDocumentService implements DocumentService {
  private session: DocumentSession | null = null;
  private unsubscribe: (() => void) | null = null;
  private readonly listeners = new Set<DocumentEvents>();
  /**
   * Small integers for pixel hashes, so views can say "these pixels changed". They only ever grow,
   * also across documents: the renderer caches images by layer id and revision, and every document's
   * source layer has the same id.
   */
  private readonly revisions = new Map<string, number>();
  private nextRevision = 1;
  private name = 'Untitled';
  private viewRevision = 0;
  private autosave: AutosaveScheduler | null = null;
  private autosavedRevision = 0;
  /**
   * The views of layers (and their messages) already built, by layer record: records are immutable,
   * so an unchanged layer has the same view, and a change to one of a thousand layers rebuilds one.
   * Cleared with the revisions they depend on.
   */
  private layerViews = new WeakMap<EditLayer, { layer: LayerView; message: MessageView | null }>();
  /** Recovery files listed to the renderer, by the id it was given (it never sees paths). */
  private readonly listedRecoveries = new Map<string, RecoveryInfo>();

  constructor(
    private readonly engine: EditEngine,
    private readonly options: Required<Pick<DocumentServiceOptions, 'model'>> & DocumentServiceOptions,
  ) {}

  current(): DocumentView | null {
    return this.session ? this.view(this.session) : null;
  }

  async open(bytes: Uint8Array, name: string, path: string | null): Promise<DocumentView> {
    const isProject = ZIP_MAGIC.every((byte, i) => bytes[i] === byte);
    let next: DocumentSession;
    if (isProject) {
      const loaded = await loadProject(bytes, { name });
      next = new DocumentSession(loaded.doc, loaded.store, {
        engine: this.engine,
        model: this.options.model,
        path: path !== null && extname(path).toLowerCase() === PROJECT_EXTENSION ? path : null,
        grids: loaded.grids,
      });
    } else {
      const imported = await importImage(bytes, { name });
      next = await DocumentSession.fromImageInSteps(imported, {
        engine: this.engine,
        model: this.options.model,
      });
    }
    // Building the new document's first view is work of its own: let other calls in before it.
    await new Promise((resolve) => setImmediate(resolve));
    return this.adopt(next, name);
  }

  /** Makes `next` the open document (closing the previous one) and starts its autosave. */
  private async adopt(next: DocumentSession, name: string): Promise<DocumentView> {
    await this.close();
    this.session = next;
    this.name = name;
    this.autosavedRevision = next.revision;
    const folder = this.options.recoveryFolder;
    if (folder) {
      this.autosave = new AutosaveScheduler({
        snapshot: () => ({ doc: next.doc, store: next.store, grids: next.grids.records() }),
        projectPath: next.path,
        recoveryFolder: folder,
        generator: { name: 'instruct-edit', version: this.options.appVersion ?? '0.0.0' },
        ...(this.options.autosaveIntervalMs ? { intervalMs: this.options.autosaveIntervalMs } : {}),
        onError: (error) => {
          if (process.env.INSTRUCT_EDIT_DEBUG) console.error('autosave failed:', error);
        },
      });
    }
    const gridProgressSent = new Map<string, { at: number; cellIndex: number | null }>();
    this.unsubscribe = next.subscribe({
      changed: () => {
        if (next.revision !== this.autosavedRevision) {
          this.autosavedRevision = next.revision;
          this.autosave?.markChanged();
        }
        this.emitChanged();
      },
      progress: ({ jobId, layerId, progress }) => {
        for (const listener of this.listeners) {
          listener.progress({
            jobId,
            messageId: layerId,
            step: progress.step,
            totalSteps: progress.totalSteps,
            elapsedMs: progress.elapsedMs,
            preview: progress.preview ? { ...progress.preview, channels: 3 } : null,
          });
        }
      },
      job: ({ jobId, layerId, status, error }) => {
        if (status === 'done') this.prepareSave(next);
        for (const listener of this.listeners) listener.job({ jobId, messageId: layerId, status, error });
      },
      grid: ({ layerId }) => {
        const grid = next.grids.of(layerId);
        if (!grid) return;
        const view = this.gridView(next, grid);
        for (const listener of this.listeners) listener.grid?.(view);
      },
      gridProgress: ({ gridId, layerId, progress }) => {
        const now = performance.now();
        const cellIndex = progress.cell?.index ?? null;
        const last = gridProgressSent.get(gridId);
        const finished = progress.stepsDone >= progress.totalSteps;
        if (last && last.cellIndex === cellIndex && now - last.at < GRID_PROGRESS_INTERVAL_MS && !finished)
          return;
        gridProgressSent.set(gridId, { at: now, cellIndex });
        for (const listener of this.listeners) {
          listener.gridProgress?.({
            gridId,
            messageId: layerId,
            stepsDone: progress.stepsDone,
            totalSteps: progress.totalSteps,
            cellsDone: progress.cellsDone,
            totalCells: progress.totalCells,
            elapsedMs: progress.elapsedMs,
            cellIndex,
            preview: progress.preview ? { ...progress.preview, channels: 3 } : null,
          });
        }
      },
    });
    this.prepareSave(next);
    return this.emitChanged();
  }

  /**
   * New pixels are encoded as PNG and digested in the background, off the event loop, so that a
   * save (a download in browser mode) only has to lay out and send bytes.
   */
  private prepareSave(session: DocumentSession): void {
    void prepareProject(session.doc, session.store).catch((error: unknown) => {
      if (process.env.INSTRUCT_EDIT_DEBUG) console.error('preparing the save failed:', error);
    });
  }

  async layerImage(
    layerId: string,
    what: 'pixels' | 'mask' | 'thumbnail',
    variantId?: string,
    maxSide?: number,
  ): Promise<PngImage> {
    const session = this.need();
    const doc = session.doc;
    const side = what === 'thumbnail' ? THUMBNAIL_SIDE : maxSide;
    if (layerId === BASE_LAYER_ID) {
      if (what === 'mask') throw new ContractError('not-found', 'The source image has no mask');
      return this.png(session, doc.base.pixels, side);
    }
    const layer = this.layer(session, layerId);
    if (what === 'mask') {
      if (!layer.mask) throw new ContractError('not-found', `“${layer.name}” has no mask`);
      return this.png(session, layer.mask, side);
    }
    const variant =
      variantId === undefined
        ? activeVariant(layer)
        : (layer.variants.find((v) => v.id === variantId) ?? null);
    if (!variant) {
      throw new ContractError(
        'not-found',
        variantId === undefined
          ? `“${layer.name}” has no result yet`
          : `“${layer.name}” has no variant ${variantId}`,
      );
    }
    return this.png(session, variant.pixels, side);
  }

  async updateLayer(layerId: string, patch: LayerPatch): Promise<DocumentView> {
    const session = this.need();
    this.layer(session, layerId);
    if (patch.name !== undefined) this.act(session, { type: 'rename-layer', layerId, name: patch.name });
    if (patch.opacity !== undefined)
      this.act(session, { type: 'set-opacity', layerId, opacity: patch.opacity });
    if (patch.visible !== undefined)
      this.act(session, { type: 'set-visibility', layerId, visible: patch.visible });
    return this.view(session);
  }

  async moveLayer(layerId: string, toIndex: number): Promise<DocumentView> {
    const session = this.need();
    this.layer(session, layerId);
    // View index 0 is the source image; edit layers follow in the order they are composited.
    const shown = shownLayers(session.doc);
    const target = shown[Math.max(0, Math.min(shown.length - 1, toIndex - 1))];
    if (!target) throw new ContractError('not-found', 'There is no edit layer to move');
    this.act(session, { type: 'move-layer', layerId, toIndex: session.doc.order.indexOf(target.id) });
    return this.view(session);
  }

  async deleteLayer(layerId: string): Promise<DocumentView> {
    const session = this.need();
    if (layerId === BASE_LAYER_ID) throw new ContractError('conflict', 'The source image cannot be deleted');
    this.layer(session, layerId);
    const job = session.jobPhases().get(layerId);
    if (job) session.cancel(job.jobId);
    this.act(session, { type: 'delete-layer', layerId });
    return this.view(session);
  }

  async setMask(
    layerId: string,
    mask: { width: number; height: number; data: Uint8Array },
  ): Promise<DocumentView> {
    const session = this.need();
    this.checkMaskTarget(session, layerId);
    const { width, height } = session.doc;
    if (mask.width !== width || mask.height !== height || mask.data.length !== width * height) {
      throw new ContractError(
        'bad-request',
        `A mask must be ${width}×${height} with one byte per pixel, got ${mask.width}×${mask.height} (${mask.data.length} bytes)`,
      );
    }
    const ref = session.store.putGray({ width, height, data: new Uint8Array(mask.data) });
    this.act(session, { type: 'set-mask', layerId, mask: ref, how: 'paint' });
    return this.view(session);
  }

  async invertMask(layerId: string): Promise<DocumentView> {
    const session = this.need();
    const layer = this.checkMaskTarget(session, layerId);
    const { width, height } = session.doc;
    const current = layer.mask ? await session.store.getGray(layer.mask) : null;
    const ref = session.store.putGray(invertMask(current, width, height));
    this.act(session, { type: 'set-mask', layerId, mask: ref, how: 'invert' });
    return this.view(session);
  }

  async clearMask(layerId: string): Promise<DocumentView> {
    const session = this.need();
    this.checkMaskTarget(session, layerId);
    this.act(session, { type: 'set-mask', layerId, mask: null, how: 'clear' });
    return this.view(session);
  }

  async undo(): Promise<DocumentView | null> {
    if (!this.session) return null;
    this.session.undo();
    return this.view(this.session);
  }

  async redo(): Promise<DocumentView | null> {
    if (!this.session) return null;
    this.session.redo();
    return this.view(this.session);
  }

  async enqueueEdit(
    settings: Parameters<DocumentService['enqueueEdit']>[0],
    rerunOf?: string,
  ): Promise<{ jobId: string; messageId: string }> {
    const session = this.need();
    if (rerunOf !== undefined) this.layer(session, rerunOf);
    else if (session.doc.order.length >= LIMITS.layers) {
      throw new ContractError(
        'conflict',
        `A picture holds at most ${LIMITS.layers} edit layers: delete some, or re-run one of them`,
      );
    }
    try {
      const { jobId, layerId } = session.enqueue(settings, rerunOf !== undefined ? { rerunOf } : {});
      return { jobId, messageId: layerId };
    } catch (error) {
      throw asContractError(error);
    }
  }

  async cancelJob(jobId: string): Promise<boolean> {
    return this.session?.cancel(jobId) ?? false;
  }

  async pickVariant(messageId: string, variantId: string): Promise<DocumentView> {
    const session = this.need();
    this.layer(session, messageId);
    this.act(session, { type: 'pick-variant', layerId: messageId, variantId });
    return this.view(session);
  }

  async projectBytes(): Promise<{ name: string; bytes: Uint8Array; revision: number }> {
    const session = this.need();
    const revision = session.revision;
    const bytes = await encodeProject(session.doc, session.store, {
      generator: { name: 'instruct-edit', version: this.options.appVersion ?? '0.0.0' },
      grids: session.grids.records(),
    });
    return { name: `${stem(session.path ?? this.name)}${PROJECT_EXTENSION}`, bytes, revision };
  }

  markDownloaded(revision: number): void {
    const session = this.session;
    // Changes made while the bytes were being written are not in the download: still unsaved.
    if (session && session.revision === revision) session.markSaved();
  }

  async rerunStale(): Promise<number> {
    const session = this.need();
    const count = staleLayerIds(session.doc).length;
    if (count === 0) return 0;
    if ([...session.jobPhases().values()].length > 0)
      throw new ContractError(
        'conflict',
        'Wait for the running edits to finish, then update the stale layers',
      );
    // One at a time, bottom first: the session queues each after the one below it has finished.
    void session.rerunStale().catch((error: unknown) => {
      if (process.env.INSTRUCT_EDIT_DEBUG) console.error('rerun of stale layers failed:', error);
    });
    return count;
  }

  markSaved(path: string): void {
    this.session?.markSaved(path);
    void this.autosave?.markSaved(path).catch(() => undefined);
  }

  async recoveries(): Promise<RecoveryEntry[]> {
    const found: RecoveryInfo[] = [];
    if (this.options.recoveryFolder) found.push(...(await findRecoveries(this.options.recoveryFolder)));
    const projectPath = this.session?.path;
    if (projectPath) {
      const own = await findRecovery(projectPath);
      if (own) found.push(own);
    }
    const currentId = this.session?.doc.id;
    const entries: RecoveryEntry[] = [];
    this.listedRecoveries.clear();
    for (const info of found.sort((a, b) => b.savedAt - a.savedAt)) {
      // Offer only usable autosaves with later work, and not the one this session is writing.
      if (!info.newer || info.problem !== null) continue;
      if (info.documentId === currentId && this.session?.dirty) continue;
      const id = `recovery-${entries.length + 1}`;
      this.listedRecoveries.set(id, info);
      entries.push({
        id,
        name: info.projectPath ? basename(info.projectPath) : `${info.documentId ?? 'unsaved'}`,
        projectPath: info.projectPath,
        savedAt: info.savedAt,
        layers: info.layers,
        documentId: info.documentId ?? null,
      });
    }
    return entries;
  }

  async restoreRecovery(id: string): Promise<DocumentView> {
    const info = this.listedRecoveries.get(id);
    if (!info) throw new ContractError('not-found', 'That autosave is no longer offered; list them again');
    if (!(await isRecoveryFile(info.recoveryPath)))
      throw new ContractError('not-found', 'That autosave is no longer there; list them again');
    const loaded = await loadProject(info.recoveryPath);
    const next = new DocumentSession(loaded.doc, loaded.store, {
      engine: this.engine,
      model: this.options.model,
      path: info.projectPath,
      grids: loaded.grids,
    });
    // Restored work is not saved anywhere yet.
    next.revision++;
    this.listedRecoveries.delete(id);
    return this.adopt(next, info.projectPath ? basename(info.projectPath) : loaded.doc.base.name);
  }

  async discardRecovery(id: string): Promise<boolean> {
    const info = this.listedRecoveries.get(id);
    if (!info) return false;
    this.listedRecoveries.delete(id);
    await deleteRecovery(info.recoveryPath);
    return true;
  }

  async exportBytes(format: 'png' | 'psd'): Promise<{ name: string; bytes: Uint8Array }> {
    const session = this.need();
    const bytes =
      format === 'png'
        ? await exportPng(session.doc, session.store)
        : await exportPsd(session.doc, session.store);
    return { name: `${stem(session.path ?? this.name)}.${format}`, bytes };
  }

  async exportTrainingPairs(outDir: string): Promise<TrainingPairsExport> {
    const session = this.need();
    const summary = await exportTrainingPairs(
      [{ name: session.path ?? this.name, doc: session.doc, store: session.store }],
      outDir,
    );
    return { pairs: summary.pairs.length, skipped: summary.skipped };
  }

  trainingPairsName(): string {
    return `${stem(this.need().path ?? this.name)}-training-pairs`;
  }

  async startGrid(request: GridStartRequest): Promise<{ gridId: string }> {
    const session = this.need();
    this.layer(session, request.messageId);
    try {
      const grid = session.grids.start(request.messageId, {
        textScales: request.textScales,
        imageScales: request.imageScales,
        ...(request.steps !== undefined ? { steps: request.steps } : {}),
        ...(request.seed !== undefined ? { seed: request.seed } : {}),
        captionBefore: request.captionBefore ?? null,
        captionAfter: request.captionAfter ?? null,
        clipDir: request.clipDir,
      });
      return { gridId: grid.id };
    } catch (error) {
      throw asContractError(error);
    }
  }

  async cancelGrid(gridId: string): Promise<boolean> {
    return this.session?.grids.cancel(gridId) ?? false;
  }

  async grid(messageId: string): Promise<GridView | null> {
    const session = this.need();
    this.layer(session, messageId);
    const grid = session.grids.of(messageId);
    return grid ? this.gridView(session, grid) : null;
  }

  async gridCellImage(gridId: string, cellIndex: number, maxSide?: number): Promise<PngImage> {
    const session = this.need();
    try {
      return await encodePng(await session.grids.cellImage(gridId, cellIndex), maxSide);
    } catch (error) {
      throw asContractError(error);
    }
  }

  async keepGridCell(gridId: string, cellIndex: number): Promise<DocumentView> {
    const session = this.need();
    try {
      await session.grids.keep(gridId, cellIndex);
    } catch (error) {
      throw asContractError(error);
    }
    return this.view(session);
  }

  subscribe(events: DocumentEvents): () => void {
    this.listeners.add(events);
    return () => this.listeners.delete(events);
  }

  async dispose(): Promise<void> {
    await this.close();
    this.listeners.clear();
  }

  // ---- Helpers ----------------------------------------------------------------------------------

  private async close(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    const previous = this.session;
    this.session = null;
    // Work not saved stays recoverable: flush the pending autosave before letting go.
    const autosave = this.autosave;
    this.autosave = null;
    if (autosave) {
      if (previous?.dirty) await autosave.flush().catch(() => undefined);
      await autosave.dispose();
    }
    this.revisions.clear();
    this.layerViews = new WeakMap();
    await previous?.dispose();
  }

  private need(): DocumentSession {
    if (!this.session) throw new ContractError('conflict', 'No picture is open');
    return this.session;
  }

  private layer(session: DocumentSession, layerId: string): EditLayer {
    const layer = session.doc.layers[layerId];
    if (!layer) throw new ContractError('not-found', `No layer ${layerId}`);
    return layer;
  }

  private checkMaskTarget(session: DocumentSession, layerId: string): EditLayer {
    if (layerId === BASE_LAYER_ID) throw new ContractError('conflict', 'The source image cannot have a mask');
    return this.layer(session, layerId);
  }

  private act(session: DocumentSession, action: DocumentAction): void {
    try {
      session.apply(action);
    } catch (error) {
      throw asContractError(error);
    }
  }

  private revisionOf(ref: string | null): number {
    if (ref === null) return 0;
    let revision = this.revisions.get(ref);
    if (revision === undefined) this.revisions.set(ref, (revision = this.nextRevision++));
    return revision;
  }

  /**
   * A stored image as PNG: the stored lossless PNG at full size; smaller (fit inside `maxSide`) it is
   * resized from the raw pixels and encoded fast, in sharp's worker threads, so a screen-size version
   * of an 8000×6000 layer is ready in a fraction of a second without touching the full-size encode.
   */
  private async png(session: DocumentSession, ref: string, maxSide?: number): Promise<PngImage> {
    const info = session.store.info(ref);
    if (!info) throw new ContractError('not-found', 'The pixels of that layer are missing');
    if (maxSide === undefined || maxSide >= Math.max(info.width, info.height)) {
      return { width: info.width, height: info.height, png: await session.store.png(ref) };
    }
    const raw = await session.store.get(ref);
    const input = Buffer.from(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength);
    const { data, info: out } = await sharp(input, {
      raw: { width: raw.width, height: raw.height, channels: raw.kind === 'rgb' ? 3 : 1 },
    })
      .resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true })
      .png({ compressionLevel: 1 })
      .toBuffer({ resolveWithObject: true });
    return {
      width: out.width,
      height: out.height,
      png: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    };
  }

  private gridView(session: DocumentSession, grid: Grid): GridView {
    const cells = gridCellPositions(grid).map((position): GridCellView => {
      const cell = grid.cells.get(position.index);
      return {
        index: position.index,
        textIndex: position.textIndex,
        imageIndex: position.imageIndex,
        textGuidance: position.textGuidance,
        imageGuidance: position.imageGuidance,
        state: cell
          ? 'done'
          : grid.state === 'running' && grid.runningCell === position.index
            ? 'running'
            : 'pending',
        keepable: cell ? session.grids.keepable(grid, cell) : false,
        keptVariantId: cell ? session.grids.keptVariant(grid, cell) : null,
        metrics: cell?.metrics ? { ...cell.metrics } : null,
        durationMs: cell?.durationMs ?? null,
      };
    });
    return {
      gridId: grid.id,
      messageId: grid.layerId,
      state: grid.state,
      error: grid.error,
      instruction: grid.request.instruction,
      steps: grid.request.steps,
      seed: grid.request.seed,
      scheduler: grid.request.scheduler,
      resolution: grid.request.resolution,
      textScales: [...grid.textScales],
      imageScales: [...grid.imageScales],
      captionBefore: grid.captionBefore,
      captionAfter: grid.captionAfter,
      clipModel: grid.clipModel,
      processedWidth: grid.processedWidth,
      processedHeight: grid.processedHeight,
      cells,
      createdAt: grid.createdAt,
    };
  }

  private layerViewsOf(
    doc: DocumentRecord,
    layer: EditLayer,
  ): { layer: LayerView; message: MessageView | null } {
    let views = this.layerViews.get(layer);
    if (!views) {
      views = {
        layer: {
          id: layer.id,
          name: layer.name,
          kind: 'edit',
          visible: layer.visible,
          opacity: layer.opacity,
          stale: layer.status.state === 'stale',
          staleReason: layer.status.state === 'stale' ? layer.status.reason : null,
          hasMask: layer.mask !== null,
          x: 0,
          y: 0,
          width: doc.width,
          height: doc.height,
          pixelsRevision: this.revisionOf(activeVariant(layer)?.pixels ?? null),
          maskRevision: this.revisionOf(layer.mask),
          messageId: layer.id,
        },
        message: null,
      };
      this.layerViews.set(layer, views);
    }
    return views;
  }

  private messageView(layer: EditLayer, job: { jobId: string; phase: JobPhase } | undefined): MessageView {
    const cancelled = layer.failure === CANCELLED_FAILURE;
    return {
      id: layer.id,
      instruction: layer.request.instruction,
      settings: settingsOf(activeVariant(layer)?.request ?? layer.request),
      status: job ? job.phase : layer.failure !== null ? (cancelled ? 'cancelled' : 'failed') : 'done',
      error: layer.failure !== null && !cancelled ? layer.failure : null,
      jobId: job?.jobId ?? null,
      layerId: layer.variants.length > 0 ? layer.id : null,
      variants: layer.variants.map((variant) => ({
        id: variant.id,
        settings: settingsOf(variant.request),
        createdAt: variant.createdAt,
        revision: this.revisionOf(variant.pixels),
        durationMs: variant.durationMs,
      })),
      pickedVariantId: layer.activeVariantId,
      createdAt: layer.createdAt,
    };
  }

  private emitChanged(): DocumentView {
    const view = this.current();
    for (const listener of this.listeners) listener.changed(view);
    return view!;
  }

  private view(session: DocumentSession): DocumentView {
    const doc = session.doc;
    const jobs = session.jobPhases();
    const history = session.history;
    const layers: LayerView[] = [
      {
        id: BASE_LAYER_ID,
        name: doc.base.name,
        kind: 'source',
        visible: true,
        opacity: 1,
        stale: false,
        staleReason: null,
        hasMask: false,
        x: 0,
        y: 0,
        width: doc.width,
        height: doc.height,
        pixelsRevision: this.revisionOf(doc.base.pixels),
        maskRevision: 0,
        messageId: null,
      },
      ...shownLayers(doc).map((layer) => this.layerViewsOf(doc, layer).layer),
    ];
    const messages = [...orderedLayers(doc)]
      .sort((a, b) => a.createdAt - b.createdAt)
      .map((layer): MessageView => {
        const job = jobs.get(layer.id);
        if (!job) {
          const cached = this.layerViewsOf(doc, layer);
          return (cached.message ??= this.messageView(layer, undefined));
        }
        return this.messageView(layer, job);
      });
    return {
      id: doc.id,
      revision: ++this.viewRevision,
      name: session.path ? basename(session.path) : this.name,
      path: session.path,
      dirty: session.dirty,
      width: doc.width,
      height: doc.height,
      layers,
      messages,
      canUndo: history.canUndo,
      canRedo: history.canRedo,
      undoLabel: history.undoLabel,
      redoLabel: history.redoLabel,
      notices: [...doc.base.origin.notices],
    };
  }
}

/** Edit layers that have a result, in compositing order (pending ones show only as messages). */
function shownLayers(doc: DocumentRecord): EditLayer[] {
  return orderedLayers(doc).filter((layer) => layer.variants.length > 0);
}

function stem(name: string): string {
  const base = basename(name);
  const extension = extname(base);
  return (extension ? base.slice(0, -extension.length) : base) || 'Untitled';
}

/** Raw pixels as PNG, fitted inside `maxSide` when that is smaller; encoded in sharp's threads. */
async function encodePng(image: RgbImage, maxSide?: number): Promise<PngImage> {
  let pipeline = sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), {
    raw: { width: image.width, height: image.height, channels: 3 },
  });
  if (maxSide !== undefined && maxSide < Math.max(image.width, image.height))
    pipeline = pipeline.resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true });
  const { data, info } = await pipeline.png({ compressionLevel: 1 }).toBuffer({ resolveWithObject: true });
  return {
    width: info.width,
    height: info.height,
    png: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}

function asContractError(error: unknown): unknown {
  if (error instanceof GridNotFoundError) return new ContractError('not-found', error.message);
  if (error instanceof InvalidSettingsError) return new ContractError('bad-request', error.message);
  if (error instanceof DocumentActionError) {
    return new ContractError(error.code === 'not-found' ? 'not-found' : 'bad-request', error.message);
  }
  if (error instanceof DocumentStateError) return new ContractError('conflict', error.message);
  return error;
}
