/**
 * Which model the engine uses: loading a folder (reporting the loader's own message when it is not
 * a usable export), remembering the models the user has, the execution provider and its fallback
 * notice, and downloads from the Hugging Face Hub.
 */
import { randomUUID } from 'node:crypto';
import { basename, join } from 'node:path';
import type { ProviderName } from '../../shared/engine-types';
import type { ModelStatus } from '../../shared/contract/schemas';
import { ContractError } from '../../shared/contract/errors';
import type { EngineHost } from './engine-host';
import type { EventBus } from './event-bus';
import { downloadModel, explainDownloadError, type HubApi } from './model-download';
import type { SettingsStore } from './settings-store';

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
  hub?: HubApi;
}

export class ModelService {
  private current: ModelStatus = NO_MODEL;
  private loadSeq = 0;
  private readonly downloads = new Map<string, AbortController>();

  constructor(private readonly options: ModelServiceOptions) {}

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
    const provider = this.options.settings.get().provider;
    this.setStatus({ ...NO_MODEL, state: 'loading', dir });
    try {
      const info = await this.options.engine.loadModel(dir, provider);
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
