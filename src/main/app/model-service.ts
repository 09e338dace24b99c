/**
 * Which model the engine uses: loading a folder (reporting the loader's own message when it is not
 * a usable export), remembering the models the user has, the execution provider and its fallback
 * notice, and downloads from the Hugging Face Hub.
 */
import { randomUUID } from 'node:crypto';
import { basename, join } from 'node:path';
import type { ProviderName } from '../../shared/engine-types';
import { CANCELLED_ERROR_NAME } from '../../shared/engine-types';
import type { AppSettings, ModelOptimization, ModelStatus } from '../../shared/contract/schemas';
import { ContractError } from '../../shared/contract/errors';
import { isOptimizable, isOptimized, lookupOptimizedCopy } from '../engine/optimized-cache';
import type { EngineHost } from './engine-host';
import type { EngineLoadOptions } from './engine/protocol';
import type { EventBus } from './event-bus';
import { downloadModel, explainDownloadError, type HubApi } from './model-download';
import type { SettingsStore } from './settings-store';

const GB = 1024 ** 3;

/** The engine's memory budget and threads from the app's settings. */
export function engineOptionsFrom(settings: AppSettings): EngineLoadOptions {
  return {
    memoryBudget: settings.memoryBudgetGb === null ? 'auto' : Math.round(settings.memoryBudgetGb * GB),
    threads: settings.threads,
  };
}

const NO_MODEL: ModelStatus = {
  state: 'none',
  dir: null,
  message: null,
  provider: null,
  providerNotice: null,
  flavor: null,
  precision: null,
};

export interface ModelServiceOptions {
  engine: EngineHost;
  settings: SettingsStore;
  bus: EventBus;
  /** Where downloads go, one folder per repository. */
  modelsDir: string;
  /** Where optimised copies of models go, one folder per source UNet's hash (optimized-cache.ts). */
  optimizedDir?: string;
  hub?: HubApi;
}

export class ModelService {
  private current: ModelStatus = NO_MODEL;
  private loadSeq = 0;
  private readonly downloads = new Map<string, AbortController>();
  private optimizing: AbortController | null = null;

  constructor(private readonly options: ModelServiceOptions) {}

  private get optimizedDir(): string {
    return this.options.optimizedDir ?? join(this.options.modelsDir, '..', 'optimized');
  }

  /** What the optimiser means for a folder loaded from `loadedDir` (a cached copy, or itself). */
  private optimizationOf(dir: string, loadedDir: string): ModelOptimization | null {
    const base = { loadedDir, progress: null, message: null };
    if (loadedDir !== dir)
      return {
        ...base,
        state: 'cached',
        message: 'Using the optimised copy of this model (made earlier, kept in the app’s cache)',
      };
    if (isOptimized(dir)) return { ...base, state: 'optimised' };
    if (!isOptimizable(dir)) return null;
    const dismissed = this.options.settings.get().optimizeDismissed.includes(dir);
    return { ...base, state: dismissed ? 'dismissed' : 'available' };
  }

  status(): ModelStatus {
    return { ...this.current };
  }

  private setStatus(status: ModelStatus): ModelStatus {
    this.current = status;
    this.options.bus.emit('model.status', status);
    return this.status();
  }

  /** Loads a model folder in the engine; the answer carries the loader's message on failure. */
  async use(dir: string): Promise<ModelStatus> {
    const seq = ++this.loadSeq;
    const settings = this.options.settings.get();
    const provider = settings.provider;
    const engineOptions = engineOptionsFrom(settings);
    this.setStatus({ ...NO_MODEL, state: 'loading', dir });
    try {
      // A copy optimised earlier is used in the folder's place; if it no longer loads, the folder is.
      let loadedDir = lookupOptimizedCopy(this.optimizedDir, dir) ?? dir;
      const info = await this.options.engine
        .loadModel(loadedDir, provider, engineOptions)
        .catch((error: unknown) => {
          if (loadedDir === dir) throw error;
          loadedDir = dir;
          return this.options.engine.loadModel(dir, provider, engineOptions);
        });
      if (seq !== this.loadSeq) return this.status();
      this.options.settings.update((settings) => {
        settings.activeModelDir = dir;
        if (!settings.models.some((entry) => entry.dir === dir)) {
          settings.models.push({
            dir,
            label: basename(dir),
            source: 'folder',
            repo: null,
            addedAt: Date.now(),
          });
        }
      });
      return this.setStatus({
        state: 'ready',
        dir,
        message: null,
        provider: info.provider,
        providerNotice: info.providerNotice ?? null,
        flavor: info.flavor,
        precision: info.precision,
        optimization: this.optimizationOf(dir, loadedDir),
      });
    } catch (error) {
      if (seq !== this.loadSeq) return this.status();
      this.options.engine.unloadModel();
      const message = error instanceof Error ? error.message : String(error);
      return this.setStatus({ ...NO_MODEL, state: 'error', dir, message });
    }
  }

  /** At start: load the model used last time, if any (in the background). */
  restore(): void {
    const dir = this.options.settings.get().activeModelDir;
    if (dir) void this.use(dir);
  }

  async setProvider(provider: ProviderName): Promise<void> {
    const before = this.options.settings.get().provider;
    this.options.settings.update((settings) => {
      settings.provider = provider;
    });
    if (before !== provider && this.current.dir && this.current.state !== 'loading')
      await this.use(this.current.dir);
  }

  /** Memory budget and threads: saved, and the loaded model is reloaded with them. */
  async setEngineOptions(change: { memoryBudgetGb?: number | null; threads?: number | null }): Promise<void> {
    const before = engineOptionsFrom(this.options.settings.get());
    const after = engineOptionsFrom(
      this.options.settings.update((settings) => {
        if (change.memoryBudgetGb !== undefined) settings.memoryBudgetGb = change.memoryBudgetGb;
        if (change.threads !== undefined) settings.threads = change.threads;
      }),
    );
    const changed = before.memoryBudget !== after.memoryBudget || before.threads !== after.threads;
    if (changed && this.current.dir && this.current.state === 'ready') await this.use(this.current.dir);
  }

  /**
   * Optimises the loaded model into the user's cache (in the engine worker) and loads the copy.
   * Progress and the outcome come as model.status; a refusal keeps the original loaded and says why.
   */
  async optimize(): Promise<ModelStatus> {
    const current = this.current;
    const dir = current.dir;
    const offer = current.optimization;
    if (current.state !== 'ready' || !dir || !offer)
      throw new ContractError('conflict', 'Load a model first');
    if (offer.state === 'optimised' || offer.state === 'cached')
      throw new ContractError('conflict', 'This model is already optimised');
    if (this.optimizing) throw new ContractError('conflict', 'The model is already being optimised');
    const controller = new AbortController();
    this.optimizing = controller;
    const seq = this.loadSeq;
    const running = (progress: number, message: string): void => {
      if (seq === this.loadSeq)
        this.setStatus({
          ...current,
          optimization: { state: 'running', loadedDir: dir, progress, message },
        });
    };
    running(0, 'Reading the model…');
    try {
      const copy = await this.options.engine.optimizeModel(dir, this.optimizedDir, {
        signal: controller.signal,
        onProgress: (progress) =>
          running(
            progress.fraction,
            progress.stage === 'hashing' ? 'Reading the model…' : 'Rewriting and checking the attention…',
          ),
      });
      if (seq !== this.loadSeq) return this.status();
      return await this.use(dir).then((status) => {
        if (status.optimization?.state !== 'cached' || copy.reused) return status;
        return this.setStatus({
          ...status,
          optimization: {
            ...status.optimization,
            message: `Optimised: ${copy.attentionRewritten} attention blocks fused; this copy is used from now on`,
          },
        });
      });
    } catch (error) {
      if (seq !== this.loadSeq) return this.status();
      const cancelled = error instanceof Error && error.name === CANCELLED_ERROR_NAME;
      const message = error instanceof Error ? error.message : String(error);
      // A refusal would repeat on every try: the offer is not made again for this folder.
      if (!cancelled) this.rememberDismissed(dir);
      return this.setStatus({
        ...current,
        optimization: cancelled
          ? { state: 'available', loadedDir: dir, progress: null, message: 'Optimising was cancelled' }
          : {
              state: 'refused',
              loadedDir: dir,
              progress: null,
              message: `The model was not optimised, the original stays in use: ${message}`,
            },
      });
    } finally {
      this.optimizing = null;
    }
  }

  cancelOptimize(): boolean {
    if (!this.optimizing) return false;
    this.optimizing.abort();
    return true;
  }

  /** Declines the optimiser's offer for the loaded model; remembered per model folder. */
  dismissOptimize(): ModelStatus {
    const dir = this.current.dir;
    const offer = this.current.optimization;
    if (!dir || !offer) return this.status();
    this.rememberDismissed(dir);
    if (offer.state !== 'available' && offer.state !== 'refused') return this.status();
    return this.setStatus({ ...this.current, optimization: { ...offer, state: 'dismissed', message: null } });
  }

  private rememberDismissed(dir: string): void {
    this.options.settings.update((settings) => {
      if (!settings.optimizeDismissed.includes(dir)) settings.optimizeDismissed.push(dir);
      settings.optimizeDismissed = settings.optimizeDismissed.slice(-100);
    });
  }

  forget(dir: string): void {
    this.options.settings.update((settings) => {
      settings.models = settings.models.filter((entry) => entry.dir !== dir);
      if (settings.activeModelDir === dir) settings.activeModelDir = null;
    });
    if (this.current.dir === dir) {
      this.options.engine.unloadModel();
      this.setStatus(NO_MODEL);
    }
  }

  download(repo: string, revision?: string): { downloadId: string; dir: string } {
    const downloadId = randomUUID().slice(0, 8);
    const dir = join(this.options.modelsDir, repo.replace('/', '--'));
    for (const controller of this.downloads.values()) {
      if ((controller as AbortController & { dir?: string }).dir === dir) {
        throw new ContractError('conflict', `${repo} is already downloading`);
      }
    }
    const controller = Object.assign(new AbortController(), { dir });
    this.downloads.set(downloadId, controller);
    let last = { file: null as string | null, bytesDone: 0, bytesTotal: 0 };
    void downloadModel({
      repo,
      ...(revision ? { revision } : {}),
      dir,
      ...(this.options.hub ? { hub: this.options.hub } : {}),
      signal: controller.signal,
      onProgress: (progress) => {
        last = progress;
        this.options.bus.emit('model.downloadProgress', { downloadId, dir, ...progress });
      },
    })
      .then(async () => {
        this.options.settings.update((settings) => {
          settings.downloadRepo = repo;
          settings.models = settings.models.filter((entry) => entry.dir !== dir);
          settings.models.push({ dir, label: repo, source: 'download', repo, addedAt: Date.now() });
        });
        await this.use(dir);
      })
      .catch((error: unknown) => {
        const cancelled = controller.signal.aborted;
        this.options.bus.emit('model.downloadProgress', {
          downloadId,
          dir,
          state: cancelled ? 'cancelled' : 'failed',
          file: last.file,
          bytesDone: last.bytesDone,
          bytesTotal: last.bytesTotal,
          message: cancelled
            ? 'Cancelled; the download resumes where it stopped next time'
            : explainDownloadError(error),
        });
      })
      .finally(() => this.downloads.delete(downloadId));
    return { downloadId, dir };
  }

  cancelDownload(downloadId: string): boolean {
    const controller = this.downloads.get(downloadId);
    if (!controller) return false;
    controller.abort();
    return true;
  }

  cancelAll(): void {
    for (const controller of this.downloads.values()) controller.abort();
  }
}
