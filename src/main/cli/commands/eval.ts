/**
 * `eval --model DIR [--clip DIR] --set FILE.jsonl [--out DIR] [--steps N] [--text-guidance F]
 *  [--image-guidance F] [--seed N] [--resolution 512|native] [--provider …] [--json]`
 *
 * Runs every line of a benchmark set through the single-edit path and reports, per line and averaged,
 * CLIP image similarity, CLIP-T and directional similarity (when the captions are given), and L1 / L2
 * to the target (when one is given; the target is resized to the result's processing size). Metrics
 * compare the result with the source as the model saw it (both at processing size).
 *
 * With --out the folder holds settings.json, one PNG per line (NNNN.png, the line number), results.jsonl
 * (appended as each line finishes) and summary.json; running the same command again skips the lines
 * already in results.jsonl, so an interrupted run resumes. Other settings for the same folder are refused.
 */
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DEFAULT_EDIT_SETTINGS, type EditSettings, type RgbImage } from '../../../shared/engine-types';
import { ClipModel, clipCandidates, findClipBeside } from '../../engine/clip/clip-model';
import { readEvalSet, type EvalLine } from '../../engine/clip/eval-set';
import { measureEdit, pixelDistances } from '../../engine/clip/metrics';
import { EditCancelledError } from '../../engine/errors';
import { decodeImage, encodePng, resizeRgb } from '../../engine/image-io';
import { InstructPix2PixPipeline } from '../../engine/pipeline';
import { writeFileAtomic } from '../../util/atomic-write';
import {
  optionalNumber,
  parseProvider,
  parseResolution,
  parseScheduler,
  requireString,
  UsageError,
} from '../args';
import { parseCommandArgs, type CliIo } from '../main';
import { humanReporter, jsonReporter } from '../progress';
import { abortOnInterrupt } from './edit';

const OPTIONS = {
  model: { type: 'string' },
  clip: { type: 'string' },
  set: { type: 'string' },
  out: { type: 'string' },
  steps: { type: 'string' },
  'text-guidance': { type: 'string' },
  'image-guidance': { type: 'string' },
  seed: { type: 'string' },
  scheduler: { type: 'string' },
  resolution: { type: 'string' },
  provider: { type: 'string' },
  json: { type: 'boolean' },
} as const;

const METRICS = ['imageSimilarity', 'clipT', 'directionalSimilarity', 'l1', 'l2'] as const;
type MetricName = (typeof METRICS)[number];

export interface EvalLineResult {
  line: number;
  image: string;
  instruction: string;
  output: string | null;
  width: number;
  height: number;
  imageSimilarity: number;
  clipT: number | null;
  directionalSimilarity: number | null;
  l1: number | null;
  l2: number | null;
  seconds: number;
}

/** Per metric: the mean over the lines that have it, and how many those are. */
export function averageMetrics(
  results: readonly EvalLineResult[],
): Record<MetricName, { mean: number | null; count: number }> {
  const out = {} as Record<MetricName, { mean: number | null; count: number }>;
  for (const name of METRICS) {
    const values = results.map((r) => r[name]).filter((v): v is number => typeof v === 'number');
    out[name] = {
      mean: values.length ? values.reduce((a, b) => a + b, 0) / values.length : null,
      count: values.length,
    };
  }
  return out;
}

async function readDone(path: string, lines: readonly EvalLine[]): Promise<Map<number, EvalLineResult>> {
  const done = new Map<number, EvalLineResult>();
  if (!existsSync(path)) return done;
  const byLine = new Map(lines.map((l) => [l.line, l]));
  const text = await readFile(path, 'utf8');
  const kept: string[] = [];
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    let result: EvalLineResult;
    try {
      result = JSON.parse(raw) as EvalLineResult;
    } catch {
      continue; // a record cut short by an interrupted write: that line runs again
    }
    kept.push(raw);
    const line = byLine.get(result.line);
    if (!line || line.instruction !== result.instruction || line.image !== result.image) {
      throw new UsageError(
        `${path} has a result for line ${result.line} that is not in this set (another set was run into this folder); choose another --out`,
      );
    }
    done.set(result.line, result);
  }
  // Drop cut-short records, so the records appended next start on a line of their own.
  const clean = kept.map((line) => `${line}\n`).join('');
  if (clean !== text) await writeFileAtomic(path, Buffer.from(clean));
  return done;
}

function fmt(value: number | null): string {
  return value === null ? '—' : value.toFixed(4);
}

export async function runEvalCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs(args, OPTIONS);
  const modelDir = resolve(requireString(values, 'model'));
  const clipDir =
    typeof values.clip === 'string' && values.clip !== '' ? resolve(values.clip) : findClipBeside(modelDir);
  if (!clipDir) {
    throw new UsageError(
      `--clip DIR is required: no CLIP export was found beside the model (looked in ${clipCandidates(modelDir).join(', ')})`,
    );
  }
  const setPath = resolve(requireString(values, 'set'));
  const out = typeof values.out === 'string' ? resolve(values.out) : undefined;
  const settings: Omit<EditSettings, 'instruction'> = {
    ...DEFAULT_EDIT_SETTINGS,
    steps:
      optionalNumber(values, 'steps', { integer: true, min: 1, max: 500 }) ?? DEFAULT_EDIT_SETTINGS.steps,
    textGuidance:
      optionalNumber(values, 'text-guidance', { min: 0, max: 50 }) ?? DEFAULT_EDIT_SETTINGS.textGuidance,
    imageGuidance:
      optionalNumber(values, 'image-guidance', { min: 0, max: 50 }) ?? DEFAULT_EDIT_SETTINGS.imageGuidance,
    // A fixed default seed, so two evaluations of the same model compare like with like.
    seed: optionalNumber(values, 'seed', { integer: true, min: 0, max: 0xffffffff }) ?? 0,
    scheduler: parseScheduler(values.scheduler) ?? DEFAULT_EDIT_SETTINGS.scheduler,
    resolution: parseResolution(values.resolution) ?? DEFAULT_EDIT_SETTINGS.resolution,
  };
  const provider = parseProvider(values.provider);
  const reporter = values.json ? jsonReporter((line) => io.stdout.write(line)) : humanReporter(io.stderr);
  const lines = await readEvalSet(setPath);

  let done = new Map<number, EvalLineResult>();
  if (out) {
    await mkdir(out, { recursive: true });
    const recorded = { set: setPath, model: modelDir, clip: clipDir, ...settings };
    const settingsPath = join(out, 'settings.json');
    if (existsSync(settingsPath)) {
      const before = JSON.parse(await readFile(settingsPath, 'utf8')) as Record<string, unknown>;
      const changed = Object.keys(recorded).filter(
        (key) => JSON.stringify(before[key]) !== JSON.stringify((recorded as Record<string, unknown>)[key]),
      );
      if (changed.length > 0) {
        throw new UsageError(
          `${out} holds a run with other settings (${changed.join(', ')} differ); resume with the same ones or choose another --out`,
        );
      }
    } else {
      await writeFile(settingsPath, `${JSON.stringify(recorded, null, 2)}\n`);
    }
    done = await readDone(join(out, 'results.jsonl'), lines);
  }
  const todo = lines.filter((l) => !done.has(l.line));
  reporter.event('start', { lines: lines.length, resumed: done.size, toRun: todo.length });
  if (done.size > 0) reporter.info(`Resuming: ${done.size} of ${lines.length} lines already done`);

  const results = new Map(done);
  if (todo.length > 0) {
    const pipeline = await InstructPix2PixPipeline.load(modelDir, { provider });
    let clip: ClipModel | undefined;
    const interrupt = abortOnInterrupt();
    try {
      clip = await ClipModel.load(clipDir, { provider });
      if (pipeline.info.providerNotice) reporter.info(pipeline.info.providerNotice);
      for (const [i, line] of todo.entries()) {
        reporter.info(`Line ${line.line} (${i + 1}/${todo.length}): ${line.instruction}`);
        const started = performance.now();
        const { image: source } = await decodeImage(line.image);
        const result = await pipeline.edit(
          source,
          { ...settings, instruction: line.instruction },
          { signal: interrupt.signal, onProgress: (p) => reporter.progress(p) },
        );
        reporter.done();
        const metrics = await measureEdit(clip, result.processedSource, result.image, {
          before: line.captionBefore,
          after: line.captionAfter,
        });
        let distances: { l1: number; l2: number } | null = null;
        if (line.target) {
          const { image: target } = await decodeImage(line.target);
          const sized: RgbImage = await resizeRgb(target, result.image.width, result.image.height);
          distances = pixelDistances(result.image, sized);
        }
        let output: string | null = null;
        if (out) {
          output = `${String(line.line).padStart(4, '0')}.png`;
          await writeFileAtomic(join(out, output), await encodePng(result.image));
        }
        const entry: EvalLineResult = {
          line: line.line,
          image: line.image,
          instruction: line.instruction,
          output,
          width: result.image.width,
          height: result.image.height,
          ...metrics,
          l1: distances?.l1 ?? null,
          l2: distances?.l2 ?? null,
          seconds: (performance.now() - started) / 1000,
        };
        if (out) await appendFile(join(out, 'results.jsonl'), `${JSON.stringify(entry)}\n`);
        results.set(line.line, entry);
        reporter.event('line', { ...entry });
        if (!values.json) {
          io.stderr.write(
            `  image similarity ${fmt(entry.imageSimilarity)}, CLIP-T ${fmt(entry.clipT)}, directional ${fmt(entry.directionalSimilarity)}, L1 ${fmt(entry.l1)}, L2 ${fmt(entry.l2)}\n`,
          );
        }
      }
    } catch (error) {
      reporter.done();
      if (error instanceof EditCancelledError) {
        throw new EditCancelledError(
          out ? `Cancelled; the finished lines are kept in ${out} and the next run resumes` : 'Cancelled',
        );
      }
      throw error;
    } finally {
      interrupt.release();
      await clip?.dispose();
      await pipeline.dispose();
    }
  }

  const ordered = lines.map((l) => results.get(l.line)).filter((r): r is EvalLineResult => r !== undefined);
  const summary = { lines: ordered.length, averages: averageMetrics(ordered), settings };
  if (out) await writeFile(join(out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  if (values.json) {
    io.stdout.write(`${JSON.stringify({ event: 'done', ...(out ? { out } : {}), ...summary })}\n`);
  } else {
    const a = summary.averages;
    io.stdout.write(
      [
        `${ordered.length} lines`,
        `CLIP image similarity (source vs result; 1 = unchanged): ${fmt(a.imageSimilarity.mean)}`,
        `CLIP-T (result vs caption_after; ${a.clipT.count} lines): ${fmt(a.clipT.mean)}`,
        `CLIP directional similarity (image change vs caption change; ${a.directionalSimilarity.count} lines): ${fmt(a.directionalSimilarity.mean)}`,
        `L1 / L2 to the target (0..1 scale; ${a.l1.count} lines): ${fmt(a.l1.mean)} / ${fmt(a.l2.mean)}`,
      ].join('\n') + '\n',
    );
  }
  return 0;
}
