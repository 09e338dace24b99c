/**
 * The project file's manifest (project.json inside the .iedit zip): a zod schema, the format
 * version, migrations from older versions, and the consistency checks zod cannot express. Shared
 * so a reader (the renderer, a tool) can validate a manifest without Node.
 *
 * Format history:
 *   1: first version.
 *   2: `grids`: the last guidance grid of each edit layer (settings, captions, metrics, thumbnails).
 * A change that older readers cannot read bumps PROJECT_FORMAT_VERSION and adds a migration from the
 * previous version to PROJECT_MIGRATIONS; loading runs every migration from the file's version up.
 */
import { z } from 'zod';
import { isBuiltInName, LIMITS } from '../contract/schemas';
import { RESOLUTION_MODES, SCHEDULER_NAMES } from '../engine-types';
import { BLEND_MODES, LAYER_STATES, PLACEMENT_MODES, type DocumentRecord, type Layer } from './records';

export const PROJECT_FORMAT = 'instruct-edit-project';
export const PROJECT_FORMAT_VERSION = 2;
export const PROJECT_MIME = 'application/x-instruct-edit-project';
export const PROJECT_EXTENSION = '.iedit';

/** Sides and pixel counts a manifest may declare: the contract's, so a loaded project works with every call. */
export const MAX_SIDE = LIMITS.imageSide;
export const MAX_DOCUMENT_PIXELS = LIMITS.documentPixels;

const hashSchema = z
  .string()
  .regex(/^[0-9a-f]{64}$/, 'a pixel reference is a 64-digit lower-case hex sha-256');
const idSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'ids are letters, digits, _ . : -')
  .refine((value) => !isBuiltInName(value), 'that name is reserved and cannot be an id');
const sideSchema = z.number().int().min(1).max(MAX_SIDE);
const timeSchema = z.number().finite().min(0);

export const modelRefSchema = z.strictObject({ id: z.string().max(4096), version: z.string().max(4096) });

export const editRequestSchema = z.strictObject({
  instruction: z.string().min(1).max(LIMITS.instructionChars),
  steps: z.number().int().min(1).max(LIMITS.maxSteps),
  textGuidance: z.number().finite().min(0).max(LIMITS.maxGuidance),
  imageGuidance: z.number().finite().min(0).max(LIMITS.maxGuidance),
  seed: z.number().int().min(0).max(0xffffffff),
  scheduler: z.enum(SCHEDULER_NAMES),
  resolution: z.enum(RESOLUTION_MODES),
  karrasSigmas: z.boolean().optional(),
  model: modelRefSchema,
  placement: z.enum(PLACEMENT_MODES),
});

export const variantSchema = z.strictObject({
  id: idSchema,
  request: editRequestSchema,
  pixels: hashSchema,
  result: hashSchema,
  source: hashSchema,
  sourceParts: z.array(z.string().max(1000)).min(1).max(100_000),
  processedWidth: sideSchema,
  processedHeight: sideSchema,
  createdAt: timeSchema,
  durationMs: z.number().finite().min(0),
});

export const layerStatusSchema = z.strictObject({
  state: z.enum(LAYER_STATES),
  reason: z.string().max(10_000).nullable(),
});

export const layerSchema = z.strictObject({
  id: idSchema,
  kind: z.literal('edit'),
  name: z.string().min(1).max(1000),
  visible: z.boolean(),
  opacity: z.number().min(0).max(1),
  blendMode: z.enum(BLEND_MODES),
  mask: hashSchema.nullable(),
  request: editRequestSchema,
  variants: z.array(variantSchema).max(10_000),
  activeVariantId: idSchema.nullable(),
  failure: z.string().max(10_000).nullable(),
  status: layerStatusSchema,
  createdAt: timeSchema,
});

const metricSchema = z.number().finite().min(-1.0001).max(1.0001).nullable();

/** One finished cell of a saved guidance grid: its scales, thumbnail and CLIP metrics. */
export const gridCellRecordSchema = z.strictObject({
  index: z.number().int().min(0),
  textGuidance: z.number().finite().min(0).max(LIMITS.maxGuidance),
  imageGuidance: z.number().finite().min(0).max(LIMITS.maxGuidance),
  /** The cell's result at thumbnail size (longest side at most GRID_THUMBNAIL_SIDE), an rgb pixel hash. */
  thumbnail: hashSchema,
  metrics: z
    .strictObject({
      imageSimilarity: metricSchema,
      directionalSimilarity: metricSchema,
      clipT: metricSchema,
    })
    .nullable(),
  durationMs: z.number().finite().min(0).nullable(),
  /** The variant Keep made of this cell (it may since have been undone). */
  keptVariantId: idSchema.nullable(),
});
export type GridCellRecord = z.infer<typeof gridCellRecordSchema>;

const guidanceScalesSchema = z
  .array(z.number().finite().min(0).max(LIMITS.maxGuidance))
  .min(1)
  .max(LIMITS.gridScalesPerAxis);

/** The last guidance grid run on an edit layer: not part of the records (and so of history). */
export const gridRecordSchema = z.strictObject({
  id: idSchema,
  layerId: idSchema,
  state: z.enum(['done', 'cancelled', 'failed']),
  error: z.string().max(10_000).nullable(),
  /** The grid's settings: a request without the two scales, which the axes give. */
  request: editRequestSchema.omit({ textGuidance: true, imageGuidance: true }),
  textScales: guidanceScalesSchema,
  imageScales: guidanceScalesSchema,
  captionBefore: z.string().max(LIMITS.instructionChars).nullable(),
  captionAfter: z.string().max(LIMITS.instructionChars).nullable(),
  clipModel: z.string().max(4096).nullable(),
  processedWidth: sideSchema,
  processedHeight: sideSchema,
  createdAt: timeSchema,
  /** The finished cells only. */
  cells: z.array(gridCellRecordSchema).max(LIMITS.gridScalesPerAxis ** 2),
});
export type GridRecord = z.infer<typeof gridRecordSchema>;

/** Longest side of a saved grid cell's thumbnail. */
export const GRID_THUMBNAIL_SIDE = 256;

export const pixelEntrySchema = z.strictObject({
  kind: z.enum(['rgb', 'gray']),
  width: sideSchema,
  height: sideSchema,
  /** The zip entry holding the PNG. */
  file: z.string().regex(/^pixels\/[0-9a-f]{64}\.png$/),
  /** The PNG's size and sha-256, checked on load (the key is the hash of the raw pixels). */
  bytes: z.number().int().min(1),
  sha256: hashSchema,
});
export type PixelEntry = z.infer<typeof pixelEntrySchema>;

export const manifestSchema = z.strictObject({
  format: z.literal(PROJECT_FORMAT),
  version: z.literal(PROJECT_FORMAT_VERSION),
  generator: z.strictObject({ name: z.string().max(200), version: z.string().max(200) }),
  savedAt: timeSchema,
  /** Present in recovery files (autosaves): the project they belong to (null for an unsaved one). */
  recovery: z.strictObject({ projectPath: z.string().max(10_000).nullable() }).nullable(),
  document: z.strictObject({
    id: idSchema,
    width: sideSchema,
    height: sideSchema,
    createdAt: timeSchema,
    base: z.strictObject({
      id: idSchema,
      name: z.string().max(1000),
      pixels: hashSchema,
      origin: z.strictObject({
        fileName: z.string().max(10_000).nullable(),
        format: z.string().max(100).nullable(),
        notices: z.array(z.string().max(10_000)).max(100),
      }),
    }),
    /** Bottom first. */
    layers: z.array(layerSchema).max(LIMITS.layers),
  }),
  pixels: z.record(hashSchema, pixelEntrySchema),
  /** Version 2: the last guidance grid of each edit layer, at most one per layer. */
  grids: z.array(gridRecordSchema).max(LIMITS.layers),
});
export type ProjectManifest = z.infer<typeof manifestSchema>;

// ---- Migrations ---------------------------------------------------------------------------------

/** A step from version `from` to `from + 1`, on the parsed JSON (before schema validation). */
export type Migration = (manifest: Record<string, unknown>) => Record<string, unknown>;

/** PROJECT_MIGRATIONS[n] migrates version n to n + 1. */
export const PROJECT_MIGRATIONS: Readonly<Record<number, Migration>> = {
  // Version 1 had no guidance grids.
  1: (manifest) => ({ ...manifest, grids: [] }),
};

export class ManifestError extends Error {
  override name = 'ManifestError';
  constructor(
    readonly code: 'not-a-project' | 'newer-version' | 'schema' | 'inconsistent',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Brings a parsed manifest to the current version: refuses other formats and newer versions, runs
 * the migrations from the file's version up. Returns the migrated JSON and the versions migrated from.
 */
export function migrateManifest(
  raw: unknown,
  migrations: Readonly<Record<number, Migration>> = PROJECT_MIGRATIONS,
  current: number = PROJECT_FORMAT_VERSION,
): { manifest: Record<string, unknown>; migratedFrom: number[] } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ManifestError('not-a-project', 'project.json is not a JSON object');
  }
  let manifest = raw as Record<string, unknown>;
  if (manifest.format !== PROJECT_FORMAT) {
    throw new ManifestError(
      'not-a-project',
      `project.json is not an ${PROJECT_FORMAT} manifest (format ${JSON.stringify(manifest.format)})`,
    );
  }
  const version = manifest.version;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    throw new ManifestError(
      'schema',
      `project.json has no valid format version (${JSON.stringify(version)})`,
    );
  }
  if (version > current) {
    throw new ManifestError(
      'newer-version',
      `The project was written by a newer version of the app (format version ${version}; this version reads up to ${current}). Update the app to open it.`,
    );
  }
  const migratedFrom: number[] = [];
  for (let v = version; v < current; v++) {
    const step = migrations[v];
    if (!step) throw new ManifestError('schema', `No migration from project format version ${v} to ${v + 1}`);
    manifest = { ...step(manifest), version: v + 1 };
    migratedFrom.push(v);
  }
  return { manifest, migratedFrom };
}

function describeIssues(error: z.ZodError, under: PropertyKey[] = [], offset = 0): string {
  return error.issues
    .slice(0, 8)
    .map((issue) => {
      const [first, ...more] = issue.path;
      const path =
        under.length > 0 && typeof first === 'number' ? [...under, first + offset, ...more] : issue.path;
      return `${path.length ? path.map(String).join('.') : '(root)'}: ${issue.message}`;
    })
    .join('; ');
}

/** Migrates and validates a parsed manifest; the consistency checks included. Throws ManifestError. */
export function parseManifest(
  raw: unknown,
  migrations?: Readonly<Record<number, Migration>>,
): { manifest: ProjectManifest; migratedFrom: number[] } {
  const migrated = migrateManifest(raw, migrations);
  const parsed = manifestSchema.safeParse(migrated.manifest);
  if (!parsed.success) {
    throw new ManifestError(
      'schema',
      `project.json does not match the project schema: ${describeIssues(parsed.error)}`,
    );
  }
  const problems = manifestProblems(parsed.data);
  if (problems.length > 0) {
    throw new ManifestError(
      'inconsistent',
      `project.json is inconsistent: ${problems.slice(0, 8).join('; ')}`,
    );
  }
  return { manifest: parsed.data, migratedFrom: migrated.migratedFrom };
}

/** Layers validated per step by parseManifestInSteps (a few milliseconds of work each). */
const LAYERS_PER_STEP = 50;

const layersSchema = z.array(layerSchema);

function schemaError(issues: string): ManifestError {
  return new ManifestError('schema', `project.json does not match the project schema: ${issues}`);
}

/**
 * parseManifest in steps: the layers are validated a few dozen at a time, with `pause()` awaited
 * between steps, so a caller on an event loop that others share (the app's main side) can let them
 * in. The same result as parseManifest; on a bad file the same kind of error, naming the first
 * problems found (a layer count over the limit is refused before any layer is looked at).
 */
export async function parseManifestInSteps(
  raw: unknown,
  pause: () => Promise<void>,
  migrations?: Readonly<Record<number, Migration>>,
): Promise<{ manifest: ProjectManifest; migratedFrom: number[] }> {
  const migrated = migrateManifest(raw, migrations);
  const document = migrated.manifest.document as Record<string, unknown> | null | undefined;
  const layers =
    document !== null && typeof document === 'object' && Array.isArray(document.layers)
      ? (document.layers as unknown[])
      : null;
  if (!document || layers === null) return parseManifest(raw, migrations);
  if (layers.length > LIMITS.layers) {
    throw schemaError(
      `document.layers: ${layers.length} layers, more than the ${LIMITS.layers} a document may hold`,
    );
  }
  const rest = manifestSchema.safeParse({ ...migrated.manifest, document: { ...document, layers: [] } });
  if (!rest.success) throw schemaError(describeIssues(rest.error));
  const parsedLayers: z.infer<typeof layerSchema>[] = [];
  for (let start = 0; start < layers.length; start += LAYERS_PER_STEP) {
    await pause();
    const step = layersSchema.safeParse(layers.slice(start, start + LAYERS_PER_STEP));
    if (!step.success) throw schemaError(describeIssues(step.error, ['document', 'layers'], start));
    parsedLayers.push(...step.data);
  }
  const manifest: ProjectManifest = {
    ...rest.data,
    document: { ...rest.data.document, layers: parsedLayers },
  };
  const problems = manifestProblems(manifest);
  if (problems.length > 0) {
    throw new ManifestError(
      'inconsistent',
      `project.json is inconsistent: ${problems.slice(0, 8).join('; ')}`,
    );
  }
  return { manifest, migratedFrom: migrated.migratedFrom };
}

/** What zod cannot check: unique ids, references that resolve, pixel kinds and sizes. */
export function manifestProblems(manifest: ProjectManifest): string[] {
  const problems: string[] = [];
  const { document: doc, pixels } = manifest;
  const checkRef = (
    ref: string,
    where: string,
    kind: 'rgb' | 'gray',
    size: { width: number; height: number } | null,
  ) => {
    const entry = pixels[ref];
    if (!entry) {
      problems.push(`${where} references pixels ${ref.slice(0, 12)}… that the pixel table does not list`);
      return;
    }
    if (entry.kind !== kind)
      problems.push(`${where}: pixels ${ref.slice(0, 12)}… are ${entry.kind}, expected ${kind}`);
    if (size && (entry.width !== size.width || entry.height !== size.height)) {
      problems.push(
        `${where}: pixels ${ref.slice(0, 12)}… are ${entry.width}×${entry.height}, expected ${size.width}×${size.height}`,
      );
    }
  };
  for (const [hash, entry] of Object.entries(pixels)) {
    if (entry.file !== `pixels/${hash}.png`)
      problems.push(`pixel entry ${hash.slice(0, 12)}… names file ${entry.file}`);
  }
  const docSize = { width: doc.width, height: doc.height };
  if (doc.width * doc.height > MAX_DOCUMENT_PIXELS)
    problems.push(`the document is ${doc.width}×${doc.height}, over the size limit`);
  checkRef(doc.base.pixels, 'base', 'rgb', docSize);
  const ids = new Set<string>([doc.base.id]);
  doc.layers.forEach((layer, i) => {
    const where = `layer ${i + 1} (${layer.id})`;
    if (ids.has(layer.id)) problems.push(`${where}: duplicate id`);
    ids.add(layer.id);
    if (layer.mask) checkRef(layer.mask, `${where} mask`, 'gray', docSize);
    const variantIds = new Set<string>();
    for (const v of layer.variants) {
      if (variantIds.has(v.id)) problems.push(`${where}: duplicate variant id ${v.id}`);
      variantIds.add(v.id);
      checkRef(v.pixels, `${where} variant ${v.id} pixels`, 'rgb', docSize);
      checkRef(v.source, `${where} variant ${v.id} source`, 'rgb', docSize);
      checkRef(v.result, `${where} variant ${v.id} result`, 'rgb', {
        width: v.processedWidth,
        height: v.processedHeight,
      });
    }
    if (layer.activeVariantId !== null && !variantIds.has(layer.activeVariantId)) {
      problems.push(`${where}: active variant ${layer.activeVariantId} is not one of its variants`);
    }
  });
  const gridLayers = new Set<string>();
  manifest.grids.forEach((grid, i) => {
    const where = `grid ${i + 1} (${grid.id})`;
    if (!doc.layers.some((layer) => layer.id === grid.layerId))
      problems.push(`${where}: its layer ${grid.layerId} is not in the document`);
    if (gridLayers.has(grid.layerId)) problems.push(`${where}: a second grid for layer ${grid.layerId}`);
    gridLayers.add(grid.layerId);
    const cellCount = grid.textScales.length * grid.imageScales.length;
    const indexes = new Set<number>();
    for (const cell of grid.cells) {
      if (cell.index >= cellCount || indexes.has(cell.index))
        problems.push(`${where}: cell ${cell.index} is out of range or repeated`);
      indexes.add(cell.index);
      checkRef(cell.thumbnail, `${where} cell ${cell.index} thumbnail`, 'rgb', null);
    }
  });
  return problems;
}

/** Document records → the manifest's document part (layers as an array, bottom first). */
export function documentToManifest(doc: DocumentRecord): ProjectManifest['document'] {
  return {
    id: doc.id,
    width: doc.width,
    height: doc.height,
    createdAt: doc.createdAt,
    base: { ...doc.base, origin: { ...doc.base.origin, notices: [...doc.base.origin.notices] } },
    layers: doc.order.map((id) => doc.layers[id]).filter((l): l is Layer => l !== undefined),
  };
}

/** The manifest's document part → records. */
export function manifestToDocument(doc: ProjectManifest['document']): DocumentRecord {
  const layers: Record<string, Layer> = {};
  for (const layer of doc.layers) layers[layer.id] = layer as Layer;
  return {
    id: doc.id,
    width: doc.width,
    height: doc.height,
    createdAt: doc.createdAt,
    base: doc.base,
    layers,
    order: doc.layers.map((l) => l.id),
  };
}
