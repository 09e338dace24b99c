/**
 * Project files (.iedit): one zip per project holding `project.json` (the manifest: the document's
 * records and a table of every pixel image it references) and `pixels/<hash>.png` (one lossless PNG
 * per image, stored uncompressed in the zip since PNG is compressed already). See
 * docs/project-format.md.
 *
 * Saving is atomic (temp file, fsync, rename, fsync of the folder): a crash or a kill mid-save leaves
 * the previous file as it was. Loading checks everything before the document is used: the zip
 * structure, the manifest (migrations, schema, consistency), that every listed PNG is present with
 * the size and sha-256 the manifest gives and the dimensions it declares; the raw pixels are decoded
 * lazily by the PixelStore, which checks them against their hash. Loading never writes anything.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import {
  documentToManifest,
  ManifestError,
  manifestToDocument,
  MAX_DOCUMENT_PIXELS,
  parseManifestInSteps,
  PROJECT_FORMAT,
  PROJECT_FORMAT_VERSION,
  type GridRecord,
  type PixelEntry,
  type ProjectManifest,
} from '../../shared/document/schema';
import { LIMITS } from '../../shared/contract/limits';
import { referencedPixels, type DocumentRecord, type PixelRef } from '../../shared/document/records';
import { writeFileAtomic } from '../util/atomic-write';
import { JsonLimitError, JsonSyntaxError, parseJsonInSteps } from '../util/json-in-steps';
import { ioReason } from '../util/io-errors';
import { ProjectFileError, type ProjectFileErrorCode } from './errors';
import { PixelStore, sha256HexInSteps, type PixelStoreOptions } from './pixel-store';
import {
  buildZip,
  bytesSource,
  concatZipAsync,
  crc32Sliced,
  fileSource,
  readZipDirectory,
  readZipEntry,
  ZipError,
  type ZipEntry,
  type ZipInputEntry,
  type ZipLayout,
  type ZipSource,
} from './project-zip';

export const MANIFEST_ENTRY = 'project.json';

export const DEFAULT_GENERATOR = { name: 'instruct-edit', version: '0.0.0' } as const;

export interface ProjectLimits {
  /** Largest project file read (default 4 GiB, the most a zip without ZIP64 holds). */
  maxFileBytes: number;
  /** Largest project.json, uncompressed (default 64 MiB). */
  maxManifestBytes: number;
  /** Most bytes the manifest and all PNGs may take uncompressed, together (default 4 GiB). */
  maxTotalBytes: number;
  /** Most pixels one image may declare (default the schema's document limit, 1 000 MP). */
  maxImagePixels: number;
}

export const DEFAULT_PROJECT_LIMITS: Readonly<ProjectLimits> = {
  maxFileBytes: 4 * 1024 ** 3,
  maxManifestBytes: 64 * 1024 ** 2,
  maxTotalBytes: 4 * 1024 ** 3,
  maxImagePixels: MAX_DOCUMENT_PIXELS,
};

// ---- Saving -------------------------------------------------------------------------------------

export interface SaveProjectOptions {
  /** Set for recovery files (autosaves): the project they belong to, null for an unsaved document. */
  recovery?: { projectPath: string | null } | null;
  /** The app that wrote the file (default instruct-edit 0.0.0). */
  generator?: { name: string; version: string };
  /** The manifest's savedAt (ms since the epoch; default now). */
  savedAt?: number;
  /** The last guidance grid of each layer (their thumbnails must be in the store). */
  grids?: readonly GridRecord[];
}

export interface SavedProject {
  path: string;
  /** The file's size in bytes. */
  size: number;
  savedAt: number;
  /** How many pixel images it holds. */
  images: number;
}

/**
 * sha-256 and CRC-32 of PNG buffers already digested: the store hands out the same buffer every
 * time, so a second save digests nothing. Both run a slice at a time, the event loop free between
 * slices (WebCrypto's digest, though asynchronous, held it ~6 ms per MB on Node 20).
 */
const pngDigests = new WeakMap<Uint8Array, Promise<{ sha256: string; crc32: number }>>();

function pngDigest(png: Uint8Array): Promise<{ sha256: string; crc32: number }> {
  let digest = pngDigests.get(png);
  if (digest === undefined) {
    digest = Promise.all([sha256HexInSteps(png), crc32Sliced(png)]).then(([sha256, crc32]) => ({
      sha256,
      crc32,
    }));
    digest.catch(() => pngDigests.delete(png));
    pngDigests.set(png, digest);
  }
  return digest;
}

/**
 * Encodes (sharp, off the event loop) and digests every image the document holds
 * that is not ready yet, so that a save soon after only lays out and writes bytes. Runs in the
 * background after each change of pixels; failures are left for the save itself to report.
 */
export async function prepareProject(doc: DocumentRecord, store: PixelStore): Promise<void> {
  await Promise.all(
    referencedPixels(doc)
      .filter((ref) => store.has(ref))
      .map(async (ref) => pngDigest(await store.png(ref))),
  );
}

/** The manifest and the zip layout of a project (PNGs referenced, not copied). */
export async function buildProject(
  doc: DocumentRecord,
  store: PixelStore,
  options: SaveProjectOptions = {},
): Promise<{ manifest: ProjectManifest; layout: ZipLayout }> {
  // Grids of layers no longer in the document (deleted, or undone away) are not saved.
  const grids = (options.grids ?? []).filter((grid) => doc.layers[grid.layerId] !== undefined);
  const refs = [
    ...new Set([...referencedPixels(doc), ...grids.flatMap((grid) => grid.cells.map((c) => c.thumbnail))]),
  ];
  const missing = refs.filter((ref) => !store.has(ref));
  if (missing.length > 0) {
    throw new ProjectFileError(
      'missing-pixels',
      `The document cannot be saved: ${missing.length} of its images (${missing
        .slice(0, 3)
        .map((ref) => `${ref.slice(0, 12)}…`)
        .join(', ')}) are not in the pixel store`,
    );
  }
  const pngs = await Promise.all(refs.map((ref) => store.png(ref)));
  const digests = await Promise.all(pngs.map((png) => pngDigest(png)));
  const pixels: Record<PixelRef, PixelEntry> = {};
  const files: ZipInputEntry[] = [];
  refs.forEach((ref, i) => {
    const png = pngs[i] as Uint8Array;
    const digest = digests[i] as { sha256: string; crc32: number };
    const info = store.info(ref);
    if (!info)
      throw new ProjectFileError('missing-pixels', `Pixels ${ref.slice(0, 12)}… left the store while saving`);
    const file = `pixels/${ref}.png`;
    pixels[ref] = {
      kind: info.kind,
      width: info.width,
      height: info.height,
      file,
      bytes: png.length,
      sha256: digest.sha256,
    };
    files.push({ name: file, data: png, level: 0, crc32: digest.crc32 });
  });
  const manifest: ProjectManifest = {
    format: PROJECT_FORMAT,
    version: PROJECT_FORMAT_VERSION,
    generator: { ...(options.generator ?? DEFAULT_GENERATOR) },
    savedAt: options.savedAt ?? Date.now(),
    recovery: options.recovery ? { projectPath: options.recovery.projectPath } : null,
    document: documentToManifest(doc),
    pixels,
    grids: structuredClone([...grids]),
  };
  const json = Buffer.from(JSON.stringify(manifest, null, 1), 'utf8');
  // Never write a file this version could not open again (checked in steps, as loading does: a
  // thousand-layer manifest takes the event loop ~0.1 s to validate in one go).
  try {
    await parseManifestInSteps(await parseJsonInSteps(json, nextTurn, MANIFEST_JSON_LIMITS), nextTurn);
  } catch (error) {
    if (error instanceof JsonLimitError) {
      throw new ProjectFileError('too-large', `The document cannot be saved: ${error.message}`, {
        cause: error,
      });
    }
    if (error instanceof ManifestError) {
      throw new ProjectFileError('schema', `The document cannot be saved: ${error.message}`, {
        cause: error,
      });
    }
    throw error;
  }
  try {
    const layout = buildZip(
      [{ name: MANIFEST_ENTRY, data: json, level: 6 }, ...files],
      // The entries' dates are the save's, so saving the same document at the same time gives the same bytes.
      new Date(manifest.savedAt),
    );
    return { manifest, layout };
  } catch (error) {
    if (error instanceof ZipError && error.kind === 'too-large') {
      throw new ProjectFileError('too-large', `The project cannot be saved: ${error.message}`, {
        cause: error,
      });
    }
    throw error;
  }
}

/** The project file's bytes (for callers that write them themselves). */
export async function encodeProject(
  doc: DocumentRecord,
  store: PixelStore,
  options: SaveProjectOptions = {},
): Promise<Uint8Array> {
  const { layout } = await buildProject(doc, store, options);
  return concatZipAsync(layout);
}

/**
 * Writes the project to `path` atomically: either the previous file stays as it was (on any
 * failure, with the temp file removed) or the new one replaces it whole. Temp files that killed
 * saves of the same path left behind are removed first. Errors are ProjectFileErrors: 'io' naming
 * the path and the reason, 'missing-pixels', 'schema' or 'too-large' when the document cannot be
 * written at all.
 */
export async function saveProject(
  path: string,
  doc: DocumentRecord,
  store: PixelStore,
  options: SaveProjectOptions = {},
): Promise<SavedProject> {
  const { manifest, layout } = await buildProject(doc, store, options);
  try {
    // Recovery files hold the user's pictures: readable by the user only.
    await writeFileAtomic(path, layout.chunks, {
      removeStaleTemps: true,
      ...(options.recovery ? { mode: 0o600 } : {}),
    });
  } catch (error) {
    throw new ProjectFileError('io', `Could not save the project to ${path}: ${ioReason(error)}`, {
      cause: error,
    });
  }
  return {
    path,
    size: layout.size,
    savedAt: manifest.savedAt,
    images: Object.keys(manifest.pixels).length,
  };
}

// ---- Loading ------------------------------------------------------------------------------------

export interface LoadProjectOptions {
  /** How to name a byte input in messages ("photo.iedit"); paths name themselves. */
  name?: string;
  limits?: Partial<ProjectLimits>;
  /** Options of the PixelStore the images are registered in. */
  storeOptions?: PixelStoreOptions;
}

export interface LoadedProject {
  doc: DocumentRecord;
  /** Holds every image the manifest lists, as PNGs decoded (and verified) when first used. */
  store: PixelStore;
  /** The format versions the manifest was migrated from (empty when it was current). */
  migratedFrom: number[];
  /** Set when the file is a recovery file (an autosave). */
  recovery: { projectPath: string | null } | null;
  savedAt: number;
  generator: { name: string; version: string };
  /** The last guidance grid of each layer (thumbnails in the store). */
  grids: GridRecord[];
}

const SIGNATURES: { magic: (number | null)[]; what: string }[] = [
  { magic: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], what: 'a PNG image' },
  { magic: [0xff, 0xd8, 0xff], what: 'a JPEG image' },
  { magic: [0x47, 0x49, 0x46, 0x38], what: 'a GIF image' },
  {
    magic: [0x52, 0x49, 0x46, 0x46, null, null, null, null, 0x57, 0x45, 0x42, 0x50],
    what: 'a WebP image',
  },
  { magic: [0x49, 0x49, 0x2a, 0x00], what: 'a TIFF image' },
  { magic: [0x4d, 0x4d, 0x00, 0x2a], what: 'a TIFF image' },
  { magic: [0x38, 0x42, 0x50, 0x53], what: 'a Photoshop document' },
  { magic: [0x25, 0x50, 0x44, 0x46], what: 'a PDF document' },
  { magic: [0x42, 0x4d], what: 'a BMP image' },
];

function describeContent(head: Uint8Array): string | null {
  for (const { magic, what } of SIGNATURES) {
    if (head.length >= magic.length && magic.every((b, i) => b === null || head[i] === b)) return what;
  }
  return null;
}

function zipToProjectError(error: unknown, label: string, head: Uint8Array): unknown {
  if (!(error instanceof ZipError)) return error;
  switch (error.kind) {
    case 'not-zip': {
      const what = describeContent(head);
      return new ProjectFileError(
        'not-a-project',
        `${label} is not an Instruct Edit project${what ? ` (it is ${what}; open it as an image instead)` : ''}: ${error.message}`,
        { cause: error },
      );
    }
    case 'corrupt':
      return new ProjectFileError('corrupt', `${label} is damaged: ${error.message}`, { cause: error });
    case 'too-large':
      return new ProjectFileError('too-large', `${label} is too large to open: ${error.message}`, {
        cause: error,
      });
  }
}

const MANIFEST_CODES: Record<ManifestError['code'], ProjectFileErrorCode> = {
  'not-a-project': 'not-a-project',
  'newer-version': 'newer-version',
  schema: 'schema',
  inconsistent: 'schema',
};

/** Opens the input (read-only), runs `body` with a zip source over it, closes it, maps errors. */
async function withSource<T>(
  input: string | Uint8Array,
  options: LoadProjectOptions,
  body: (source: ZipSource, label: string, limits: ProjectLimits) => Promise<T>,
): Promise<T> {
  const limits = { ...DEFAULT_PROJECT_LIMITS, ...options.limits };
  const label = typeof input === 'string' ? input : (options.name ?? 'The file');
  let handle: FileHandle | null = null;
  let head: Uint8Array = new Uint8Array(0);
  try {
    let source: ZipSource;
    if (typeof input === 'string') {
      let size: number;
      try {
        const info = await stat(input);
        if (info.isDirectory()) {
          throw new ProjectFileError('not-a-project', `${label} is a folder, not an Instruct Edit project`);
        }
        size = info.size;
        if (size > limits.maxFileBytes) {
          throw new ProjectFileError(
            'too-large',
            `${label} is ${formatBytes(size)}, over the ${formatBytes(limits.maxFileBytes)} a project file may be`,
          );
        }
        handle = await open(input, 'r');
      } catch (error) {
        if (error instanceof ProjectFileError) throw error;
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') {
          throw new ProjectFileError('not-found', `${label} does not exist`, { cause: error });
        }
        throw new ProjectFileError('io', `Could not read ${label}: ${ioReason(error)}`, { cause: error });
      }
      source = fileSource(handle, size);
    } else {
      if (input.length > limits.maxFileBytes) {
        throw new ProjectFileError(
          'too-large',
          `${label} is ${formatBytes(input.length)}, over the ${formatBytes(limits.maxFileBytes)} a project file may be`,
        );
      }
      source = bytesSource(input);
    }
    head = await source.read(0, Math.min(16, source.size));
    return await body(source, label, limits);
  } catch (error) {
    if (error instanceof ProjectFileError) throw error;
    if (error instanceof ZipError) throw zipToProjectError(error, label, head);
    if (error instanceof ManifestError) {
      throw new ProjectFileError(MANIFEST_CODES[error.code], `${label}: ${error.message}`, { cause: error });
    }
    if ((error as NodeJS.ErrnoException | null)?.code) {
      throw new ProjectFileError('io', `Could not read ${label}: ${ioReason(error)}`, { cause: error });
    }
    throw error;
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** What a manifest may hold where it is parsed in steps (json-in-steps.ts). */
const MANIFEST_JSON_LIMITS = { maxItems: LIMITS.manifestItems, maxDepth: LIMITS.wireDepth };

const KIND_KEY = Buffer.from('"kind"');
const EDIT_VALUE = Buffer.from('"edit"');
const isJsonSpace = (byte: number | undefined) =>
  byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;

/**
 * A `"kind": "edit"` pair outside a string can only be an edit layer's (strings hold quotes escaped,
 * pixel entries are rgb or gray, and the schema allows no other keys), so more of them than the
 * layer limit is a manifest the schema would refuse: refused here, on the raw bytes, without decoding
 * and parsing megabytes of JSON on the event loop first.
 */
function refuseTooManyLayers(bytes: Uint8Array, label: string): void {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let count = 0;
  for (let at = text.indexOf(KIND_KEY); at >= 0; at = text.indexOf(KIND_KEY, at + KIND_KEY.length)) {
    let i = at + KIND_KEY.length;
    while (isJsonSpace(text[i])) i++;
    if (text[i] !== 0x3a) continue; // ':'
    i++;
    while (isJsonSpace(text[i])) i++;
    if (!text.subarray(i, i + EDIT_VALUE.length).equals(EDIT_VALUE)) continue;
    if (++count > LIMITS.layers) {
      throw new ProjectFileError(
        'schema',
        `${label}: project.json does not match the project schema: document.layers: more than the ${LIMITS.layers} layers a document may hold`,
      );
    }
  }
}

async function readManifest(
  source: ZipSource,
  label: string,
  limits: ProjectLimits,
): Promise<{ entries: Map<string, ZipEntry>; manifest: ProjectManifest; migratedFrom: number[] }> {
  const entries = await readZipDirectory(source);
  const entry = entries.get(MANIFEST_ENTRY);
  if (!entry) {
    throw new ProjectFileError(
      'not-a-project',
      `${label} is a zip archive but not an Instruct Edit project: it has no ${MANIFEST_ENTRY}`,
    );
  }
  if (entry.size > limits.maxManifestBytes) {
    throw new ProjectFileError(
      'too-large',
      `${label}: ${MANIFEST_ENTRY} is ${formatBytes(entry.size)} uncompressed, over the ${formatBytes(limits.maxManifestBytes)} limit`,
    );
  }
  const bytes = await readZipEntry(source, entry, { maxBytes: limits.maxManifestBytes });
  refuseTooManyLayers(bytes, label);
  let raw: unknown;
  try {
    // A large manifest (up to maxManifestBytes) is parsed a slice at a time.
    raw = await parseJsonInSteps(bytes, nextTurn, MANIFEST_JSON_LIMITS);
  } catch (error) {
    if (error instanceof JsonLimitError) {
      throw new ProjectFileError(
        'too-large',
        `${label}: ${MANIFEST_ENTRY} is too large to open: ${error.message}`,
        {
          cause: error,
        },
      );
    }
    if (!(error instanceof JsonSyntaxError)) throw error;
    throw new ProjectFileError(
      'corrupt',
      `${label} is damaged: ${MANIFEST_ENTRY} is not valid JSON (${(error as Error).message})`,
      { cause: error },
    );
  }
  // In steps: a manifest of a thousand layers takes the event loop ~0.1 s to validate in one go.
  const { manifest, migratedFrom } = await parseManifestInSteps(raw, nextTurn);
  return { entries, manifest, migratedFrom };
}

/** Reads only the manifest (validated and migrated), e.g. to compare savedAt without loading pixels. */
export async function readProjectManifest(
  input: string | Uint8Array,
  options: LoadProjectOptions = {},
): Promise<{ manifest: ProjectManifest; migratedFrom: number[] }> {
  return withSource(input, options, async (source, label, limits) => {
    const { manifest, migratedFrom } = await readManifest(source, label, limits);
    return { manifest, migratedFrom };
  });
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** The width and height in a PNG's IHDR chunk, or null when the bytes do not start like a PNG. */
function pngSize(png: Uint8Array): { width: number; height: number } | null {
  if (png.length < 24 || !PNG_SIGNATURE.every((b, i) => png[i] === b)) return null;
  const v = new DataView(png.buffer, png.byteOffset, png.byteLength);
  if (v.getUint32(12) !== 0x49484452) return null; // "IHDR"
  return { width: v.getUint32(16), height: v.getUint32(20) };
}

/**
 * Reads a project file (a path, or its bytes). Errors are ProjectFileErrors: 'not-found',
 * 'not-a-project' (not a zip, or a zip without project.json), 'corrupt' (truncated or damaged zip,
 * bad JSON, a PNG whose size, sha-256 or dimensions differ from the manifest), 'newer-version',
 * 'schema' (the manifest does not match the schema or contradicts itself), 'missing-pixels' (a
 * listed PNG is absent; the message names them), 'too-large', 'io'.
 */
export async function loadProject(
  input: string | Uint8Array,
  options: LoadProjectOptions = {},
): Promise<LoadedProject> {
  return withSource(input, options, async (source, label, limits) => {
    const { entries, manifest, migratedFrom } = await readManifest(source, label, limits);
    const listed = Object.entries(manifest.pixels);
    const missing = listed.filter(([, p]) => !entries.has(p.file)).map(([, p]) => p.file);
    if (missing.length > 0) {
      throw new ProjectFileError(
        'missing-pixels',
        `${label} is incomplete: ${missing.length === 1 ? 'the image' : `${missing.length} images`} ${missing
          .slice(0, 5)
          .join(
            ', ',
          )}${missing.length > 5 ? ', …' : ''} listed in ${MANIFEST_ENTRY} ${missing.length === 1 ? 'is' : 'are'} missing`,
      );
    }
    let total = (entries.get(MANIFEST_ENTRY) as ZipEntry).size;
    for (const [, p] of listed) {
      if (p.width * p.height > limits.maxImagePixels) {
        throw new ProjectFileError(
          'too-large',
          `${label}: ${p.file} is ${p.width}×${p.height}, over the ${limits.maxImagePixels.toLocaleString('en-US')}-pixel limit`,
        );
      }
      // A PNG is never much larger than its raw pixels (plus a filter byte per row, zlib's and the
      // chunks' framing): a bigger entry is refused here, before anything is inflated.
      const rawBytes = p.width * p.height * (p.kind === 'rgb' ? 3 : 1) + p.height;
      const pngLimit = Math.ceil(rawBytes * 1.02) + 1024 * 1024;
      const entrySize = (entries.get(p.file) as ZipEntry).size;
      if (entrySize > pngLimit || p.bytes > pngLimit) {
        throw new ProjectFileError(
          'corrupt',
          `${label} is damaged: ${p.file} is ${formatBytes(Math.max(entrySize, p.bytes))} for a ${p.width}×${p.height} image (at most ${formatBytes(pngLimit)})`,
        );
      }
      total += entrySize;
    }
    if (total > limits.maxTotalBytes) {
      throw new ProjectFileError(
        'too-large',
        `${label} holds ${formatBytes(total)} uncompressed, over the ${formatBytes(limits.maxTotalBytes)} limit`,
      );
    }
    const store = new PixelStore(options.storeOptions);
    for (const [ref, p] of listed) {
      const entry = entries.get(p.file) as ZipEntry;
      if (entry.size !== p.bytes) {
        throw new ProjectFileError(
          'corrupt',
          `${label} is damaged: ${p.file} is ${entry.size} bytes, the manifest says ${p.bytes}`,
        );
      }
      // The sha-256 below is stronger than the zip's CRC, and checked instead of it.
      const png = await readZipEntry(source, entry, { maxBytes: limits.maxTotalBytes, checkCrc: false });
      if ((await sha256HexInSteps(png)) !== p.sha256) {
        throw new ProjectFileError(
          'corrupt',
          `${label} is damaged: ${p.file} does not match its sha-256 checksum in the manifest`,
        );
      }
      const size = pngSize(png);
      if (!size || size.width !== p.width || size.height !== p.height) {
        throw new ProjectFileError(
          'corrupt',
          `${label} is damaged: ${p.file} ${size ? `is ${size.width}×${size.height}, the manifest says ${p.width}×${p.height}` : 'is not a PNG'}`,
        );
      }
      store.addPng(ref, { kind: p.kind, width: p.width, height: p.height }, png);
    }
    // The pixels themselves, against the hash that names them: a PNG swapped for another one (with
    // a manifest rewritten to match its file checksum) is refused now, not at some later export.
    for (const [ref] of listed) {
      try {
        await store.verify(ref);
      } catch (error) {
        if (error instanceof ProjectFileError)
          throw new ProjectFileError(error.code, `${label} is damaged: ${error.message}`, { cause: error });
        throw error;
      }
    }
    return {
      doc: manifestToDocument(manifest.document),
      store,
      migratedFrom,
      recovery: manifest.recovery,
      savedAt: manifest.savedAt,
      generator: manifest.generator,
      grids: manifest.grids,
    };
  });
}

function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}
