/**
 * Everything the UI does through the contract, in one place: buttons, menu commands and keyboard
 * shortcuts all call these, so each action has one code path in both Electron and browser mode.
 */
import type { AppClient } from '../../../shared/contract/client';
import { ContractError } from '../../../shared/contract/errors';
import type { DocumentView, ExportFormat, MenuCommand, MessageView } from '../../../shared/contract/schemas';
import { RepeatGuard, restoredDraft } from './send-guard';
import { clearImageCache } from '../hooks/images';
import { defaultDraft, getState, setState, toast, type Draft } from './store';
import { exploreSelectedEdit } from './grid-actions';
import { askUnsaved } from './unsaved';
import { viewCommands } from './view-commands';

let client: AppClient | null = null;

export function setClient(value: AppClient): void {
  client = value;
}

export function api(): AppClient {
  if (!client) throw new Error('not connected');
  return client;
}

export function errorText(error: unknown): string {
  if (error instanceof ContractError || error instanceof Error) return error.message;
  return String(error);
}

/** Runs an action, reporting failures as a toast instead of throwing. */
async function attempt<T>(label: string, run: () => Promise<T>): Promise<T | undefined> {
  try {
    return await run();
  } catch (error) {
    toast(`${label}: ${errorText(error)}`, 'error');
    return undefined;
  }
}

export function applyDocument(doc: DocumentView | null): void {
  const opened = doc !== null && doc.id !== getState().doc?.id;
  setState((current) => {
    const selectedStillThere = doc?.layers.some((layer) => layer.id === current.selectedLayerId);
    const topEdit = doc ? [...doc.layers].reverse().find((layer) => layer.kind !== 'source') : undefined;
    const newLayer =
      doc && current.doc && doc.layers.length > current.doc.layers.length ? doc.layers.at(-1) : undefined;
    return {
      doc,
      selectedLayerId:
        newLayer?.id ??
        (selectedStillThere ? current.selectedLayerId : (topEdit?.id ?? doc?.layers.at(-1)?.id ?? null)),
      ...(doc ? {} : { tool: 'move' as const }),
    };
  });
  // A project that was just opened may have a newer autosave.
  if (opened) void refreshRecoveries();
}

// ---- Recovery ----------------------------------------------------------------------------------

/** Documents whose unsaved work the user chose to discard: their autosaves are not offered back. */
const discardedDocuments = new Set<string>();

export async function refreshRecoveries(): Promise<void> {
  const recoveries = await attempt('Could not look for autosaves', () => api().call('recovery.list', {}));
  if (!recoveries) return;
  const discarded = recoveries.filter(
    (entry) => entry.documentId && discardedDocuments.has(entry.documentId),
  );
  for (const entry of discarded) {
    await attempt('Could not discard the autosave', () => api().call('recovery.discard', { id: entry.id }));
  }
  setState({ recoveries: recoveries.filter((entry) => !discarded.includes(entry)) });
}

export async function restoreRecovery(id: string): Promise<void> {
  if (!(await confirmReplace('restoring the autosave'))) return;
  setState({ busy: 'Restoring autosaved work…' });
  const doc = await attempt('Could not restore the autosave', () => api().call('recovery.restore', { id }));
  setState({ busy: null, recoveries: [] });
  if (doc) {
    applyDocument(doc);
    viewCommands.emit('zoomFit');
    toast('Autosaved work restored; save it to keep it', 'info');
  }
}

export async function discardRecovery(id: string): Promise<void> {
  await attempt('Could not discard the autosave', () => api().call('recovery.discard', { id }));
  setState((current) => ({ recoveries: current.recoveries.filter((entry) => entry.id !== id) }));
}

export async function loadInitialState(): Promise<void> {
  // The main side may have restarted (browser mode reconnects) and numbered its images afresh.
  clearImageCache();
  const c = api();
  const [info, settings, model, engine, doc] = await Promise.all([
    c.call('app.info', {}),
    c.call('settings.get', {}),
    c.call('model.status', {}),
    c.call('engine.status', {}),
    c.call('document.get', {}),
  ]);
  setState({ info, settings, model, engine, draft: { ...defaultDraft(), ...settings.editDefaults } });
  applyDocument(doc);
  await refreshRecoveries();
  if (model.state === 'none' || model.state === 'error') setState({ dialog: 'models' });
}

// ---- Files -------------------------------------------------------------------------------------

/**
 * Before the open document is replaced: true to go ahead. Unsaved work asks save / discard / cancel;
 * "save" goes ahead only once the project was saved (or downloaded).
 */
export async function confirmReplace(action: string): Promise<boolean> {
  if (!getState().doc?.dirty) return true;
  const choice = await askUnsaved(action);
  if (choice === 'cancel') return false;
  if (choice === 'discard') {
    const doc = getState().doc;
    if (doc) discardedDocuments.add(doc.id);
    return true;
  }
  return saveProject(false);
}

/** After a picture was opened: what the import changed or found; damage as an error that stays longer. */
function showOpenNotices(doc: DocumentView): void {
  const notices = doc.notices ?? [];
  if (notices.length === 0 || doc.messages.length > 0) return;
  const damaged = notices.some((notice) => / is damaged: /.test(notice));
  toast(notices.join(' · '), damaged ? 'error' : 'info');
}

export async function openBytes(name: string, bytes: Uint8Array): Promise<void> {
  if (!(await confirmReplace(`opening ${name}`))) return;
  setState({ busy: `Opening ${name}…` });
  const doc = await attempt(`Could not open ${name}`, () =>
    api().call('document.openBytes', { name, bytes }),
  );
  setState({ busy: null });
  if (doc) {
    applyDocument(doc);
    viewCommands.emit('zoomFit');
    showOpenNotices(doc);
  }
}

export async function openFiles(files: FileList | File[]): Promise<void> {
  const file = [...files][0];
  if (!file) return;
  await openBytes(file.name, new Uint8Array(await file.arrayBuffer()));
}

/** Browser mode has no native dialog: a hidden file input does it. */
function pickFile(accept: string): Promise<File | null> {
  return new Promise((resolve) => {
    const input = document.createElement('input');
    input.type = 'file';
    input.accept = accept;
    input.style.display = 'none';
    input.dataset.testid = 'file-input';
    input.addEventListener('change', () => {
      resolve(input.files?.[0] ?? null);
      input.remove();
    });
    input.addEventListener('cancel', () => {
      resolve(null);
      input.remove();
    });
    document.body.appendChild(input);
    input.click();
  });
}

export async function openFromDialog(): Promise<void> {
  if (getState().info?.nativeDialogs) {
    if (!(await confirmReplace('opening another picture'))) return;
    const doc = await attempt('Could not open', () => api().call('document.openDialog', {}));
    if (doc) {
      applyDocument(doc);
      viewCommands.emit('zoomFit');
      showOpenNotices(doc);
    }
    return;
  }
  const file = await pickFile('image/*,.iedit');
  if (file) await openBytes(file.name, new Uint8Array(await file.arrayBuffer()));
}

function download(name: string, mime: string, bytes: Uint8Array): void {
  const blob = new Blob([bytes as Uint8Array<ArrayBuffer>], { type: mime });
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

let saving: Promise<boolean> | null = null;

/** Saves the project (a download in browser mode), showing it as busy meanwhile; true when saved. */
export function saveProject(saveAs = false): Promise<boolean> {
  if (!getState().doc) return Promise.resolve(false);
  // A second Ctrl+S while the first save runs waits for it instead of writing twice.
  saving ??= runSave(saveAs).finally(() => {
    saving = null;
  });
  return saving;
}

async function runSave(saveAs: boolean): Promise<boolean> {
  setState({ busy: 'Saving the project…' });
  try {
    if (getState().info?.nativeDialogs) {
      const result = await attempt('Could not save', () =>
        api().call(saveAs ? 'project.saveAs' : 'project.save', {}),
      );
      if (result?.path) toast(`Saved ${result.path}`);
      return Boolean(result?.path);
    }
    const file = await attempt('Could not save', () => api().call('project.saveBytes', {}));
    if (!file) return false;
    download(file.name, file.mime, file.bytes);
    return true;
  } finally {
    setState({ busy: null });
  }
}

export async function exportAs(format: ExportFormat): Promise<void> {
  if (!getState().doc) return;
  setState({ busy: `Exporting ${format.toUpperCase()}…` });
  try {
    if (getState().info?.nativeDialogs) {
      const result = await attempt(`Could not export ${format.toUpperCase()}`, () =>
        api().call('export.dialog', { format }),
      );
      if (result?.path) toast(`Exported ${result.path}`);
      return;
    }
    const file = await attempt(`Could not export ${format.toUpperCase()}`, () =>
      api().call('export.bytes', { format }),
    );
    if (file) download(file.name, file.mime, file.bytes);
  } finally {
    setState({ busy: null });
  }
}

/** The document's kept edits as training pairs: into a chosen folder (desktop) or as a zip download. */
export async function exportTrainingPairs(): Promise<void> {
  if (!getState().doc) return;
  setState({ busy: 'Exporting training pairs…' });
  try {
    if (getState().info?.nativeDialogs) {
      const result = await attempt('Could not export training pairs', () =>
        api().call('export.trainingPairs', {}),
      );
      if (result?.path)
        toast(
          `Exported ${result.pairs} training pair${result.pairs === 1 ? '' : 's'} to ${result.path}` +
            (result.skipped.length ? ` (${result.skipped.length} edits without a result left out)` : ''),
        );
      return;
    }
    const file = await attempt('Could not export training pairs', () =>
      api().call('export.trainingPairsBytes', {}),
    );
    if (file) download(file.name, file.mime, file.bytes);
  } finally {
    setState({ busy: null });
  }
}

// ---- History, layers, masks ----------------------------------------------------------------------

export async function undo(): Promise<void> {
  const doc = await attempt('Undo failed', () => api().call('history.undo', {}));
  if (doc !== undefined) applyDocument(doc);
}

export async function redo(): Promise<void> {
  const doc = await attempt('Redo failed', () => api().call('history.redo', {}));
  if (doc !== undefined) applyDocument(doc);
}

export async function updateLayer(
  layerId: string,
  patch: { visible?: boolean; opacity?: number; name?: string },
): Promise<void> {
  const doc = await attempt('Could not change the layer', () =>
    api().call('layer.update', { layerId, ...patch }),
  );
  if (doc) applyDocument(doc);
}

export async function moveLayer(layerId: string, toIndex: number): Promise<void> {
  const doc = await attempt('Could not move the layer', () => api().call('layer.move', { layerId, toIndex }));
  if (doc) applyDocument(doc);
}

export async function deleteLayer(layerId: string): Promise<void> {
  const doc = await attempt('Could not delete the layer', () => api().call('layer.delete', { layerId }));
  if (doc) applyDocument(doc);
}

export async function setMask(
  layerId: string,
  width: number,
  height: number,
  data: Uint8Array,
): Promise<void> {
  const doc = await attempt('Could not save the mask', () =>
    api().call('mask.set', { layerId, width, height, data }),
  );
  if (doc) applyDocument(doc);
}

export async function invertMask(layerId: string): Promise<void> {
  const doc = await attempt('Could not invert the mask', () => api().call('mask.invert', { layerId }));
  if (doc) applyDocument(doc);
}

export async function clearMask(layerId: string): Promise<void> {
  const doc = await attempt('Could not clear the mask', () => api().call('mask.clear', { layerId }));
  if (doc) applyDocument(doc);
}

// ---- Edits ---------------------------------------------------------------------------------------

export function draftToSettings(draft: Draft) {
  return {
    instruction: draft.instruction.trim(),
    steps: draft.steps,
    textGuidance: draft.textGuidance,
    imageGuidance: draft.imageGuidance,
    seed: draft.seed,
    scheduler: draft.scheduler,
    resolution: draft.resolution,
    ...(draft.karrasSigmas !== undefined ? { karrasSigmas: draft.karrasSigmas } : {}),
  };
}

const repeatGuard = new RepeatGuard();

/** Forgets the last send (tests; a new document). */
export function resetRepeatGuard(): void {
  repeatGuard.reset();
}

export async function sendInstruction(): Promise<boolean> {
  const { draft, rerunOf, doc, model } = getState();
  if (!doc) {
    toast('Open a picture first', 'error');
    return false;
  }
  if (!draft.instruction.trim()) return false;
  if (model?.state !== 'ready' && model?.state !== 'loading') {
    setState({ dialog: 'models' });
    toast('Choose a model first', 'error');
    return false;
  }
  const settings = draftToSettings(draft);
  if (repeatGuard.check(JSON.stringify([rerunOf, settings]), Date.now()) === 'repeat') {
    toast('That instruction was just sent; send it again to queue it a second time');
    return false;
  }
  // Cleared now, not when the reply comes: what is typed from here on is the next instruction.
  // A re-run's seed was for that re-run only: new instructions get the seed chosen before it.
  setState((current) => ({
    rerunOf: null,
    draft: { ...current.draft, instruction: '', ...(rerunOf ? { seed: seedBeforeRerun } : {}) },
  }));
  const result = await attempt('Could not start the edit', () =>
    api().call('edit.enqueue', { settings, ...(rerunOf ? { rerunOf } : {}) }),
  );
  if (result) return true;
  repeatGuard.reset();
  setState((current) => ({
    rerunOf: current.rerunOf ?? rerunOf,
    draft: {
      ...current.draft,
      instruction: restoredDraft(settings.instruction, current.draft.instruction),
      // A failed re-run is still a re-run, with its seed.
      ...(rerunOf ? { seed: settings.seed ?? null } : {}),
    },
  }));
  return false;
}

/** The seed the box had before a re-run took it over (given back when the re-run is sent or left). */
let seedBeforeRerun: number | null = null;

export function startRerun(message: MessageView): void {
  const { settings } = message;
  if (getState().rerunOf === null) seedBeforeRerun = getState().draft.seed;
  setState({
    rerunOf: message.id,
    draft: {
      instruction: settings.instruction,
      steps: settings.steps,
      textGuidance: settings.textGuidance,
      imageGuidance: settings.imageGuidance,
      // The same seed by default, so the variants differ only in what was changed.
      seed: settings.seed,
      scheduler: settings.scheduler,
      resolution: settings.resolution,
      ...(settings.karrasSigmas !== undefined ? { karrasSigmas: settings.karrasSigmas } : {}),
    },
  });
}

/** Removes a cancelled or failed instruction that has no result from the history. */
export async function dismissMessage(messageId: string): Promise<void> {
  const doc = await attempt('Could not dismiss it', () => api().call('layer.delete', { layerId: messageId }));
  if (doc) applyDocument(doc);
}

/** Re-runs the stale layers, bottom first, each with its own settings and seed. */
export async function updateStaleLayers(): Promise<void> {
  const result = await attempt('Could not update the stale layers', () => api().call('edit.rerunStale', {}));
  if (result && result.queued === 0) toast('No layer is stale');
}

export function stopRerun(): void {
  setState((current) => ({
    rerunOf: null,
    draft: { ...current.draft, instruction: '', seed: seedBeforeRerun },
  }));
}

export async function cancelJob(jobId: string): Promise<void> {
  await attempt('Could not cancel', () => api().call('edit.cancel', { jobId }));
}

/** Esc: cancel the running edit (or, if none runs, the last queued one). */
export async function cancelCurrentJob(): Promise<boolean> {
  const messages = getState().doc?.messages ?? [];
  const running = messages.find((message) => message.status === 'running' && message.jobId);
  const queued = [...messages].reverse().find((message) => message.status === 'queued' && message.jobId);
  const target = running ?? queued;
  if (!target?.jobId) return false;
  await cancelJob(target.jobId);
  return true;
}

export async function pickVariant(messageId: string, variantId: string): Promise<void> {
  const doc = await attempt('Could not pick the variant', () =>
    api().call('variant.pick', { messageId, variantId }),
  );
  if (doc) applyDocument(doc);
}

// ---- Menu ------------------------------------------------------------------------------------------

function inTextField(): boolean {
  const element = document.activeElement;
  return (
    element instanceof HTMLInputElement ||
    element instanceof HTMLTextAreaElement ||
    (element instanceof HTMLElement && element.isContentEditable)
  );
}

export function runMenuCommand(command: MenuCommand): void {
  switch (command) {
    case 'open':
      void openFromDialog();
      return;
    case 'save':
      void saveProject(false);
      return;
    case 'saveAs':
      void saveProject(true);
      return;
    case 'exportPng':
      void exportAs('png');
      return;
    case 'exportPsd':
      void exportAs('psd');
      return;
    case 'exportTrainingPairs':
      void exportTrainingPairs();
      return;
    case 'exploreGuidance':
      exploreSelectedEdit();
      return;
    case 'undo':
      if (inTextField()) document.execCommand('undo');
      else void undo();
      return;
    case 'redo':
      if (inTextField()) document.execCommand('redo');
      else void redo();
      return;
    case 'zoomIn':
    case 'zoomOut':
    case 'zoomFit':
    case 'zoom100':
      viewCommands.emit(command);
      return;
    case 'models':
      setState({ dialog: 'models' });
      return;
    case 'settings':
      setState({ dialog: 'settings' });
      return;
    case 'cancelJob':
      void cancelCurrentJob();
      return;
  }
}
