import { defaultOptimizedDir, optimizeModelFolder } from '../../engine/optimizer';
import { UsageError } from '../args';
import { parseCommandArgs, type CliIo } from '../main';

/**
 * `cli optimize DIR [--out DIR2] [--provider P]`: a copy of the model with fused attention (and
 * float32 weights when a float16 model is for the CPU); DIR is not changed.
 */
export async function runOptimizeCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    out: { type: 'string' },
    provider: { type: 'string' },
  });
  const dir = positionals[0];
  if (!dir) throw new UsageError('optimize needs the model folder: cli optimize DIR [--out DIR2]');
  const outDir = typeof values.out === 'string' ? values.out : defaultOptimizedDir(dir);
  const provider = typeof values.provider === 'string' ? values.provider : 'cpu';
  const result = await optimizeModelFolder(dir, outDir, { provider });
  const vae = result.vaeAttentionRewritten > 0 ? ` and ${result.vaeAttentionRewritten} in the VAE` : '';
  const converted =
    result.convertedToFloat32.length > 0
      ? `; float16 made float32 for the CPU in ${result.convertedToFloat32.join(', ')} ` +
        `(${result.castsRemoved} casts removed)`
      : '';
  io.stdout.write(
    `Wrote ${result.outDir}: ${result.attentionRewritten} attention blocks fused into ` +
      `com.microsoft.MultiHeadAttention${vae} (${result.nodesRemoved} UNet nodes fewer)${converted}, ` +
      `largest UNet difference from the original ${result.maxDifference.toExponential(1)}\n`,
  );
  return 0;
}
