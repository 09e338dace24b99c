import { makeTinyClipModel } from '../../engine/tiny-model/tiny-clip';
import { UsageError } from '../args';
import { parseCommandArgs, type CliIo } from '../main';

/** `make-tiny-clip OUT_DIR [--combined] [--analytic] [--seed N]`: a small CLIP export for tests and CI. */
export async function runMakeTinyClipCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    combined: { type: 'boolean' },
    analytic: { type: 'boolean' },
    seed: { type: 'string' },
  });
  const outDir = positionals[0];
  if (!outDir) throw new UsageError('make-tiny-clip needs an output folder: cli make-tiny-clip OUT_DIR');
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  if (seed !== undefined && !Number.isInteger(seed))
    throw new UsageError(`--seed must be a whole number, got ${String(values.seed)}`);
  const layout = values.combined ? 'combined' : 'split';
  const kind = values.analytic ? 'analytic' : 'random';
  await makeTinyClipModel(outDir, { layout, kind, ...(seed !== undefined ? { seed } : {}) });
  io.stdout.write(
    `Wrote a ${kind} CLIP (${layout === 'split' ? 'text_model.onnx + vision_model.onnx' : 'model.onnx'}) to ${outDir}\n`,
  );
  return 0;
}
