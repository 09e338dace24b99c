/**
 * Kept edits as training data. For every edit layer with a result, the pair (what the model was given,
 * what it made) at the model's processing size, written in the layout of InstructPix2Pix's released
 * dataset, which its training code (edit_dataset.py) reads:
 *   DIR/seeds.json                 [[folder, [seed, …]], …], folders sorted
 *   DIR/<folder>/prompt.json       {"edit": instruction}
 *   DIR/<folder>/seeds.json        [seed, …] of this folder
 *   DIR/<folder>/<seed>_0.jpg      the source as the model saw it
 *   DIR/<folder>/<seed>_1.jpg      the kept result
 *   DIR/<folder>/metadata.jsonl    one line per seed: its name (as in the file names), the edit
 *                                  settings (seed among them), model, project and layer
 * with one folder per distinct instruction (named 0000000, 0000001, … in order of first appearance),
 * plus DIR/metadata.jsonl with the columns diffusers' train_instruct_pix2pix.py reads by default
 * (input_image, edit_prompt, edited_image; image paths relative to DIR).
 *
 * The source is the variant's recorded source (the composite below the layer when it ran) resized to
 * the processing size with the same resize the pipeline uses, so it is exactly the model's input; the
 * result is the model's output as stored. A seed already used in a folder (the same instruction and
 * seed in two layers) gets a suffix: "8", "8-2", "8-3" (the dataset's seeds are names, never split
 * on '-').
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from '../native/sharp';
import { activeVariant, orderedLayers, settingsOf, type DocumentRecord } from '../../shared/document';
import type { RgbImage } from '../../shared/engine-types';
import { resizeRgb } from '../engine/image-io';
import type { PixelStore } from './pixel-store';

export interface PairSource {
  /** How the project is named in metadata (its path). */
  name: string;
  doc: DocumentRecord;
  store: PixelStore;
}

export interface ExportedPair {
  folder: string;
  seed: string;
  instruction: string;
  project: string;
  /** 1 = the bottom edit layer. */
  layer: number;
  width: number;
  height: number;
}

export interface TrainingPairsSummary {
  pairs: ExportedPair[];
  folders: number;
  /** Edit layers without a result (never run, or failed): "project: layer N (name)". */
  skipped: string[];
}

export interface ExportPairsOptions {
  /** JPEG quality (the paper's files were written at 100). */
  quality?: number;
}

export class TrainingPairsError extends Error {
  override name = 'TrainingPairsError';
}

async function jpeg(image: RgbImage, quality: number): Promise<Buffer> {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .jpeg({ quality, chromaSubsampling: '4:4:4' })
    .toBuffer();
}

async function requireEmptyFolder(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return mkdir(dir, { recursive: true }).then(() => undefined);
    if (code === 'ENOTDIR') throw new TrainingPairsError(`${dir} is a file, not a folder`);
    throw error;
  }
  if (entries.length > 0) {
    throw new TrainingPairsError(
      `${dir} is not empty; choose a new or empty folder so nothing is overwritten`,
    );
  }
}

export async function exportTrainingPairs(
  projects: Iterable<PairSource> | AsyncIterable<PairSource>,
  outDir: string,
  options: ExportPairsOptions = {},
): Promise<TrainingPairsSummary> {
  const quality = options.quality ?? 100;
  await requireEmptyFolder(outDir);
  const folders = new Map<string, { name: string; seeds: string[]; metadata: string[] }>();
  const pairs: ExportedPair[] = [];
  const skipped: string[] = [];
  const datasetLines: string[] = [];

  // One project at a time: a generator can load each when it is reached.
  for await (const project of projects) {
    const layers = orderedLayers(project.doc);
    for (let i = 0; i < layers.length; i++) {
      const layer = layers[i]!;
      const variant = activeVariant(layer);
      if (!variant) {
        skipped.push(`${project.name}: layer ${i + 1} (${layer.name}) has no result`);
        continue;
      }
      const instruction = variant.request.instruction;
      let folder = folders.get(instruction);
      if (!folder) {
        folder = { name: String(folders.size).padStart(7, '0'), seeds: [], metadata: [] };
        folders.set(instruction, folder);
        await mkdir(join(outDir, folder.name));
        await writeFile(
          join(outDir, folder.name, 'prompt.json'),
          `${JSON.stringify({ edit: instruction })}\n`,
        );
      }
      let seed = String(variant.request.seed);
      for (let n = 2; folder.seeds.includes(seed); n++) seed = `${variant.request.seed}-${n}`;
      folder.seeds.push(seed);

      const result = await project.store.getRgb(variant.result);
      const recorded = await project.store.getRgb(variant.source);
      const source = await resizeRgb(recorded, variant.processedWidth, variant.processedHeight);
      if (result.width !== source.width || result.height !== source.height) {
        throw new TrainingPairsError(
          `${project.name}: layer ${i + 1}'s result is ${result.width}×${result.height} but its processing size is ${source.width}×${source.height}`,
        );
      }
      const input = `${folder.name}/${seed}_0.jpg`;
      const edited = `${folder.name}/${seed}_1.jpg`;
      await writeFile(join(outDir, input), await jpeg(source, quality));
      await writeFile(join(outDir, edited), await jpeg(result, quality));
      folder.metadata.push(
        JSON.stringify({
          seed,
          settings: settingsOf(variant.request),
          placement: variant.request.placement,
          model: variant.request.model,
          project: project.name,
          layer: i + 1,
          layerName: layer.name,
          width: source.width,
          height: source.height,
        }),
      );
      datasetLines.push(
        JSON.stringify({ input_image: input, edit_prompt: instruction, edited_image: edited }),
      );
      pairs.push({
        folder: folder.name,
        seed,
        instruction,
        project: project.name,
        layer: i + 1,
        width: source.width,
        height: source.height,
      });
    }
  }

  const index: [string, string[]][] = [];
  for (const folder of folders.values()) {
    await writeFile(join(outDir, folder.name, 'seeds.json'), `${JSON.stringify(folder.seeds)}\n`);
    await writeFile(
      join(outDir, folder.name, 'metadata.jsonl'),
      folder.metadata.map((l) => `${l}\n`).join(''),
    );
    index.push([folder.name, folder.seeds]);
  }
  index.sort((a, b) => (a[0] < b[0] ? -1 : 1));
  await writeFile(join(outDir, 'seeds.json'), `${JSON.stringify(index)}\n`);
  await writeFile(join(outDir, 'metadata.jsonl'), datasetLines.map((l) => `${l}\n`).join(''));
  return { pairs, folders: folders.size, skipped };
}
