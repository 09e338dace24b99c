import { resolve } from 'node:path';
import { DEFAULT_EDIT_SETTINGS, type EditSettings } from '../../../shared/engine-types';
import { EditCancelledError } from '../../engine/errors';
import { decodeImage, encodePng, resizeRgb } from '../../engine/image-io';
import { InstructPix2PixPipeline } from '../../engine/pipeline';
import { randomSeed } from '../../engine/rng';
import { writeFileAtomic } from '../../util/atomic-write';
import {
  ENGINE_OPTIONS,
  engineOptionsFromArgs,
  optionalNumber,
  parseResolution,
  parseScheduler,
  requireString,
  UsageError,
} from '../args';
import { parseCommandArgs, type CliIo } from '../main';
import { humanReporter, jsonReporter } from '../progress';
import { runProjectEdit } from './project';

export const EDIT_OPTIONS = {
  model: { type: 'string' },
  input: { type: 'string' },
  instruction: { type: 'string' },
  output: { type: 'string' },
  steps: { type: 'string' },
  'text-guidance': { type: 'string' },
  'image-guidance': { type: 'string' },
  seed: { type: 'string' },
  scheduler: { type: 'string' },
  karras: { type: 'boolean' },
  resolution: { type: 'string' },
  ...ENGINE_OPTIONS,
  json: { type: 'boolean' },
  project: { type: 'string' },
} as const;

/** Reads the edit settings shared by `edit` and the project commands; absent values take the defaults. */
export function settingsFromArgs(values: Record<string, unknown>): EditSettings {
  return {
    instruction: requireString(values, 'instruction'),
    steps:
      optionalNumber(values, 'steps', { integer: true, min: 1, max: 500 }) ?? DEFAULT_EDIT_SETTINGS.steps,
    textGuidance:
      optionalNumber(values, 'text-guidance', { min: 0, max: 50 }) ?? DEFAULT_EDIT_SETTINGS.textGuidance,
    imageGuidance:
      optionalNumber(values, 'image-guidance', { min: 0, max: 50 }) ?? DEFAULT_EDIT_SETTINGS.imageGuidance,
    seed: optionalNumber(values, 'seed', { integer: true, min: 0, max: 0xffffffff }) ?? randomSeed(),
    scheduler: parseScheduler(values.scheduler) ?? DEFAULT_EDIT_SETTINGS.scheduler,
    resolution: parseResolution(values.resolution) ?? DEFAULT_EDIT_SETTINGS.resolution,
    ...(values.karras ? { karrasSigmas: true } : {}),
  };
}

/** Cancels the run on Ctrl+C; a second Ctrl+C exits at once. */
export function abortOnInterrupt(): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  return { signal: controller.signal, release: () => process.off('SIGINT', onSigint) };
}

export async function runEditCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs(args, EDIT_OPTIONS);
  if (values.project !== undefined) return runProjectEdit(values, io);
  const modelDir = requireString(values, 'model');
  const inputPath = requireString(values, 'input');
  const outputPath = requireString(values, 'output');
  if (resolve(outputPath) === resolve(inputPath)) {
    throw new UsageError('--output is the input image; choose another file so the original is kept');
  }
  const settings = settingsFromArgs(values);
  const engineOptions = engineOptionsFromArgs(values);
  const reporter = values.json ? jsonReporter((line) => io.stdout.write(line)) : humanReporter(io.stderr);

  const { image: source, notices } = await decodeImage(inputPath);
  for (const notice of notices) reporter.info(notice);
  const pipeline = await InstructPix2PixPipeline.load(modelDir, engineOptions);
  const interrupt = abortOnInterrupt();
  try {
    if (pipeline.info.providerNotice) reporter.info(pipeline.info.providerNotice);
    reporter.event('start', {
      seed: settings.seed,
      provider: pipeline.info.provider,
      flavor: pipeline.info.flavor,
    });
    const result = await pipeline.edit(source, settings, {
      signal: interrupt.signal,
      onProgress: (progress) => reporter.progress(progress),
    });
    const output =
      result.image.width === source.width && result.image.height === source.height
        ? result.image
        : await resizeRgb(result.image, source.width, source.height);
    const png = await encodePng(output, {
      'instruct-edit:settings': JSON.stringify({ ...settings, model: pipeline.info.dir }),
    });
    await writeFileAtomic(outputPath, png);
    reporter.done();
    reporter.event('done', {
      output: outputPath,
      seed: settings.seed,
      width: output.width,
      height: output.height,
      processingWidth: result.image.width,
      processingHeight: result.image.height,
      timings: result.timings,
    });
    return 0;
  } catch (error) {
    reporter.done();
    if (error instanceof EditCancelledError) throw new EditCancelledError('Cancelled; nothing was written');
    throw error;
  } finally {
    interrupt.release();
    await pipeline.dispose();
  }
}
