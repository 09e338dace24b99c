/**
 * `export-pairs FILE.iedit… --out DIR [--quality 100]`: every edit layer's source and kept result at
 * the model's processing size, as training data (see document/training-pairs.ts for the layout).
 */
import { resolve } from 'node:path';
import { loadProject, readProjectManifest } from '../../document/project-file';
import { exportTrainingPairs, type PairSource } from '../../document/training-pairs';
import { optionalNumber, requireString, UsageError } from '../args';
import { parseCommandArgs, type CliIo } from '../main';

const OPTIONS = { out: { type: 'string' }, quality: { type: 'string' } } as const;

export async function runExportPairsCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, OPTIONS);
  if (positionals.length === 0) {
    throw new UsageError(
      'export-pairs needs at least one project file: cli export-pairs FILE.iedit… --out DIR',
    );
  }
  const out = resolve(requireString(values, 'out'));
  const quality = optionalNumber(values, 'quality', { integer: true, min: 1, max: 100 }) ?? 100;
  const paths = positionals.map((p) => resolve(p));
  if (paths.includes(out)) throw new UsageError('--out is one of the project files; choose a folder');
  // A file that is not a project is found before anything is written.
  for (const path of paths) await readProjectManifest(path);
  async function* projects(): AsyncGenerator<PairSource> {
    for (const path of paths) {
      const { doc, store } = await loadProject(path);
      yield { name: path, doc, store };
    }
  }
  const summary = await exportTrainingPairs(projects(), out, { quality });
  for (const line of summary.skipped) io.stderr.write(`skipped ${line}\n`);
  io.stderr.write(
    `Wrote ${summary.pairs.length} pairs in ${summary.folders} instruction folders to ${out}\n`,
  );
  io.stdout.write(
    `${JSON.stringify({ event: 'done', out, pairs: summary.pairs.length, folders: summary.folders, skipped: summary.skipped })}\n`,
  );
  return 0;
}
