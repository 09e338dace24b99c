/**
 * The one place that names every channel between the renderer and the main side.
 *
 * Plain constants only (no zod, no Node, no DOM): the sandboxed preload bundles this file, and so do
 * the renderer and the browser-mode server. Every call and event the app uses is listed here; the
 * preload and both transports refuse any other name.
 */

/** Request/response calls: the renderer asks, the main side answers (or refuses with a ContractError). */
export const CALL_NAMES = [
  'app.info',
  'settings.get',
  'settings.update',
  'model.status',
  'model.useFolder',
  'model.chooseFolder',
  'model.forget',
  'model.download',
  'model.downloadCancel',
  'engine.status',
  'document.get',
  'document.openPath',
  'document.openBytes',
  'document.openDialog',
  'document.layerImage',
  'layer.update',
  'layer.move',
  'layer.delete',
  'mask.set',
  'mask.invert',
  'mask.clear',
  'history.undo',
  'history.redo',
  'edit.enqueue',
  'edit.cancel',
  'edit.rerunStale',
  'variant.pick',
  'project.save',
  'project.saveAs',
  'project.saveBytes',
  'export.toPath',
  'export.dialog',
  'export.bytes',
  'recent.list',
  'recovery.list',
  'recovery.restore',
  'recovery.discard',
  'text.countTokens',
  'grid.start',
  'grid.cancel',
  'grid.get',
  'grid.cellImage',
  'grid.keep',
  'clip.status',
  'clip.useFolder',
  'clip.chooseFolder',
  'system.resources',
  'model.optimize',
  'model.optimizeCancel',
  'model.optimizeDismiss',
  'export.trainingPairs',
  'export.trainingPairsBytes',
] as const;
export type CallName = (typeof CALL_NAMES)[number];

/** Events: the main side tells every window (or browser tab) that something happened. */
export const EVENT_NAMES = [
  'document.changed',
  'job.updated',
  'job.progress',
  'model.status',
  'grid.updated',
  'grid.progress',
  'model.downloadProgress',
  'engine.status',
  'menu.command',
] as const;
export type EventName = (typeof EVENT_NAMES)[number];

/** Electron IPC channels: one for calls (invoke/handle), one for events (main → renderer). */
export const IPC_CALL_CHANNEL = 'instruct-edit:call';
export const IPC_EVENT_CHANNEL = 'instruct-edit:event';

/** Browser mode: the WebSocket path and the query parameter that carries the access token. */
export const WS_PATH = '/api';
export const TOKEN_PARAM = 'token';

/** The name of the preload's object on `window`. */
export const BRIDGE_GLOBAL = 'instructEdit';

const CALL_SET: ReadonlySet<string> = new Set(CALL_NAMES);
const EVENT_SET: ReadonlySet<string> = new Set(EVENT_NAMES);

export function isCallName(name: unknown): name is CallName {
  return typeof name === 'string' && CALL_SET.has(name);
}

export function isEventName(name: unknown): name is EventName {
  return typeof name === 'string' && EVENT_SET.has(name);
}
