/** The guidance explorer's calls (grid.*, clip.*) and how their answers and events reach the store. */
import type { CallRequest, ClipStatus, GridView } from '../../../shared/contract/schemas';
import { api, applyDocument, errorText } from './actions';
import { stepMsFromGridProgress } from './grid-logic';
import { getState, setState, toast, type GridProgress } from './store';

async function attempt<T>(label: string, run: () => Promise<T>): Promise<T | undefined> {
  try {
    return await run();
  } catch (error) {
    toast(`${label}: ${errorText(error)}`, 'error');
    return undefined;
  }
}

/** Keeps each message's newest grid; an update from an older grid of the same message is ignored. */
export function applyGridView(grid: GridView): void {
  setState((current) => {
    const shown = current.grids[grid.messageId];
    if (shown && shown.gridId !== grid.gridId && shown.createdAt > grid.createdAt) return {};
    const gridProgress = { ...current.gridProgress };
    if (grid.state !== 'running') delete gridProgress[grid.gridId];
    return { grids: { ...current.grids, [grid.messageId]: grid }, gridProgress };
  });
}

export function applyGridProgress(progress: GridProgress): void {
  setState((current) => ({
    gridProgress: { ...current.gridProgress, [progress.gridId]: progress },
    stepMs: stepMsFromGridProgress(progress) ?? current.stepMs,
  }));
}

async function refreshGrid(messageId: string): Promise<GridView | null> {
  const result = await attempt('Could not read the guidance grid', () =>
    api().call('grid.get', { messageId }),
  );
  if (result?.grid) applyGridView(result.grid);
  return result?.grid ?? null;
}

/** Opens the explorer for a message, showing its last grid if it has one. */
export async function openGridExplorer(messageId: string): Promise<void> {
  setState({ gridFor: messageId });
  await refreshGrid(messageId);
}

/** The G key: the explorer for the selected layer's edit, else for the newest finished edit. */
export function exploreSelectedEdit(): void {
  const { doc, selectedLayerId } = getState();
  if (!doc) return;
  const selected = doc.layers.find((layer) => layer.id === selectedLayerId)?.messageId;
  const message =
    doc.messages.find((entry) => entry.id === selected && entry.variants.length > 0) ??
    [...doc.messages].reverse().find((entry) => entry.status === 'done' && entry.variants.length > 0);
  if (message) void openGridExplorer(message.id);
  else toast('Run an edit first: the guidance grid explores an edit’s settings');
}

export function closeGridExplorer(): void {
  setState({ gridFor: null });
}

export async function startGrid(request: CallRequest<'grid.start'>): Promise<string | null> {
  const result = await attempt('Could not start the guidance grid', () => api().call('grid.start', request));
  if (!result) return null;
  // grid.updated brings the new grid too; asking once more covers an event that came before the answer.
  await refreshGrid(request.messageId);
  return result.gridId;
}

export async function cancelGrid(gridId: string): Promise<void> {
  await attempt('Could not cancel the grid', () => api().call('grid.cancel', { gridId }));
}

/** Adds a finished cell as a variant of its message (undo removes it). */
export async function keepGridCell(grid: GridView, cellIndex: number): Promise<boolean> {
  const doc = await attempt('Could not keep the cell', () =>
    api().call('grid.keep', { gridId: grid.gridId, cellIndex }),
  );
  if (!doc) return false;
  applyDocument(doc);
  const cell = grid.cells[cellIndex];
  if (cell) toast(`Kept text ${cell.textGuidance} · image ${cell.imageGuidance} as a variant`);
  await refreshGrid(grid.messageId);
  return true;
}

// ---- CLIP model --------------------------------------------------------------------------------

/** The CLIP model's status, or why it could not be read (shown in place: the dialog opens often). */
export async function clipStatus(): Promise<ClipStatus | string> {
  try {
    return await api().call('clip.status', {});
  } catch (error) {
    return errorText(error);
  }
}

/** A folder path (browser mode), or null for the one beside the edit model. */
export async function setClipFolder(path: string | null): Promise<ClipStatus | undefined> {
  return attempt('Could not use that CLIP folder', () => api().call('clip.useFolder', { path }));
}

export async function chooseClipFolder(): Promise<ClipStatus | undefined> {
  return attempt('Could not choose a CLIP folder', () => api().call('clip.chooseFolder', {}));
}
