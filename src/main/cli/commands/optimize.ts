import { defaultOptimizedDir, optimizeModelFolder } from '../../engine/optimizer';
import { UsageError } from '../args';
import { parseCommandArgs, type CliIo } from '../main';

/** `cli optimize DIR [--out DIR2]`: a copy of the model with fused attention; DIR is not changed. */
export async function runOptimizeCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, { out: { type: 'string' } });
  const dir = positionals[0];
  if (!dir) throw new UsageError('optimize needs the model folder: cli optimize DIR [--out DIR2]');
  const outDir = typeof values.out === 'string' ? values.out : defaultOptimizedDir(dir);
  const result = await optimizeModelFolder(dir, outDir);
  io.stdout.write(
    `Wrote ${result.outDir}: ${result.attentionRewritten} attention blocks fused into ` +
      `com.microsoft.MultiHeadAttention (${result.nodesRemoved} nodes fewer), ` +
      `largest difference from the original ${result.maxDifference.toExponential(1)}\n`,
  );
  return 0;
}
