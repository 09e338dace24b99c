import { parseArgs } from 'node:util';
import { setRuntimeLogLevel } from '../engine/backend';
import { runEditCommand } from './commands/edit';
import { runEvalCommand } from './commands/eval';
import { runExportPairsCommand } from './commands/export-pairs';
import { runGridCommand } from './commands/grid';
import { runInspectCommand } from './commands/inspect';
import { runMakeTinyClipCommand } from './commands/make-tiny-clip';
import { runMakeTinyModelCommand } from './commands/make-tiny-model';
import { runOptimizeCommand } from './commands/optimize';
import { runExportCommand, runInfoCommand, runRerunCommand, runRerunStaleCommand } from './commands/project';
import { UsageError } from './args';

const USAGE = `Usage:
  cli edit --model DIR --input IMAGE --instruction TEXT --output OUT.png
           [--steps 20] [--text-guidance 7.5] [--image-guidance 1.5] [--seed N]
           [--scheduler euler-ancestral|euler|ddim|dpmpp-2m] [--karras]
           [--resolution 512|native] [--provider auto|cpu|cuda|dml|coreml|webgpu] [--json]
           [--memory-budget 6GB|auto] [--threads N] (also on rerun and rerun-stale)
  cli make-tiny-model OUT_DIR [--flavor diffusers|optimum-legacy|optimum] [--fp16] [--analytic] [--realistic]
           [--demo] (--demo: a model whose edits tint the picture towards the instruction's colour word)
  cli edit ... --project FILE [--input IMAGE] [--output OUT.png]
           (appends the edit to the project as a new layer; creates it from --input if absent)
  cli rerun FILE --layer N [--text-guidance F] [--image-guidance F] [--seed N] [--steps N] [--model DIR]
  cli rerun-stale FILE [--model DIR]
  cli info FILE
  cli export FILE [--psd OUT.psd] [--png OUT.png]
  cli inspect DIR [--provider ...] [--json]
  cli export-pairs FILE.iedit... --out DIR [--quality 100]
           (every edit layer's source and kept result as training pairs: InstructPix2Pix dataset
           layout plus a metadata.jsonl for diffusers' train_instruct_pix2pix.py)
  cli make-tiny-clip OUT_DIR [--combined] [--analytic] (a small CLIP export for tests)
  cli eval --model DIR [--clip DIR] --set FILE.jsonl [--out DIR] [--steps N] [--text-guidance F]
           [--image-guidance F] [--seed 0] [--resolution 512|native] [--provider ...] [--json]
           (CLIP image similarity, CLIP-T, directional similarity, L1/L2 to targets; --out resumes;
           without --clip: a CLIP export in MODEL/clip, or ../clip-vit-large-patch14 or ../clip beside it)
  cli grid --model DIR --input IMAGE --instruction TEXT --output SHEET.png
           [--text-guidance 3,5,7.5,10,12.5] [--image-guidance 1,1.2,1.5,1.8,2.2] [--cells DIR]
           [--clip DIR] [--caption-before TEXT] [--caption-after TEXT] [--steps N] [--seed N]
           [--scheduler ...] [--resolution 512|native] [--batch-rows N] [--provider ...] [--json]
           (one seed, every s_T × s_I pair: a labelled contact sheet, each cell as edit writes it
           with --cells, CLIP metrics under each cell with a CLIP export)
  cli optimize DIR [--out DIR2] [--provider cpu|...]
           (a copy with the UNet's and the VAE's attention fused into com.microsoft.MultiHeadAttention
           and, for the CPU (default), a float16 model made float32; default DIR2 is DIR-optimized;
           refused, writing nothing, unless every attention matches exactly)
Every command: --verbose also shows onnxruntime's own warnings (by default only its errors).`;

export interface CliIo {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

export async function runCli(
  argv: string[],
  io: CliIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  // A flag for every command: onnxruntime's warnings go to stderr only when asked for.
  const verbose = argv.includes('--verbose');
  setRuntimeLogLevel(verbose ? 'warning' : 'error');
  const [command, ...rest] = argv.filter((arg) => arg !== '--verbose');
  try {
    switch (command) {
      case 'edit':
        return await runEditCommand(rest, io);
      case 'inspect':
        return await runInspectCommand(rest, io);
      case 'make-tiny-model':
        return await runMakeTinyModelCommand(rest, io);
      case 'optimize':
        return await runOptimizeCommand(rest, io);
      case 'rerun':
        return await runRerunCommand(rest, io);
      case 'rerun-stale':
        return await runRerunStaleCommand(rest, io);
      case 'info':
        return await runInfoCommand(rest, io);
      case 'export':
        return await runExportCommand(rest, io);
      case 'make-tiny-clip':
        return await runMakeTinyClipCommand(rest, io);
      case 'eval':
        return await runEvalCommand(rest, io);
      case 'export-pairs':
        return await runExportPairsCommand(rest, io);
      case 'grid':
        return await runGridCommand(rest, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout.write(`${USAGE}\n`);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command '${command}'\n${USAGE}`);
    }
  } catch (error) {
    return reportError(error, io, rest.includes('--json'));
  }
}

function reportError(error: unknown, io: CliIo, json: boolean): number {
  const name = error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  const oneLine = message.split('\n')[0] ?? message;
  if (json) io.stdout.write(`${JSON.stringify({ event: 'error', kind: name, message })}\n`);
  io.stderr.write(`error: ${name === 'UsageError' ? message : oneLine}\n`);
  if (name === 'EditCancelledError') return 130;
  return name === 'UsageError' ? 2 : 1;
}

/** parseArgs with the CLI's conventions; unknown options are usage errors with the option named. */
export function parseCommandArgs<T extends NonNullable<Parameters<typeof parseArgs>[0]>['options']>(
  args: string[],
  options: T,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
    return {
      values: parsed.values as Record<string, string | boolean | undefined>,
      positionals: parsed.positionals,
    };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}
