/**
 * Everything behind the contract, independent of the transport: settings, path policy, the engine
 * host, the model service, the document service and the handlers, wired to one event bus. Electron
 * main and the browser-mode server each create one AppCore and connect their transport to it.
 */
import { join } from 'node:path';
import type { DocumentView } from '../../shared/contract/schemas';
import { ClipService } from './clip-service';
import { createDispatcher, type Dispatcher } from './dispatcher';
import type { Dialogs } from './dialogs';
import type { DocumentService } from './document-service';
import { EngineHost, type WorkerLauncher } from './engine-host';
import { EventBus } from './event-bus';
import { createHandlers } from './handlers';
import { ModelService } from './model-service';
import type { HubApi } from './model-download';
import { PathPolicy } from './path-policy';
import { SettingsStore } from './settings-store';

export interface AppCoreOptions {
  mode: 'electron' | 'browser';
  appName?: string;
  version: string;
  /** Settings, recent files. */
  configDir: string;
  /** Where downloaded models go (default: configDir/models). */
  modelsDir?: string;
  launcher: WorkerLauncher;
  dialogs?: Dialogs | null;
  /** Creates the document service on top of the engine (the engine is the EditEngine its job runner uses). */
  createDocuments?: (engine: EngineHost) => DocumentService | null;
  /** A model folder given on the command line: granted and loaded at start. */
  initialModelDir?: string;
  /** Folders given on the command line whose files may be opened and written. */
  allowDirs?: string[];
  acceptTypedModelFolders?: boolean;
  hub?: HubApi;
  onRecent?: (path: string) => void;
  checkResponses?: boolean;
}

export interface AppCore {
  dispatcher: Dispatcher;
  bus: EventBus;
  engine: EngineHost;
  models: ModelService;
  settings: SettingsStore;
  policy: PathPolicy;
  documents: DocumentService | null;
  dispose(): Promise<void>;
}

export function createAppCore(options: AppCoreOptions): AppCore {
  const bus = new EventBus({ validate: options.checkResponses ?? false });
  const settings = new SettingsStore(options.configDir);
  const policy = new PathPolicy();
  const modelsDir = options.modelsDir ?? join(options.configDir, 'models');
  policy.grantDir(modelsDir, 'model');
  for (const entry of settings.get().models) policy.grantDir(entry.dir, 'model');
  // Recent files may be opened again; writing one needs a save dialog or a folder granted for writing.
  for (const path of settings.recentFiles()) policy.grantFile(path, 'read');
  for (const dir of options.allowDirs ?? []) policy.grantDir(dir, 'read', 'write', 'model');

  const engine = new EngineHost({
    launcher: options.launcher,
    onStatus: (status) => bus.emit('engine.status', status),
  });
  const models = new ModelService({
    engine,
    settings,
    bus,
    modelsDir,
    optimizedDir: join(options.configDir, 'optimized'),
    ...(options.hub ? { hub: options.hub } : {}),
  });
  const documents = options.createDocuments?.(engine) ?? null;
  const unsubscribe = documents?.subscribe({
    changed: (view: DocumentView | null) => bus.emit('document.changed', { document: view }),
    progress: (progress) => bus.emit('job.progress', progress),
    job: (update) => bus.emit('job.updated', update),
    grid: (grid) => bus.emit('grid.updated', { grid }),
    gridProgress: (progress) => bus.emit('grid.progress', progress),
  });

  const handlers = createHandlers({
    mode: options.mode,
    appName: options.appName ?? 'Instruct Edit',
    version: options.version,
    settings,
    policy,
    engine,
    models,
    clip: new ClipService(settings, models),
    documents,
    dialogs: options.dialogs ?? null,
    acceptTypedModelFolders: options.acceptTypedModelFolders ?? options.mode === 'browser',
    ...(options.onRecent ? { onRecent: options.onRecent } : {}),
  });
  const dispatcher = createDispatcher(handlers, {
    checkResponses: options.checkResponses ?? false,
    onError: (name, error) => {
      if (process.env.INSTRUCT_EDIT_DEBUG) console.error(`[${name}]`, error);
    },
  });

  if (options.initialModelDir) {
    policy.grantDir(options.initialModelDir, 'model');
    void models.use(options.initialModelDir);
  } else {
    models.restore();
  }

  return {
    dispatcher,
    bus,
    engine,
    models,
    settings,
    policy,
    documents,
    async dispose() {
      unsubscribe?.();
      models.cancelAll();
      await documents?.dispose().catch(() => undefined);
      await engine.dispose();
      await settings.flush();
    },
  };
}
