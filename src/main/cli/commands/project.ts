/**
 * Project commands on the same document code the app uses:
 *   edit ... --project FILE        append an edit layer (a new project from --input when FILE is absent)
 *   rerun FILE --layer N [...]     a new variant of edit layer N (1 = bottom), made active
 *   rerun-stale FILE               re-run stale layers bottom first
 *   info FILE                      layers, statuses and variants as JSON
 *   export FILE [--psd OUT] [--png OUT]
 * The project file is written atomically and only after the work succeeded.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  activeVariant,
  orderedLayers,
  settingsOf,
  type DocumentRecord,
  type ModelRef,
} from '../../../shared/document';
import type { EditSettings } from '../../../shared/engine-types';
import { exportPng, exportPsd } from '../../document/export';
import { importImage } from '../../document/import';
import { loadProject, saveProject } from '../../document/project-file';
import { DocumentSession, type JobOutcome } from '../../document/session';
import { EditCancelledError } from '../../engine/errors';
import { InstructPix2PixPipeline } from '../../engine/pipeline';
import { writeFileAtomic } from '../../util/atomic-write';
import { ENGINE_OPTIONS, engineOptionsFromArgs, optionalNumber, requireString, UsageError } from '../args';
import { parseCommandArgs, type CliIo } from '../main';
import { humanReporter, jsonReporter, type ProgressReporter } from '../progress';
import { abortOnInterrupt, settingsFromArgs } from './edit';

const PACKAGE = { name: 'instruct-edit', version: '0.1.0' };

/** `edit --project FILE`: the edit becomes a new layer of the project. */
export async function runProjectEdit(values: Record<string, unknown>, io: CliIo): Promise<number> {
  const projectPath = resolve(requireString(values, 'project'));
  const settings = settingsFromArgs(values);
  const output = typeof values.output === 'string' ? values.output : undefined;
  if (output && resolve(output) === projectPath)
    throw new UsageError('--output is the project file; choose another file for the PNG');
  if (output && typeof values.input === 'string' && resolve(output) === resolve(values.input)) {
    throw new UsageError('--output is the input image; choose another file so the original is kept');
  }
  const reporter = makeReporter(values, io);
  const exists = existsSync(projectPath);
  let session: DocumentSession;
  if (exists) {
    session = await openProject(projectPath);
  } else {
    const input = requireString(values, 'input');
    const imported = await importImage(input);
    for (const notice of imported.notices) reporter.info(notice);
    session = DocumentSession.fromImage(imported);
  }
  const outcome = await withEngine(values, reporter, session, async (run) => {
    const { jobId, layerId } = session.enqueue(settings);
    return { outcome: await run(jobId), layerId };
  });
  await saveProject(projectPath, session.doc, session.store, { generator: PACKAGE });
  if (output) await writeFileAtomic(output, await exportPng(session.doc, session.store));
  const layers = orderedLayers(session.doc);
  reporter.event('done', {
    project: projectPath,
    created: !exists,
    layer: layers.findIndex((layer) => layer.id === outcome.layerId) + 1,
    seed: settings.seed,
    ...(output ? { output } : {}),
  });
  await session.dispose();
  return 0;
}

const RERUN_OPTIONS = {
  layer: { type: 'string' },
  model: { type: 'string' },
  ...ENGINE_OPTIONS,
  steps: { type: 'string' },
  'text-guidance': { type: 'string' },
  'image-guidance': { type: 'string' },
  seed: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** `rerun FILE --layer N`: a new variant with the layer's settings, changed by the options given. */
export async function runRerunCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, RERUN_OPTIONS);
  const projectPath = projectArg(positionals, 'rerun');
  const position = optionalNumber(values, 'layer', { integer: true });
  if (position === undefined) throw new UsageError('--layer is required (1 = the bottom edit layer)');
  if (position < 1)
    throw new UsageError(`--layer must be 1 or more (1 = the bottom edit layer), got ${position}`);
  const reporter = makeReporter(values, io);
  const session = await openProject(projectPath);
  const count = orderedLayers(session.doc).length;
  if (position > count) {
    // A wrong --layer is a command-line mistake (exit code 2), found before the model loads.
    throw new UsageError(
      count === 0
        ? 'The project has no edit layers'
        : `There is no layer ${position}: the project has edit layers 1 to ${count}`,
    );
  }
  const layer = session.layerAt(position);
  const settings: EditSettings = { ...settingsOf(layer.request), ...overrides(values) };
  await withEngine(values, reporter, session, async (run) => {
    const { jobId } = session.enqueue(settings, { rerunOf: layer.id });
    return { outcome: await run(jobId), layerId: layer.id };
  });
  await saveProject(projectPath, session.doc, session.store, { generator: PACKAGE });
  const stale = orderedLayers(session.doc)
    .map((entry, i) => (entry.status.state === 'stale' ? i + 1 : 0))
    .filter((i) => i > 0);
  reporter.event('done', {
    project: projectPath,
    layer: position,
    variants: session.layer(layer.id).variants.length,
    seed: settings.seed,
    staleLayers: stale,
  });
  await session.dispose();
  return 0;
}

const STALE_OPTIONS = {
  model: { type: 'string' },
  ...ENGINE_OPTIONS,
  json: { type: 'boolean' },
} as const;

export async function runRerunStaleCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, STALE_OPTIONS);
  const projectPath = projectArg(positionals, 'rerun-stale');
  const reporter = makeReporter(values, io);
  const session = await openProject(projectPath);
  const positions = new Map(orderedLayers(session.doc).map((layer, i) => [layer.id, i + 1]));
  let rerun: number[] = [];
  if (orderedLayers(session.doc).some((layer) => layer.status.state !== 'fresh')) {
    const results = await withEngine(values, reporter, session, async () => {
      const { rerun: outcomes } = await session.rerunStale();
      const failed = outcomes.find((entry) => entry.outcome !== 'done');
      return { outcome: failed?.outcome ?? 'done', layerId: failed?.layerId ?? '', outcomes };
    });
    rerun = results.outcomes.map((entry) => positions.get(entry.layerId) ?? 0);
  }
  // Nothing re-ran: the file is left as it was (not rewritten with a new save time).
  const saved = rerun.length > 0;
  if (saved) await saveProject(projectPath, session.doc, session.store, { generator: PACKAGE });
  else reporter.info('No layer is stale; the project is unchanged');
  reporter.event('done', { project: projectPath, rerunLayers: rerun, saved });
  await session.dispose();
  return 0;
}

export async function runInfoCommand(args: string[], io: CliIo): Promise<number> {
  const { positionals } = parseCommandArgs(args, {});
  const projectPath = projectArg(positionals, 'info');
  const session = await openProject(projectPath);
  io.stdout.write(`${JSON.stringify(projectInfo(session.doc), null, 2)}\n`);
  await session.dispose();
  return 0;
}

const EXPORT_OPTIONS = { psd: { type: 'string' }, png: { type: 'string' } } as const;

export async function runExportCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, EXPORT_OPTIONS);
  const projectPath = projectArg(positionals, 'export');
  const psd = typeof values.psd === 'string' ? values.psd : undefined;
  const png = typeof values.png === 'string' ? values.png : undefined;
  if (!psd && !png) throw new UsageError('export needs --psd OUT.psd and/or --png OUT.png');
  for (const out of [psd, png]) {
    if (out && resolve(out) === projectPath)
      throw new UsageError('an export cannot overwrite the project file');
  }
  const session = await openProject(projectPath);
  if (psd) await writeFileAtomic(psd, await exportPsd(session.doc, session.store));
  if (png) await writeFileAtomic(png, await exportPng(session.doc, session.store));
  io.stdout.write(`${JSON.stringify({ event: 'done', ...(psd ? { psd } : {}), ...(png ? { png } : {}) })}\n`);
  await session.dispose();
  return 0;
}

/** What `info` prints: the document, and each edit layer with its status and variants. */
export function projectInfo(doc: DocumentRecord) {
  return {
    width: doc.width,
    height: doc.height,
    base: { name: doc.base.name, notices: doc.base.origin.notices },
    layers: orderedLayers(doc).map((layer, i) => ({
      index: i + 1,
      id: layer.id,
      name: layer.name,
      instruction: layer.request.instruction,
      status: layer.status.state,
      reason: layer.status.reason,
      visible: layer.visible,
      opacity: layer.opacity,
      blendMode: layer.blendMode,
      hasMask: layer.mask !== null,
      activeVariant: activeVariant(layer)?.id ?? null,
      variants: layer.variants.map((variant) => ({
        id: variant.id,
        active: variant.id === layer.activeVariantId,
        settings: settingsOf(variant.request),
        model: variant.request.model,
        processedWidth: variant.processedWidth,
        processedHeight: variant.processedHeight,
        durationMs: variant.durationMs,
      })),
    })),
  };
}

// ---- Helpers ----------------------------------------------------------------------------------

function makeReporter(values: Record<string, unknown>, io: CliIo): ProgressReporter {
  if (values.json) return jsonReporter((line) => io.stdout.write(line));
  const human = humanReporter(io.stderr);
  return {
    ...human,
    // The summary names what was written: the project (when saved), and the PNG of --output.
    event: (name, fields) => {
      if (name !== 'done') return human.event(name, fields);
      if (typeof fields.project === 'string' && fields.saved !== false)
        io.stderr.write(`Saved ${fields.project}\n`);
      if (typeof fields.output === 'string') io.stderr.write(`Wrote ${fields.output}\n`);
    },
  };
}

function projectArg(positionals: string[], command: string): string {
  const [path, extra] = positionals;
  if (!path) throw new UsageError(`${command} needs the project file: cli ${command} FILE`);
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
  return resolve(path);
}

async function openProject(path: string): Promise<DocumentSession> {
  const { doc, store } = await loadProject(path);
  return new DocumentSession(doc, store, { path });
}

function overrides(values: Record<string, unknown>): Partial<EditSettings> {
  const out: Partial<EditSettings> = {};
  const steps = optionalNumber(values, 'steps', { integer: true, min: 1, max: 500 });
  const text = optionalNumber(values, 'text-guidance', { min: 0, max: 50 });
  const image = optionalNumber(values, 'image-guidance', { min: 0, max: 50 });
  const seed = optionalNumber(values, 'seed', { integer: true, min: 0, max: 0xffffffff });
  if (steps !== undefined) out.steps = steps;
  if (text !== undefined) out.textGuidance = text;
  if (image !== undefined) out.imageGuidance = image;
  if (seed !== undefined) out.seed = seed;
  return out;
}

/**
 * The model folder: --model, else the one the project's layers were made with (recorded as the
 * model id), so a project can be re-run on the machine that made it without naming it again.
 */
function modelDir(values: Record<string, unknown>, doc: DocumentRecord): string {
  if (typeof values.model === 'string' && values.model !== '') return resolve(values.model);
  for (const layer of orderedLayers(doc).reverse()) {
    const id = layer.request.model.id;
    if (id.startsWith('/') || /^[A-Za-z]:[\\/]/.test(id)) {
      if (existsSync(id) && statSync(id).isDirectory()) return id;
    }
  }
  throw new UsageError('--model DIR is required (the project does not name a model folder that exists here)');
}

/** Loads the model, runs `work` with a job runner that reports progress, and disposes the model. */
async function withEngine<T extends { outcome: JobOutcome; layerId: string }>(
  values: Record<string, unknown>,
  reporter: ProgressReporter,
  session: DocumentSession,
  work: (run: (jobId: string) => Promise<JobOutcome>) => Promise<T>,
): Promise<T> {
  const pipeline = await InstructPix2PixPipeline.load(
    modelDir(values, session.doc),
    engineOptionsFromArgs(values),
  );
  if (pipeline.info.providerNotice) reporter.info(pipeline.info.providerNotice);
  const model: ModelRef = {
    id: pipeline.info.dir,
    version: `${pipeline.info.flavor}/${pipeline.info.precision}`,
  };
  const engine = {
    edit: (...args: Parameters<InstructPix2PixPipeline['edit']>) => pipeline.edit(...args),
  };
  session.setEngine(engine);
  session.setModel(() => model);
  const interrupt = abortOnInterrupt();
  const errors = new Map<string, string>();
  const unsubscribe = session.subscribe({
    progress: ({ progress }) => reporter.progress(progress),
    job: (event) => {
      if (event.status === 'failed' && event.error) errors.set(event.layerId, event.error);
    },
  });
  const onAbort = () => session.cancelAll();
  interrupt.signal.addEventListener('abort', onAbort);
  try {
    reporter.event('start', { provider: pipeline.info.provider, flavor: pipeline.info.flavor });
    const result = await work(async (jobId) => (await session.waitFor(jobId)) ?? 'failed');
    if (result.outcome === 'cancelled')
      throw new EditCancelledError('Cancelled; the project was not changed');
    if (result.outcome === 'failed') {
      throw new Error(
        `The edit failed: ${errors.get(result.layerId) ?? 'unknown reason'}; the project was not changed`,
      );
    }
    return result;
  } finally {
    reporter.done();
    interrupt.signal.removeEventListener('abort', onAbort);
    interrupt.release();
    unsubscribe();
    session.setEngine(null);
    await pipeline.dispose();
  }
}
