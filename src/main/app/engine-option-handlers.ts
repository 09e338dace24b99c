/**
 * The calls of the memory / threads settings, the optimiser's offer (issue #10) and the app's
 * "Export training pairs…" (issue #11 §5).
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { availableParallelism, freemem, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { ContractError } from '../../shared/contract/errors';
import { buildZip, concatZip, type ZipInputEntry } from '../document/project-zip';
import { TrainingPairsError } from '../document/training-pairs';
import type { Handlers } from './dispatcher';
import type { DocumentService, TrainingPairsExport } from './document-service';
import type { HandlerContext } from './handlers';

type EngineOptionCall =
  | 'system.resources'
  | 'model.optimize'
  | 'model.optimizeCancel'
  | 'model.optimizeDismiss'
  | 'export.trainingPairs'
  | 'export.trainingPairsBytes';

function requireOpenDocument(ctx: HandlerContext): DocumentService {
  const documents = ctx.documents;
  if (!documents) throw new ContractError('unsupported', 'Documents are not available in this build');
  if (!documents.current()) throw new ContractError('conflict', 'No picture is open');
  return documents;
}

/** Refused before a folder is chosen or written when no edit has a result. */
function requirePairs(documents: DocumentService): void {
  if (!documents.current()?.messages.some((message) => message.variants.length > 0))
    throw new ContractError('conflict', 'No edit has a result yet: there are no training pairs to export');
}

async function writePairs(documents: DocumentService, outDir: string): Promise<TrainingPairsExport> {
  try {
    return await documents.exportTrainingPairs(outDir);
  } catch (error) {
    if (error instanceof TrainingPairsError) throw new ContractError('failed', error.message);
    throw error;
  }
}

/** A folder inside `chosen` that does not exist yet: name, name-2, name-3… */
async function freshFolder(chosen: string, name: string): Promise<string> {
  const taken = new Set(await readdir(chosen).catch(() => [] as string[]));
  if (taken.size === 0) return chosen;
  let candidate = name;
  for (let n = 2; taken.has(candidate); n++) candidate = `${name}-${n}`;
  return join(chosen, candidate);
}

/** Every file under `dir`, as zip entries under `prefix/` (JPEGs stored as they are). */
async function zipEntries(dir: string, prefix: string): Promise<ZipInputEntry[]> {
  const entries: ZipInputEntry[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const name = `${prefix}/${entry.name}`;
    if (entry.isDirectory()) entries.push(...(await zipEntries(path, name)));
    else entries.push({ name, data: await readFile(path), level: entry.name.endsWith('.jpg') ? 0 : 6 });
  }
  return entries.sort((a, b) => (a.name < b.name ? -1 : 1));
}

export function engineOptionHandlers(ctx: HandlerContext): Pick<Handlers, EngineOptionCall> {
  return {
    'system.resources': () => ({
      freeMemoryBytes: freemem(),
      totalMemoryBytes: totalmem(),
      cores: availableParallelism(),
    }),
    'model.optimize': () => ctx.models.optimize(),
    'model.optimizeCancel': () => ({ cancelled: ctx.models.cancelOptimize() }),
    'model.optimizeDismiss': () => ctx.models.dismissOptimize(),
    'export.trainingPairs': async () => {
      const documents = requireOpenDocument(ctx);
      requirePairs(documents);
      if (!ctx.dialogs?.chooseExportFolder)
        throw new ContractError('unsupported', 'Folder dialogs are only available in the desktop app');
      const chosen = await ctx.dialogs.chooseExportFolder('Choose a folder for the training pairs');
      if (!chosen) return { path: null, pairs: 0, skipped: [] };
      // The folder comes from the dialog, never from the renderer: nothing to check or grant.
      const outDir = await freshFolder(chosen, documents.trainingPairsName());
      const written = await writePairs(documents, outDir);
      return { path: outDir, ...written };
    },
    'export.trainingPairsBytes': async () => {
      const documents = requireOpenDocument(ctx);
      requirePairs(documents);
      const name = documents.trainingPairsName();
      const scratch = await mkdtemp(join(tmpdir(), 'instruct-edit-pairs-'));
      try {
        await writePairs(documents, join(scratch, name));
        const bytes = concatZip(buildZip(await zipEntries(join(scratch, name), name)));
        return { name: `${name}.zip`, mime: 'application/zip', bytes };
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    },
  };
}
