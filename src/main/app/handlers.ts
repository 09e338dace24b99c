/**
 * The contract's handlers: one function per call, each getting a payload that the dispatcher has
 * already validated. File system access goes through the path policy; dialogs (Electron) grant the
 * paths the user picks.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { randomSeed } from '../engine/rng';
import { ContractError } from '../../shared/contract/errors';
import { LIMITS, type AppSettings, type EditSettingsInput } from '../../shared/contract/schemas';
import type { EditSettings } from '../../shared/engine-types';
import { writeFileAtomic } from '../util/atomic-write';
import { ioReason } from '../util/io-errors';
import { PROJECT_EXTENSION, type Dialogs } from './dialogs';
import type { ClipService } from './clip-service';
import type { Handlers } from './dispatcher';
import type { DocumentService } from './document-service';
import type { EngineHost } from './engine-host';
import { engineOptionHandlers } from './engine-option-handlers';
import type { ModelService } from './model-service';
import type { PathPolicy } from './path-policy';
import type { SettingsStore } from './settings-store';
import { TokenCounter } from './token-counter';

export interface HandlerContext {
  mode: 'electron' | 'browser';
  appName: string;
  version: string;
  settings: SettingsStore;
  policy: PathPolicy;
  engine: EngineHost;
  models: ModelService;
  clip: ClipService;
  /** Null until a document service is available (then document calls answer 'conflict'). */
  documents: DocumentService | null;
  /** Electron only. */
  dialogs: Dialogs | null;
  /** Browser mode: a typed model folder counts as chosen by the user. */
  acceptTypedModelFolders: boolean;
  /** Called after a file was opened or saved (Electron adds it to the OS recent list). */
  onRecent?: (path: string) => void;
}

function requireDocuments(ctx: HandlerContext): DocumentService {
  if (!ctx.documents) throw new ContractError('unsupported', 'Documents are not available in this build');
  return ctx.documents;
}

function requireDialogs(ctx: HandlerContext): Dialogs {
  if (!ctx.dialogs)
    throw new ContractError('unsupported', 'Native dialogs are only available in the desktop app');
  return ctx.dialogs;
}

function requireOpenDocument(ctx: HandlerContext): DocumentService {
  const documents = requireDocuments(ctx);
  if (!documents.current()) throw new ContractError('conflict', 'No picture is open');
  return documents;
}

export function completeSettings(input: EditSettingsInput): EditSettings {
  const { seed, karrasSigmas, ...rest } = input;
  return {
    ...rest,
    instruction: rest.instruction.trim(),
    seed: seed ?? randomSeed(),
    ...(karrasSigmas !== undefined ? { karrasSigmas } : {}),
  };
}

async function readChosenFile(ctx: HandlerContext, path: string): Promise<Uint8Array> {
  const checked = ctx.policy.check(path, 'read');
  let size: number;
  try {
    const info = await stat(checked);
    if (!info.isFile()) throw new ContractError('not-found', `${path} is not a file`);
    size = info.size;
  } catch (error) {
    if (error instanceof ContractError) throw error;
    throw new ContractError('not-found', `Cannot read ${path}: ${(error as Error).message}`);
  }
  if (size > LIMITS.uploadBytes) throw new ContractError('bad-request', `${path} is too large to open`);
  return readFile(checked);
}

function requireModel(ctx: HandlerContext): void {
  const model = ctx.models.status();
  if (model.state !== 'ready' && model.state !== 'loading') {
    throw new ContractError(
      'conflict',
      model.state === 'error' && model.message
        ? `The model did not load: ${model.message}`
        : 'No model is loaded: choose or download one first',
    );
  }
}

/**
 * Writes a file the user chose, atomically: a folder is refused (the target is a file inside it),
 * temp files that killed saves of the same path left are removed first, the file keeps its
 * permissions, and errno failures become the documented messages ("the disk is full (ENOSPC)").
 */
async function writeChosenFile(path: string, bytes: Uint8Array, what: string): Promise<void> {
  let isFolder = false;
  try {
    isFolder = (await stat(path)).isDirectory();
  } catch {
    /* a new file */
  }
  if (isFolder)
    throw new ContractError('bad-request', `${path.slice(0, 300)} is a folder: name a file inside it`);
  try {
    await writeFileAtomic(path, bytes, { removeStaleTemps: true });
  } catch (error) {
    throw new ContractError('failed', `Could not save ${what} to ${path.slice(0, 300)}: ${ioReason(error)}`);
  }
}

export function createHandlers(ctx: HandlerContext): Handlers {
  const tokenCounter = new TokenCounter(() => {
    const model = ctx.models.status();
    return model.state === 'ready' || model.state === 'loading' ? model.dir : null;
  });
  const openPath = async (path: string) => {
    const bytes = await readChosenFile(ctx, path);
    const canonical = ctx.policy.check(path, 'read');
    const view = await requireDocuments(ctx).open(bytes, basename(path), canonical);
    // Opening grants nothing more: writing back needs a save dialog or a folder granted for writing.
    ctx.settings.addRecent(canonical);
    ctx.onRecent?.(canonical);
    return view;
  };

  const writeProject = async (path: string) => {
    const documents = requireOpenDocument(ctx);
    const checked = ctx.policy.check(path, 'write');
    const { bytes } = await documents.projectBytes();
    await writeChosenFile(checked, bytes, 'the project');
    documents.markSaved(checked);
    ctx.settings.addRecent(checked);
    ctx.onRecent?.(checked);
    return { path: checked };
  };

  const saveAs = async () => {
    const documents = requireOpenDocument(ctx);
    if (!ctx.dialogs) return { path: null };
    const { name } = await documents.projectBytes();
    const path = await ctx.dialogs.saveProject(name);
    if (!path) return { path: null };
    ctx.policy.grantFile(path, 'read', 'write');
    return writeProject(path);
  };

  return {
    'app.info': () => ({
      name: ctx.appName,
      version: ctx.version,
      mode: ctx.mode,
      platform: process.platform,
      nativeDialogs: ctx.dialogs !== null,
    }),
    'settings.get': () => ctx.settings.get(),
    'settings.update': async (request) => {
      if (request.provider) await ctx.models.setProvider(request.provider);
      if (request.memoryBudgetGb !== undefined || request.threads !== undefined)
        await ctx.models.setEngineOptions({
          ...(request.memoryBudgetGb !== undefined ? { memoryBudgetGb: request.memoryBudgetGb } : {}),
          ...(request.threads !== undefined ? { threads: request.threads } : {}),
        });
      return ctx.settings.update((settings: AppSettings) => {
        if (request.editDefaults)
          settings.editDefaults = { ...settings.editDefaults, ...request.editDefaults };
        if (request.downloadRepo !== undefined) settings.downloadRepo = request.downloadRepo;
      });
    },
    'model.status': () => ctx.models.status(),
    'model.useFolder': async ({ dir }) => {
      if (ctx.acceptTypedModelFolders) ctx.policy.grantDir(dir, 'model');
      ctx.policy.check(dir, 'model');
      return ctx.models.use(dir);
    },
    'model.chooseFolder': async () => {
      const dir = await requireDialogs(ctx).chooseModelFolder();
      if (!dir) return null;
      ctx.policy.grantDir(dir, 'model');
      return ctx.models.use(dir);
    },
    'model.forget': ({ dir }) => {
      ctx.models.forget(dir);
      return ctx.settings.get();
    },
    'model.download': ({ repo, revision }) => ctx.models.download(repo, revision),
    'model.downloadCancel': ({ downloadId }) => ({ cancelled: ctx.models.cancelDownload(downloadId) }),
    'engine.status': () => ctx.engine.status(),
    'document.get': () => ctx.documents?.current() ?? null,
    'document.openPath': ({ path }) => openPath(path),
    'document.openBytes': ({ name, bytes }) => requireDocuments(ctx).open(bytes, basename(name), null),
    'document.openDialog': async () => {
      const path = await requireDialogs(ctx).openFile();
      if (!path) return null;
      ctx.policy.grantFile(path, 'read', 'write');
      return openPath(path);
    },
    'document.layerImage': ({ layerId, what, variantId, maxSide }) =>
      requireOpenDocument(ctx).layerImage(layerId, what, variantId, maxSide),
    'layer.update': ({ layerId, ...patch }) => requireOpenDocument(ctx).updateLayer(layerId, patch),
    'layer.move': ({ layerId, toIndex }) => requireOpenDocument(ctx).moveLayer(layerId, toIndex),
    'layer.delete': ({ layerId }) => requireOpenDocument(ctx).deleteLayer(layerId),
    'mask.set': ({ layerId, width, height, data }) =>
      requireOpenDocument(ctx).setMask(layerId, { width, height, data }),
    'mask.invert': ({ layerId }) => requireOpenDocument(ctx).invertMask(layerId),
    'mask.clear': ({ layerId }) => requireOpenDocument(ctx).clearMask(layerId),
    'history.undo': () => requireDocuments(ctx).undo(),
    'history.redo': () => requireDocuments(ctx).redo(),
    'edit.enqueue': async ({ settings, rerunOf }) => {
      const documents = requireOpenDocument(ctx);
      requireModel(ctx);
      return documents.enqueueEdit(completeSettings(settings), rerunOf);
    },
    'edit.rerunStale': async () => {
      const documents = requireOpenDocument(ctx);
      requireModel(ctx);
      return { queued: await documents.rerunStale() };
    },
    'edit.cancel': async ({ jobId }) => ({ cancelled: await requireDocuments(ctx).cancelJob(jobId) }),
    'variant.pick': ({ messageId, variantId }) => requireOpenDocument(ctx).pickVariant(messageId, variantId),
    'project.save': async () => {
      const documents = requireOpenDocument(ctx);
      const path = documents.current()?.path ?? null;
      // Only ever save over a project file, never over the picture it started from.
      if (path && path.toLowerCase().endsWith(`.${PROJECT_EXTENSION}`) && ctx.policy.isAllowed(path, 'write'))
        return writeProject(path);
      return saveAs();
    },
    'project.saveAs': () => saveAs(),
    'project.saveBytes': async () => {
      const documents = requireOpenDocument(ctx);
      const { name, bytes, revision } = await documents.projectBytes();
      // Browser mode: the bytes become the user's download, the only copy saved.
      if (revision !== undefined) documents.markDownloaded(revision);
      return { name, mime: 'application/octet-stream', bytes };
    },
    'export.toPath': async ({ format, path }) => {
      const checked = ctx.policy.check(path, 'write');
      const { bytes } = await requireOpenDocument(ctx).exportBytes(format);
      await writeChosenFile(checked, bytes, `the ${format.toUpperCase()} export`);
      return { path: checked };
    },
    'export.dialog': async ({ format }) => {
      const documents = requireOpenDocument(ctx);
      const { name, bytes } = await documents.exportBytes(format);
      const path = await requireDialogs(ctx).saveExport(format, name);
      if (!path) return { path: null };
      ctx.policy.grantFile(path, 'write');
      await writeChosenFile(path, bytes, `the ${format.toUpperCase()} export`);
      return { path };
    },
    'export.bytes': async ({ format }) => {
      const { name, bytes } = await requireOpenDocument(ctx).exportBytes(format);
      return { name, mime: format === 'png' ? 'image/png' : 'image/vnd.adobe.photoshop', bytes };
    },
    'recent.list': () => ctx.settings.recentFiles(),
    'recovery.list': async () => (ctx.documents ? ctx.documents.recoveries() : []),
    'recovery.restore': ({ id }) => requireDocuments(ctx).restoreRecovery(id),
    'text.countTokens': ({ text }) => tokenCounter.count(text),
    'recovery.discard': async ({ id }) => ({ discarded: await requireDocuments(ctx).discardRecovery(id) }),
    ...gridHandlers(ctx),
    ...engineOptionHandlers(ctx),
  };
}

/** The guidance grid (issue #11): runs on the open document's edit messages, measured with CLIP when one is there. */
function gridHandlers(
  ctx: HandlerContext,
): Pick<
  Handlers,
  | 'grid.start'
  | 'grid.cancel'
  | 'grid.get'
  | 'grid.cellImage'
  | 'grid.keep'
  | 'clip.status'
  | 'clip.useFolder'
  | 'clip.chooseFolder'
> {
  const useClipFolder = (dir: string | null) => {
    if (dir !== null) {
      if (ctx.acceptTypedModelFolders) ctx.policy.grantDir(dir, 'model');
      dir = ctx.policy.check(dir, 'model');
    }
    return ctx.clip.use(dir);
  };
  return {
    'grid.start': async ({
      messageId,
      textScales,
      imageScales,
      steps,
      seed,
      captionBefore,
      captionAfter,
    }) => {
      const documents = requireOpenDocument(ctx);
      requireModel(ctx);
      return documents.startGrid({
        messageId,
        textScales,
        imageScales,
        ...(steps !== undefined ? { steps } : {}),
        ...(seed !== undefined ? { seed } : {}),
        captionBefore: captionBefore ?? null,
        captionAfter: captionAfter ?? null,
        clipDir: ctx.clip.folder(),
      });
    },
    'grid.cancel': async ({ gridId }) => ({ cancelled: await requireDocuments(ctx).cancelGrid(gridId) }),
    'grid.get': async ({ messageId }) => ({ grid: await requireOpenDocument(ctx).grid(messageId) }),
    'grid.cellImage': ({ gridId, cellIndex, maxSide }) =>
      requireOpenDocument(ctx).gridCellImage(gridId, cellIndex, maxSide),
    'grid.keep': ({ gridId, cellIndex }) => requireOpenDocument(ctx).keepGridCell(gridId, cellIndex),
    'clip.status': () => ctx.clip.status(),
    'clip.useFolder': ({ path }) => useClipFolder(path),
    'clip.chooseFolder': async () => {
      const dir = await requireDialogs(ctx).chooseModelFolder();
      if (!dir) return ctx.clip.status();
      ctx.policy.grantDir(dir, 'model');
      return useClipFolder(dir);
    },
  };
}
