/** A minimal in-memory DocumentService for contract tests: enough state to answer every call. */
import type { DocumentEvents, DocumentService } from '../../src/main/app/document-service';
import { ContractError } from '../../src/shared/contract/errors';
import type { DocumentView } from '../../src/shared/contract/schemas';

const PNG_1X1 = new Uint8Array([
  137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 31, 21,
  196, 137, 0, 0, 0, 13, 73, 68, 65, 84, 120, 156, 99, 248, 15, 4, 0, 9, 251, 3, 253, 227, 85, 242, 156, 0, 0,
  0, 0, 73, 69, 78, 68, 174, 66, 96, 130,
]);

export function fakeDocuments(): DocumentService & { calls: string[] } {
  let view: DocumentView | null = null;
  const calls: string[] = [];
  const listeners = new Set<DocumentEvents>();
  const need = (): DocumentView => {
    if (!view) throw new ContractError('conflict', 'No picture is open');
    return view;
  };
  const layer = (id: string) => {
    const found = need().layers.find((entry) => entry.id === id);
    if (!found) throw new ContractError('not-found', `No layer ${id}`);
    return found;
  };
  const changed = () => {
    for (const listener of listeners) listener.changed(view);
    return need();
  };
  return {
    calls,
    current: () => view,
    async open(_bytes, name, path) {
      calls.push('open');
      view = {
        id: 'doc1',
        revision: 1,
        name,
        path,
        dirty: false,
        width: 1,
        height: 1,
        layers: [
          {
            id: 'L1',
            name: 'Source',
            kind: 'source',
            visible: true,
            opacity: 1,
            stale: false,
            staleReason: null,
            hasMask: false,
            x: 0,
            y: 0,
            width: 1,
            height: 1,
            pixelsRevision: 1,
            maskRevision: 0,
            messageId: null,
          },
        ],
        messages: [],
        canUndo: false,
        canRedo: false,
        undoLabel: null,
        redoLabel: null,
      };
      return changed();
    },
    async layerImage(layerId) {
      layer(layerId);
      return { width: 1, height: 1, png: PNG_1X1 };
    },
    async updateLayer(layerId, patch) {
      Object.assign(layer(layerId), patch);
      return changed();
    },
    async moveLayer(layerId) {
      layer(layerId);
      return changed();
    },
    async deleteLayer(layerId) {
      layer(layerId);
      return changed();
    },
    async setMask(layerId) {
      layer(layerId).hasMask = true;
      return changed();
    },
    async invertMask(layerId) {
      layer(layerId);
      return changed();
    },
    async clearMask(layerId) {
      layer(layerId).hasMask = false;
      return changed();
    },
    async undo() {
      return view;
    },
    async redo() {
      return view;
    },
    async enqueueEdit() {
      need();
      return { jobId: 'j1', messageId: 'm1' };
    },
    async cancelJob(jobId) {
      return jobId === 'j1';
    },
    async pickVariant() {
      return need();
    },
    async projectBytes() {
      need();
      return { name: 'picture.iedit', bytes: new Uint8Array([1, 2, 3]) };
    },
    markSaved(path) {
      if (view) view = { ...view, path };
    },
    markDownloaded() {
      calls.push('markDownloaded');
      if (view) view = { ...view, dirty: false };
    },
    async rerunStale() {
      need();
      calls.push('rerunStale');
      return 0;
    },
    async exportBytes(format) {
      need();
      return { name: `picture.${format}`, bytes: PNG_1X1 };
    },
    async exportTrainingPairs() {
      need();
      calls.push('exportTrainingPairs');
      return { pairs: 0, skipped: [] };
    },
    trainingPairsName() {
      return 'picture-training-pairs';
    },
    subscribe(events) {
      listeners.add(events);
      return () => listeners.delete(events);
    },
    async recoveries() {
      calls.push('recoveries');
      return [];
    },
    async restoreRecovery(id) {
      calls.push('restoreRecovery');
      throw new ContractError('not-found', `No autosave ${id}`);
    },
    async discardRecovery() {
      calls.push('discardRecovery');
      return false;
    },
    async startGrid({ messageId }) {
      need();
      calls.push('startGrid');
      if (messageId !== 'm1') throw new ContractError('not-found', `No layer ${messageId}`);
      return { gridId: 'g1' };
    },
    async cancelGrid(gridId) {
      return gridId === 'g1';
    },
    async grid() {
      need();
      return null;
    },
    async gridCellImage(gridId) {
      need();
      throw new ContractError('not-found', `No guidance grid ${gridId}`);
    },
    async keepGridCell(gridId) {
      need();
      throw new ContractError('not-found', `No guidance grid ${gridId}`);
    },
    async dispose() {},
  };
}
