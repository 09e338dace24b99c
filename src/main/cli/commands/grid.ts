/**
 * `grid --model DIR --input IMAGE --instruction TEXT [--text-guidance 3,5,7.5] [--image-guidance 1,1.5,2]
 *  --output SHEET.png [--cells DIR] [--clip DIR] [--caption-before T] [--caption-after T] [--steps N]
 *  [--seed N] [--batch-rows N] [--json] …`
 *
 * One guidance grid (the engine's editGrid: one seed, every s_T × s_I pair) written as a labelled
 * contact sheet; with --cells each cell also as its own PNG, exactly what `edit` writes for that
 * cell's settings (resized back to the input's size). With a CLIP export (--clip, or one found
 * beside the model) each cell gets the paper's metrics against the source as the model saw it.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  type EditSettings,
  type GridCell,
  type GridResult,
  type GridSettings,
  type RgbImage,
} from '../../../shared/engine-types';
import { ClipModel, findClipBeside } from '../../engine/clip/clip-model';
import { editMetrics, type ClipEditMetrics } from '../../engine/clip/metrics';
import { EditCancelledError } from '../../engine/errors';
import { validateGridScales } from '../../engine/grid-by-cells';
import { decodeImage, encodePng, resizeRgb } from '../../engine/image-io';
import { InstructPix2PixPipeline } from '../../engine/pipeline';
import { writeFileAtomic } from '../../util/atomic-write';
import { ENGINE_OPTIONS, engineOptionsFromArgs, optionalNumber, requireString, UsageError } from '../args';
import { renderContactSheet, scaleLabel, type SheetRect } from '../contact-sheet';
import { parseCommandArgs, type CliIo } from '../main';
import { humanReporter, jsonReporter } from '../progress';
import { abortOnInterrupt, EDIT_OPTIONS, settingsFromArgs } from './edit';

const OPTIONS = {
  model: EDIT_OPTIONS.model,
  input: EDIT_OPTIONS.input,
  instruction: EDIT_OPTIONS.instruction,
  output: EDIT_OPTIONS.output,
  steps: EDIT_OPTIONS.steps,
  seed: EDIT_OPTIONS.seed,
  scheduler: EDIT_OPTIONS.scheduler,
  karras: EDIT_OPTIONS.karras,
  resolution: EDIT_OPTIONS.resolution,
  'text-guidance': { type: 'string' },
  'image-guidance': { type: 'string' },
  cells: { type: 'string' },
  clip: { type: 'string' },
  'caption-before': { type: 'string' },
  'caption-after': { type: 'string' },
  'batch-rows': { type: 'string' },
  ...ENGINE_OPTIONS,
  json: { type: 'boolean' },
} as const;

/** The app's default grid (issue #11): 5 × 5. */
export const DEFAULT_TEXT_SCALES = [3, 5, 7.5, 10, 12.5];
export const DEFAULT_IMAGE_SCALES = [1, 1.2, 1.5, 1.8, 2.2];

export interface GridCellReport {
  index: number;
  textIndex: number;
  imageIndex: number;
  textGuidance: number;
  imageGuidance: number;
  /** The cell's PNG under --cells, or null. */
  file: string | null;
  /** Where the cell is on the sheet (processing size, unscaled). */
  sheet: SheetRect;
  metrics: ClipEditMetrics | null;
  timings: GridCell['result']['timings'];
}

export interface GridReport {
  output: string;
  sheet: { width: number; height: number };
  settings: GridSettings;
  model: string;
  clip: string | null;
  captions: { before: string | null; after: string | null };
  processingWidth: number;
  processingHeight: number;
  cells: GridCellReport[];
  unetRows: number;
  unetRowsAlone: number;
  gridMs: number;
  metricsMs: number;
  totalMs: number;
}

function scaleList(values: Record<string, unknown>, name: string, fallback: number[]): number[] {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const parts = String(raw).split(',');
  const scales = parts.map((part) => Number(part.trim()));
  if (parts.some((part) => part.trim() === '') || scales.some((scale) => !Number.isFinite(scale))) {
    throw new UsageError(`--${name} takes numbers separated by commas (e.g. 3,5,7.5), got '${String(raw)}'`);
  }
  return scales;
}

function optionalText(values: Record<string, unknown>, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

function metricLines(metrics: ClipEditMetrics): string[] {
  const lines = [`image sim ${metrics.imageSimilarity.toFixed(3)}`];
  if (metrics.directionalSimilarity !== null)
    lines.push(`directional ${metrics.directionalSimilarity.toFixed(3)}`);
  if (metrics.clipT !== null) lines.push(`CLIP-T ${metrics.clipT.toFixed(3)}`);
  return lines;
}

/** The cell as `edit` writes it: at the input's size, with its settings as PNG text. */
async function cellPng(image: RgbImage, source: RgbImage, settings: EditSettings, model: string) {
  const output =
    image.width === source.width && image.height === source.height
      ? image
      : await resizeRgb(image, source.width, source.height);
  return encodePng(output, { 'instruct-edit:settings': JSON.stringify({ ...settings, model }) });
}

export async function runGridCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs(args, OPTIONS);
  const started = performance.now();
  const modelDir = requireString(values, 'model');
  const inputPath = requireString(values, 'input');
  const outputPath = requireString(values, 'output');
  if (resolve(outputPath) === resolve(inputPath)) {
    throw new UsageError('--output is the input image; choose another file so the original is kept');
  }
  // The shared fields as `edit` reads them; the two scales are lists here.
  const {
    textGuidance: _t,
    imageGuidance: _i,
    ...shared
  } = settingsFromArgs({
    ...values,
    'text-guidance': undefined,
    'image-guidance': undefined,
  });
  const settings: GridSettings = {
    ...shared,
    textScales: scaleList(values, 'text-guidance', DEFAULT_TEXT_SCALES),
    imageScales: scaleList(values, 'image-guidance', DEFAULT_IMAGE_SCALES),
  };
  validateGridScales(settings);
  const batchRows = optionalNumber(values, 'batch-rows', { integer: true, min: 1, max: 1024 });
  const captions = {
    before: optionalText(values, 'caption-before'),
    after: optionalText(values, 'caption-after'),
  };
  const clipDir = optionalText(values, 'clip') ?? findClipBeside(resolve(modelDir));
  if (!clipDir && (captions.before || captions.after)) {
    throw new UsageError('--caption-before / --caption-after need a CLIP model: give --clip DIR');
  }
  const cellsDir = optionalText(values, 'cells');
  const engineOptions = engineOptionsFromArgs(values);
  const reporter = values.json ? jsonReporter((line) => io.stdout.write(line)) : humanReporter(io.stderr);

  const { image: source, notices } = await decodeImage(inputPath);
  for (const notice of notices) reporter.info(notice);
  if (cellsDir) await mkdir(cellsDir, { recursive: true });
  const pipeline = await InstructPix2PixPipeline.load(modelDir, engineOptions);
  let clip: ClipModel | undefined;
  const interrupt = abortOnInterrupt();
  const files = new Map<number, string>();
  let writing: Promise<void> = Promise.resolve();
  try {
    // Loaded first so a broken CLIP folder fails before the grid runs, not after.
    if (clipDir) clip = await ClipModel.load(resolve(clipDir), { provider: engineOptions.provider });
    if (pipeline.info.providerNotice) reporter.info(pipeline.info.providerNotice);
    const cellCount = settings.textScales.length * settings.imageScales.length;
    reporter.event('start', {
      seed: settings.seed,
      provider: pipeline.info.provider,
      cells: cellCount,
      clip: clipDir ?? null,
    });

    let result: GridResult;
    try {
      result = await pipeline.editGrid(source, settings, {
        signal: interrupt.signal,
        ...(batchRows === undefined ? {} : { batchRows }),
        onProgress: (progress) =>
          reporter.progress({
            step: progress.stepsDone - 1,
            totalSteps: progress.totalSteps,
            stepMs: progress.elapsedMs / progress.stepsDone,
            elapsedMs: progress.elapsedMs,
          }),
        onCell: (cell) => {
          reporter.event('cell', {
            index: cell.index,
            textGuidance: cell.textGuidance,
            imageGuidance: cell.imageGuidance,
          });
          if (!cellsDir) return;
          const name = `cell-${String(cell.index).padStart(2, '0')}-t${scaleLabel(cell.textGuidance)}-i${scaleLabel(cell.imageGuidance)}.png`;
          const path = join(cellsDir, name);
          files.set(cell.index, path);
          // Written as cells arrive, so a cancelled grid keeps the finished ones.
          writing = writing.then(async () =>
            writeFileAtomic(
              path,
              await cellPng(cell.result.image, source, cell.result.settings, pipeline.info.dir),
            ),
          );
        },
      });
    } finally {
      await writing;
    }
    reporter.done();
    const gridMs = performance.now() - started;

    const metricsStarted = performance.now();
    const metrics = new Map<number, ClipEditMetrics>();
    if (clip) {
      const processed = result.cells[0]!.result.processedSource;
      const [sourceImage] = await clip.embedImages([processed]);
      const texts = [captions.before, captions.after].filter((t): t is string => t !== undefined);
      const embedded = await clip.embedTexts(texts);
      for (const cell of result.cells) {
        const [resultImage] = await clip.embedImages([cell.result.image]);
        metrics.set(
          cell.index,
          editMetrics({
            sourceImage: sourceImage!,
            resultImage: resultImage!,
            ...(captions.before ? { captionBefore: embedded[0]! } : {}),
            ...(captions.after ? { captionAfter: embedded[captions.before ? 1 : 0]! } : {}),
          }),
        );
      }
    }
    const metricsMs = performance.now() - metricsStarted;

    const first = result.cells[0]!.result.image;
    const { png, layout } = await renderContactSheet(
      {
        title: `"${settings.instruction}" · seed ${settings.seed} · ${settings.steps} steps · ${settings.scheduler}`,
        textScales: settings.textScales,
        imageScales: settings.imageScales,
        cellWidth: first.width,
        cellHeight: first.height,
        linesPerCell: clip ? 1 + (captions.after ? 1 : 0) + (captions.before && captions.after ? 1 : 0) : 0,
        cells: result.cells.map((cell) => ({
          textIndex: cell.textIndex,
          imageIndex: cell.imageIndex,
          image: cell.result.image,
          lines: metrics.has(cell.index) ? metricLines(metrics.get(cell.index)!) : [],
        })),
      },
      { 'instruct-edit:grid': JSON.stringify({ ...settings, model: pipeline.info.dir }) },
    );
    await writeFileAtomic(outputPath, png);

    const report: GridReport = {
      output: outputPath,
      sheet: { width: layout.width, height: layout.height },
      settings,
      model: pipeline.info.dir,
      clip: clipDir ?? null,
      captions: { before: captions.before ?? null, after: captions.after ?? null },
      processingWidth: first.width,
      processingHeight: first.height,
      cells: result.cells.map((cell) => ({
        index: cell.index,
        textIndex: cell.textIndex,
        imageIndex: cell.imageIndex,
        textGuidance: cell.textGuidance,
        imageGuidance: cell.imageGuidance,
        file: files.get(cell.index) ?? null,
        sheet: layout.cellRect(cell.imageIndex, cell.textIndex),
        metrics: metrics.get(cell.index) ?? null,
        timings: cell.result.timings,
      })),
      unetRows: result.unetRows,
      unetRowsAlone: result.unetRowsAlone,
      gridMs,
      metricsMs,
      totalMs: performance.now() - started,
    };
    reporter.event('done', { ...report });
    if (!values.json) {
      io.stderr.write(
        `${report.cells.length} cells in ${(gridMs / 1000).toFixed(1)} s; UNet rows ${report.unetRows} ` +
          `(${report.unetRowsAlone} cell by cell)${cellsDir ? `; cells in ${cellsDir}` : ''}\n`,
      );
    }
    return 0;
  } catch (error) {
    reporter.done();
    if (error instanceof EditCancelledError) {
      throw new EditCancelledError(
        cellsDir
          ? `Cancelled; the ${files.size} finished cells are in ${cellsDir}, no sheet was written`
          : 'Cancelled; nothing was written',
      );
    }
    throw error;
  } finally {
    interrupt.release();
    await clip?.dispose();
    await pipeline.dispose();
  }
}
