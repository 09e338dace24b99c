/**
 * The typed contract between the renderer and the main side: a zod schema for every call's request
 * and response and for every event's payload. The main side validates every request against these
 * before a handler sees it; the TypeScript types the renderer uses are inferred from the same schemas.
 *
 * Limits here are deliberate: strings, arrays and byte payloads all have a maximum size so a
 * malformed or hostile payload is refused before it reaches a handler.
 */
import { z } from 'zod';
import { PROVIDER_NAMES, RESOLUTION_MODES, SCHEDULER_NAMES } from '../engine-types';
import type { CallName, EventName } from './channels';
import { LIMITS } from './limits';

// ---------------------------------------------------------------------------------------------
// Limits

export { LIMITS };

// ---------------------------------------------------------------------------------------------
// Building blocks

/** Names every object inherits (`constructor`, `__proto__`, `toString`…): never ids, whatever indexes them. */
const BUILT_IN_NAMES: ReadonlySet<string> = new Set([
  ...Object.getOwnPropertyNames(Object.prototype),
  ...Object.getOwnPropertyNames(Function.prototype),
  'prototype',
]);

export function isBuiltInName(value: string): boolean {
  return BUILT_IN_NAMES.has(value);
}

export const idSchema = z
  .string()
  .min(1)
  .max(LIMITS.idChars)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'ids are letters, digits, _ . : -')
  .refine((value) => !isBuiltInName(value), 'that name is reserved and cannot be an id');

/** A Hugging Face repository id, owner/name; neither part `.`/`..` or starting or ending with `.`. */
export const repoIdSchema = z
  .string()
  .max(LIMITS.nameChars)
  .regex(/^[\w.-]+\/[\w.-]+$/, 'a Hugging Face repository id looks like owner/name')
  .refine(
    (value) => value.split('/').every((part) => !part.startsWith('.') && !part.endsWith('.')),
    'a Hugging Face repository id looks like owner/name',
  );

/**
 * A git branch, tag or commit name as the Hub accepts it in a URL: slash-separated parts of
 * letters, digits, `_ . -`, none empty, none starting with `.` (so no `..`), none ending in `.lock`.
 */
export const revisionSchema = z
  .string()
  .min(1)
  .max(LIMITS.nameChars)
  .regex(/^[\w.-]+(\/[\w.-]+)*$/, 'a revision is a branch, tag or commit name')
  .refine(
    (value) =>
      value.split('/').every((part) => !part.startsWith('.') && !part.endsWith('.lock')) &&
      !value.includes('..'),
    'a revision is a branch, tag or commit name',
  );

/** An absolute file system path (POSIX or Windows). Whether it is one the user chose is checked by the handler. */
export const pathSchema = z
  .string()
  .min(1)
  .max(LIMITS.pathChars)
  .refine((value) => !value.includes('\0'), 'paths cannot contain NUL')
  .refine(
    (value) => value.startsWith('/') || /^[A-Za-z]:[\\/]/.test(value) || value.startsWith('\\\\'),
    'paths must be absolute',
  );

export const bytesSchema = z.custom<Uint8Array>(
  (value) => value instanceof Uint8Array,
  'expected bytes (Uint8Array)',
);

export const schedulerSchema = z.enum(SCHEDULER_NAMES);
export const providerSchema = z.enum(PROVIDER_NAMES);
export const resolutionSchema = z.enum(RESOLUTION_MODES);

const intIn = (min: number, max: number) => z.number().int().min(min).max(max);
const side = intIn(1, LIMITS.imageSide);

/** Raw pixels, e.g. a live preview: 3 (RGB) or 4 (RGBA) bytes per pixel, row-major. */
export const rawImageSchema = z
  .strictObject({
    width: side,
    height: side,
    channels: z.union([z.literal(1), z.literal(3), z.literal(4)]),
    data: bytesSchema,
  })
  .refine(
    (image) => image.data.length === image.width * image.height * image.channels,
    'data length must be width × height × channels',
  );
export type RawImage = z.infer<typeof rawImageSchema>;

export const editSettingsSchema = z.strictObject({
  instruction: z.string().trim().min(1, 'the instruction is empty').max(LIMITS.instructionChars),
  steps: intIn(1, LIMITS.maxSteps),
  textGuidance: z.number().min(0).max(LIMITS.maxGuidance),
  imageGuidance: z.number().min(0).max(LIMITS.maxGuidance),
  seed: intIn(0, LIMITS.maxSeed),
  scheduler: schedulerSchema,
  resolution: resolutionSchema,
  karrasSigmas: z.boolean().optional(),
});

/** What the input box sends: the seed may be left out (a random one is drawn). */
export const editSettingsInputSchema = editSettingsSchema.extend({
  seed: intIn(0, LIMITS.maxSeed).nullable().optional(),
});
export type EditSettingsInput = z.infer<typeof editSettingsInputSchema>;

export const editDefaultsSchema = z.strictObject({
  steps: intIn(1, LIMITS.maxSteps),
  textGuidance: z.number().min(0).max(LIMITS.maxGuidance),
  imageGuidance: z.number().min(0).max(LIMITS.maxGuidance),
  scheduler: schedulerSchema,
  resolution: resolutionSchema,
});
export type EditDefaults = z.infer<typeof editDefaultsSchema>;

// ---------------------------------------------------------------------------------------------
// Views: what the renderer sees of the main side's state (plain data, no pixels)

export const modelEntrySchema = z.strictObject({
  dir: z.string().max(LIMITS.pathChars),
  label: z.string().max(LIMITS.nameChars),
  source: z.enum(['folder', 'download']),
  repo: z.string().max(LIMITS.nameChars).nullable(),
  addedAt: z.number(),
});
export type ModelEntry = z.infer<typeof modelEntrySchema>;

export const memoryBudgetGbSchema = z.number().min(0.25).max(4096);
export const threadsSchema = z.number().int().min(1).max(1024);

export const appSettingsSchema = z.strictObject({
  provider: providerSchema,
  activeModelDir: z.string().max(LIMITS.pathChars).nullable(),
  models: z.array(modelEntrySchema).max(100),
  editDefaults: editDefaultsSchema,
  downloadRepo: z.string().max(LIMITS.nameChars),
  /** Memory an edit may plan for, in GB; null = automatic (the memory free when the edit starts). */
  memoryBudgetGb: memoryBudgetGbSchema.nullable(),
  /** onnxruntime's threads per operator; null = automatic (one per core). */
  threads: threadsSchema.nullable(),
  /** Model folders whose "Optimise for speed and memory" offer the user dismissed. */
  optimizeDismissed: z.array(z.string().max(LIMITS.pathChars)).max(100),
  /** The CLIP model folder chosen for the guidance grid's metrics; absent or null: look beside the model. */
  clipFolder: z.string().max(LIMITS.pathChars).nullable().optional(),
});
export type AppSettings = z.infer<typeof appSettingsSchema>;

/** What the optimiser (cli optimize) means for the loaded model, for the offer in the app. */
export const modelOptimizationSchema = z.strictObject({
  /**
   * 'optimised': the folder itself is optimised; 'cached': the optimised copy in the user's cache is
   * used in its place; 'available': it can be optimised (the offer); 'dismissed': the offer was
   * declined; 'running': being optimised; 'refused': the optimiser refused (message says why).
   */
  state: z.enum(['optimised', 'cached', 'available', 'dismissed', 'running', 'refused']),
  /** The folder the engine loaded (the cached copy when state is 'cached'). */
  loadedDir: z.string().max(LIMITS.pathChars),
  /** 0..1 while running. */
  progress: z.number().min(0).max(1).nullable(),
  message: z.string().max(10_000).nullable(),
});
export type ModelOptimization = z.infer<typeof modelOptimizationSchema>;

export const modelStatusSchema = z.strictObject({
  state: z.enum(['none', 'loading', 'ready', 'error']),
  dir: z.string().max(LIMITS.pathChars).nullable(),
  /** The loader's message when state is 'error'. */
  message: z.string().nullable(),
  provider: z.string().nullable(),
  /** Set when the requested provider was unavailable and another one is used. */
  providerNotice: z.string().nullable(),
  flavor: z.string().nullable(),
  precision: z.string().nullable(),
  /** Whether the UNet's attention is fused (see modelOptimizationSchema); absent when it does not apply. */
  optimization: modelOptimizationSchema.nullable().optional(),
});
export type ModelStatus = z.infer<typeof modelStatusSchema>;

export const engineStatusSchema = z.strictObject({
  state: z.enum(['stopped', 'starting', 'ready', 'busy', 'crashed']),
  pid: z.number().int().nullable(),
  message: z.string().nullable(),
});
export type EngineStatus = z.infer<typeof engineStatusSchema>;

export const JOB_STATUSES = ['queued', 'running', 'done', 'failed', 'cancelled'] as const;
export const jobStatusSchema = z.enum(JOB_STATUSES);
export type JobStatus = z.infer<typeof jobStatusSchema>;

export const variantViewSchema = z.strictObject({
  id: idSchema,
  settings: editSettingsSchema,
  createdAt: z.number(),
  /** Bumps whenever the variant's pixels change, so cached thumbnails can be refreshed. */
  revision: z.number().int(),
  /** How long the edit took, encoders and decoder included (an estimate of later runs' time). */
  durationMs: z.number().min(0).optional(),
});
export type VariantView = z.infer<typeof variantViewSchema>;

export const messageViewSchema = z.strictObject({
  id: idSchema,
  instruction: z.string(),
  /** The settings of the picked variant (or of the pending job when there is none yet). */
  settings: editSettingsSchema,
  status: jobStatusSchema,
  error: z.string().nullable(),
  /** The job that is queued or running for this message, if any. */
  jobId: idSchema.nullable(),
  layerId: idSchema.nullable(),
  variants: z.array(variantViewSchema),
  pickedVariantId: idSchema.nullable(),
  createdAt: z.number(),
});
export type MessageView = z.infer<typeof messageViewSchema>;

export const layerViewSchema = z.strictObject({
  id: idSchema,
  name: z.string(),
  kind: z.enum(['source', 'edit', 'image']),
  visible: z.boolean(),
  opacity: z.number().min(0).max(1),
  stale: z.boolean(),
  staleReason: z.string().nullable(),
  hasMask: z.boolean(),
  x: z.number().int(),
  y: z.number().int(),
  width: z.number().int(),
  height: z.number().int(),
  /** Bump on pixel / mask changes; the renderer refetches images when these change. */
  pixelsRevision: z.number().int(),
  maskRevision: z.number().int(),
  messageId: idSchema.nullable(),
});
export type LayerView = z.infer<typeof layerViewSchema>;

export const documentViewSchema = z.strictObject({
  id: idSchema,
  revision: z.number().int(),
  name: z.string(),
  /** The project file it was opened from or last saved to, when known. */
  path: z.string().nullable(),
  dirty: z.boolean(),
  width: z.number().int(),
  height: z.number().int(),
  /** Bottom first, as composited. */
  layers: z.array(layerViewSchema),
  /** Oldest first, as in a chat. */
  messages: z.array(messageViewSchema),
  canUndo: z.boolean(),
  canRedo: z.boolean(),
  undoLabel: z.string().nullable(),
  redoLabel: z.string().nullable(),
  /** What opening the picture changed or found (conversions, damage), for the user to see. */
  notices: z.array(z.string().max(10_000)).max(100).optional(),
});
export type DocumentView = z.infer<typeof documentViewSchema>;

/** An autosave newer than what was last saved: of an open project, or of a picture never saved. */
export const recoveryEntrySchema = z.strictObject({
  id: idSchema,
  /** What it belongs to: the project file's name, or the picture's. */
  name: z.string().max(LIMITS.nameChars),
  projectPath: z.string().max(LIMITS.pathChars).nullable(),
  savedAt: z.number(),
  layers: z.number().int().min(0),
  /** The document it is an autosave of, when known. */
  documentId: z.string().max(LIMITS.idChars).nullable().optional(),
});
export type RecoveryEntry = z.infer<typeof recoveryEntrySchema>;

export const pngImageSchema = z.strictObject({ width: side, height: side, png: bytesSchema });
export type PngImage = z.infer<typeof pngImageSchema>;

export const fileBytesSchema = z.strictObject({
  name: z.string().max(LIMITS.nameChars),
  mime: z.string().max(100),
  bytes: bytesSchema,
});
export type FileBytes = z.infer<typeof fileBytesSchema>;

export const tokenCountSchema = z.strictObject({
  /** Tokens of the text alone (no start/end tokens); null when no model's tokenizer is available. */
  tokens: z.number().int().min(0).nullable(),
  /** How many text tokens the encoder takes (its window less the start and end tokens). */
  limit: z.number().int().min(0),
  /** Where the cut falls: the index of the first character the model will not see, or null when all fits. */
  cutAt: z.number().int().min(0).nullable(),
});
export type TokenCount = z.infer<typeof tokenCountSchema>;

export const exportFormatSchema = z.enum(['png', 'psd']);
export type ExportFormat = z.infer<typeof exportFormatSchema>;

export const MENU_COMMANDS = [
  'open',
  'save',
  'saveAs',
  'exportPng',
  'exportPsd',
  'exportTrainingPairs',
  'undo',
  'redo',
  'zoomIn',
  'zoomOut',
  'zoomFit',
  'zoom100',
  'models',
  'settings',
  'cancelJob',
  'exploreGuidance',
] as const;
export const menuCommandSchema = z.enum(MENU_COMMANDS);
export type MenuCommand = z.infer<typeof menuCommandSchema>;

// ---------------------------------------------------------------------------------------------
// Calls

const empty = z.strictObject({});
const nullableDoc = documentViewSchema.nullable();
const savedSchema = z.strictObject({
  /** Where it was written; null when the user cancelled the dialog. */
  path: z.string().nullable(),
});

// ---------------------------------------------------------------------------------------------
// Guidance grid (issue #11): a text × image guidance grid run on one edit message's source.

const guidanceScalesSchema = z
  .array(z.number().min(0).max(LIMITS.maxGuidance))
  .min(1)
  .max(LIMITS.gridScalesPerAxis);
const captionSchema = z.string().trim().max(LIMITS.instructionChars).nullable();

/** The paper's CLIP numbers for one cell; each null when it cannot be computed (no model, no caption). */
export const gridMetricsSchema = z.strictObject({
  /** Cosine of the source's and the result's CLIP image embeddings: how much of the picture is kept. */
  imageSimilarity: z.number().nullable(),
  /** Cosine of the image-embedding change and the caption-embedding change (before → after captions). */
  directionalSimilarity: z.number().nullable(),
  /** Cosine of the result's image embedding and the after caption's text embedding. */
  clipT: z.number().nullable(),
});
export type GridMetrics = z.infer<typeof gridMetricsSchema>;

export const gridCellViewSchema = z.strictObject({
  /** imageIndex × textScales.length + textIndex: rows are image scales, columns text scales. */
  index: z.number().int().min(0),
  textIndex: z.number().int().min(0),
  imageIndex: z.number().int().min(0),
  textGuidance: z.number(),
  imageGuidance: z.number(),
  state: z.enum(['pending', 'running', 'done']),
  /** Whether the full processing-size result is still held, so Keep can add it without a re-run. */
  keepable: z.boolean(),
  /** The variant this cell became through grid.keep, if any. */
  keptVariantId: idSchema.nullable(),
  metrics: gridMetricsSchema.nullable(),
  durationMs: z.number().nullable(),
});
export type GridCellView = z.infer<typeof gridCellViewSchema>;

export const gridViewSchema = z.strictObject({
  gridId: idSchema,
  /** The edit message (layer) whose source the grid edits. */
  messageId: idSchema,
  state: z.enum(['running', 'done', 'cancelled', 'failed']),
  error: z.string().nullable(),
  instruction: z.string(),
  steps: intIn(1, LIMITS.maxSteps),
  seed: intIn(0, LIMITS.maxSeed),
  scheduler: schedulerSchema,
  resolution: resolutionSchema,
  textScales: z.array(z.number()),
  imageScales: z.array(z.number()),
  captionBefore: z.string().nullable(),
  captionAfter: z.string().nullable(),
  /** The CLIP model the metrics came from (folder name), or null when there are no metrics. */
  clipModel: z.string().nullable(),
  processedWidth: side,
  processedHeight: side,
  cells: z.array(gridCellViewSchema),
  createdAt: z.number(),
});
export type GridView = z.infer<typeof gridViewSchema>;

export const clipStatusSchema = z.strictObject({
  /** 'none': no CLIP model (the grid runs without numbers); 'ready': metrics will be computed. */
  state: z.enum(['none', 'ready', 'error']),
  folder: z.string().nullable(),
  /** Where it came from: found beside the edit model, or chosen by the user. */
  source: z.enum(['beside-model', 'chosen']).nullable(),
  message: z.string().nullable(),
});
export type ClipStatus = z.infer<typeof clipStatusSchema>;

export const GRID_CALLS = {
  /** Runs a grid over the message's source with its instruction; cells arrive through grid.updated. */
  'grid.start': {
    request: z.strictObject({
      messageId: idSchema,
      textScales: guidanceScalesSchema,
      imageScales: guidanceScalesSchema,
      steps: intIn(1, LIMITS.maxSteps).optional(),
      seed: intIn(0, LIMITS.maxSeed).optional(),
      captionBefore: captionSchema.optional(),
      captionAfter: captionSchema.optional(),
    }),
    response: z.strictObject({ gridId: idSchema }),
  },
  /** Stops a running grid; finished cells are kept. */
  'grid.cancel': {
    request: z.strictObject({ gridId: idSchema }),
    response: z.strictObject({ cancelled: z.boolean() }),
  },
  /** The message's last grid (running or finished), or null. */
  'grid.get': {
    request: z.strictObject({ messageId: idSchema }),
    response: z.strictObject({ grid: gridViewSchema.nullable() }),
  },
  /** One finished cell's picture (processing size, or its stored thumbnail after a reopen). */
  'grid.cellImage': {
    request: z.strictObject({
      gridId: idSchema,
      cellIndex: z.number().int().min(0),
      maxSide: side.optional(),
    }),
    response: pngImageSchema,
  },
  /** Adds a finished cell as a variant of its message (placed at full size, as every edit is); undoable. */
  'grid.keep': {
    request: z.strictObject({ gridId: idSchema, cellIndex: z.number().int().min(0) }),
    response: documentViewSchema,
  },
  'clip.status': { request: empty, response: clipStatusSchema },
  /** Uses a CLIP ViT-L/14 ONNX folder for the grid's metrics; null goes back to the one beside the model. */
  'clip.useFolder': {
    request: z.strictObject({ path: pathSchema.nullable() }),
    response: clipStatusSchema,
  },
  /** Electron: a folder dialog. Browser mode: refused (use clip.useFolder with a path). */
  'clip.chooseFolder': { request: empty, response: clipStatusSchema },
} as const;

// ---------------------------------------------------------------------------------------------
// Memory, threads and the optimiser in the app (issue #10), training pairs from the app (issue #11 §5)

export const trainingPairsSavedSchema = z.strictObject({
  /** The folder written; null when the user cancelled the dialog. */
  path: z.string().nullable(),
  pairs: z.number().int().min(0),
  /** Edit layers left out because they have no result. */
  skipped: z.array(z.string().max(LIMITS.nameChars)).max(LIMITS.layers),
});
export type TrainingPairsSaved = z.infer<typeof trainingPairsSavedSchema>;

export const ENGINE_OPTION_CALLS = {
  /** The machine as the memory and threads settings see it. */
  'system.resources': {
    request: empty,
    response: z.strictObject({
      freeMemoryBytes: z.number().min(0),
      totalMemoryBytes: z.number().min(0),
      cores: z.number().int().min(1),
    }),
  },
  /** Writes an optimised copy of the loaded model into the user's cache and loads it; progress via model.status. */
  'model.optimize': { request: empty, response: modelStatusSchema },
  'model.optimizeCancel': { request: empty, response: z.strictObject({ cancelled: z.boolean() }) },
  /** Declines the offer for the loaded model (remembered per model folder). */
  'model.optimizeDismiss': { request: empty, response: modelStatusSchema },
  /** Electron: a folder dialog, then the open document's training pairs written into it. */
  'export.trainingPairs': { request: empty, response: trainingPairsSavedSchema },
  /** Browser mode: the same files as a zip download. */
  'export.trainingPairsBytes': { request: empty, response: fileBytesSchema },
} as const;

export const CALLS = {
  'app.info': {
    request: empty,
    response: z.strictObject({
      name: z.string(),
      version: z.string(),
      mode: z.enum(['electron', 'browser']),
      platform: z.string(),
      /** Whether native dialogs exist (Electron); browser mode uses file inputs and downloads. */
      nativeDialogs: z.boolean(),
    }),
  },
  'settings.get': { request: empty, response: appSettingsSchema },
  'settings.update': {
    request: z.strictObject({
      provider: providerSchema.optional(),
      editDefaults: editDefaultsSchema.partial().strict().optional(),
      downloadRepo: repoIdSchema.optional(),
      memoryBudgetGb: memoryBudgetGbSchema.nullable().optional(),
      threads: threadsSchema.nullable().optional(),
    }),
    response: appSettingsSchema,
  },
  'model.status': { request: empty, response: modelStatusSchema },
  /** Use a model folder the user typed or chose; answers with the loader's verdict. */
  'model.useFolder': { request: z.strictObject({ dir: pathSchema }), response: modelStatusSchema },
  /** Electron: a folder dialog, then as model.useFolder. Null status fields when cancelled. */
  'model.chooseFolder': { request: empty, response: modelStatusSchema.nullable() },
  'model.forget': { request: z.strictObject({ dir: pathSchema }), response: appSettingsSchema },
  'model.download': {
    request: z.strictObject({
      repo: repoIdSchema,
      revision: revisionSchema.optional(),
    }),
    response: z.strictObject({ downloadId: idSchema, dir: z.string() }),
  },
  'model.downloadCancel': {
    request: z.strictObject({ downloadId: idSchema }),
    response: z.strictObject({ cancelled: z.boolean() }),
  },
  'engine.status': { request: empty, response: engineStatusSchema },
  'document.get': { request: empty, response: nullableDoc },
  'document.openPath': { request: z.strictObject({ path: pathSchema }), response: documentViewSchema },
  'document.openBytes': {
    request: z.strictObject({
      name: z.string().min(1).max(LIMITS.nameChars),
      bytes: bytesSchema.refine(
        (bytes) => bytes.length > 0 && bytes.length <= LIMITS.uploadBytes,
        'the file is empty or too large',
      ),
    }),
    response: documentViewSchema,
  },
  'document.openDialog': { request: empty, response: nullableDoc },
  'document.layerImage': {
    request: z.strictObject({
      layerId: idSchema,
      what: z.enum(['pixels', 'mask', 'thumbnail']),
      variantId: idSchema.optional(),
      /**
       * Longest side wanted (pixels or mask; thumbnails have their own): the screen asks for its own
       * device pixels first and the full resolution only when zoomed in past them.
       */
      maxSide: side.optional(),
    }),
    response: pngImageSchema,
  },
  'layer.update': {
    request: z.strictObject({
      layerId: idSchema,
      visible: z.boolean().optional(),
      opacity: z.number().min(0).max(1).optional(),
      name: z.string().trim().min(1).max(LIMITS.nameChars).optional(),
    }),
    response: documentViewSchema,
  },
  'layer.move': {
    request: z.strictObject({ layerId: idSchema, toIndex: z.number().int().min(0).max(LIMITS.layers) }),
    response: documentViewSchema,
  },
  'layer.delete': { request: z.strictObject({ layerId: idSchema }), response: documentViewSchema },
  'mask.set': {
    request: z
      .strictObject({
        layerId: idSchema,
        /** One grey byte per pixel of the layer (255 = the edit shows, 0 = hidden). */
        width: side,
        height: side,
        data: bytesSchema,
      })
      .refine(
        (mask) => mask.data.length === mask.width * mask.height && mask.data.length <= LIMITS.maskPixels,
        'mask data must be width × height bytes',
      ),
    response: documentViewSchema,
  },
  'mask.invert': { request: z.strictObject({ layerId: idSchema }), response: documentViewSchema },
  'mask.clear': { request: z.strictObject({ layerId: idSchema }), response: documentViewSchema },
  'history.undo': { request: empty, response: nullableDoc },
  'history.redo': { request: empty, response: nullableDoc },
  'edit.enqueue': {
    request: z.strictObject({
      settings: editSettingsInputSchema,
      /** Re-run an earlier instruction with these settings: the result becomes another variant of it. */
      rerunOf: idSchema.optional(),
    }),
    response: z.strictObject({ jobId: idSchema, messageId: idSchema }),
  },
  'edit.cancel': {
    request: z.strictObject({ jobId: idSchema }),
    response: z.strictObject({ cancelled: z.boolean() }),
  },
  /** Re-runs every stale layer, bottom first, each with its own settings and seed (as `cli rerun-stale`). */
  'edit.rerunStale': { request: empty, response: z.strictObject({ queued: z.number().int().min(0) }) },
  'variant.pick': {
    request: z.strictObject({ messageId: idSchema, variantId: idSchema }),
    response: documentViewSchema,
  },
  /** Saves to the project's path; Electron asks for one when there is none. Browser mode: path null, use project.saveBytes. */
  'project.save': { request: empty, response: savedSchema },
  'project.saveAs': { request: empty, response: savedSchema },
  'project.saveBytes': { request: empty, response: fileBytesSchema },
  /** Writes an export to a path the user chose earlier (a dialog, or a folder granted at start). */
  'export.toPath': {
    request: z.strictObject({ format: exportFormatSchema, path: pathSchema }),
    response: savedSchema,
  },
  'export.dialog': { request: z.strictObject({ format: exportFormatSchema }), response: savedSchema },
  'export.bytes': { request: z.strictObject({ format: exportFormatSchema }), response: fileBytesSchema },
  'recent.list': { request: empty, response: z.array(z.string()).max(50) },
  /** Autosaves that are newer than their project (or of pictures never saved), newest first. */
  'recovery.list': { request: empty, response: z.array(recoveryEntrySchema).max(100) },
  /** Opens an autosave as the current document (unsaved; saving goes to its project's path). */
  'recovery.restore': { request: z.strictObject({ id: idSchema }), response: documentViewSchema },
  'recovery.discard': {
    request: z.strictObject({ id: idSchema }),
    response: z.strictObject({ discarded: z.boolean() }),
  },
  /** How much of the text fits the text encoder's window (77 tokens for CLIP, start and end included). */
  'text.countTokens': {
    request: z.strictObject({ text: z.string().min(1).max(LIMITS.instructionChars) }),
    response: tokenCountSchema,
  },
  ...GRID_CALLS,
  ...ENGINE_OPTION_CALLS,
} as const satisfies Record<CallName, { request: z.ZodType; response: z.ZodType }>;

// ---------------------------------------------------------------------------------------------
// Events

export const EVENTS = {
  'document.changed': z.strictObject({ document: nullableDoc }),
  'job.updated': z.strictObject({
    jobId: idSchema,
    messageId: idSchema,
    status: jobStatusSchema,
    error: z.string().nullable(),
  }),
  'job.progress': z.strictObject({
    jobId: idSchema,
    messageId: idSchema,
    step: z.number().int(),
    totalSteps: z.number().int(),
    elapsedMs: z.number(),
    preview: rawImageSchema.nullable(),
  }),
  'model.status': modelStatusSchema,
  /** A grid started, a cell finished, or it ended (done, cancelled, failed). */
  'grid.updated': z.strictObject({ grid: gridViewSchema }),
  'grid.progress': z.strictObject({
    gridId: idSchema,
    messageId: idSchema,
    stepsDone: z.number().int(),
    totalSteps: z.number().int(),
    cellsDone: z.number().int(),
    totalCells: z.number().int(),
    elapsedMs: z.number(),
    cellIndex: z.number().int().nullable(),
    preview: rawImageSchema.nullable(),
  }),
  'model.downloadProgress': z.strictObject({
    downloadId: idSchema,
    state: z.enum(['checking', 'downloading', 'verifying', 'done', 'failed', 'cancelled']),
    file: z.string().nullable(),
    bytesDone: z.number(),
    bytesTotal: z.number(),
    message: z.string().nullable(),
    dir: z.string(),
  }),
  'engine.status': engineStatusSchema,
  'menu.command': z.strictObject({ command: menuCommandSchema }),
} as const satisfies Record<EventName, z.ZodType>;

export type CallRequest<N extends CallName> = z.input<(typeof CALLS)[N]['request']>;
export type CallResponse<N extends CallName> = z.output<(typeof CALLS)[N]['response']>;
export type EventPayload<N extends EventName> = z.output<(typeof EVENTS)[N]>;
export type DownloadProgress = EventPayload<'model.downloadProgress'>;
export type JobProgress = EventPayload<'job.progress'>;
