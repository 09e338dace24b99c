import { makeTinyModel, REALISTIC_WIDTHS } from '../../engine/tiny-model/tiny-model';
import { UsageError } from '../args';
import { parseCommandArgs, type CliIo } from '../main';

const FLAVORS = ['diffusers', 'optimum-legacy', 'optimum'] as const;

export async function runMakeTinyModelCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    flavor: { type: 'string' },
    fp16: { type: 'boolean' },
    analytic: { type: 'boolean' },
    demo: { type: 'boolean' },
    realistic: { type: 'boolean' },
    seed: { type: 'string' },
  });
  const outDir = positionals[0];
  if (!outDir) throw new UsageError('make-tiny-model needs an output folder: cli make-tiny-model OUT_DIR');
  const flavor = values.flavor ?? 'optimum';
  if (!(FLAVORS as readonly unknown[]).includes(flavor)) {
    throw new UsageError(`--flavor must be one of ${FLAVORS.join(', ')}, got '${String(flavor)}'`);
  }
  if (values.analytic && values.demo)
    throw new UsageError('--analytic and --demo are two model kinds: pick one');
  const kind = values.demo ? 'demo' : values.analytic ? 'analytic' : 'random';
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  if (seed !== undefined && !Number.isInteger(seed))
    throw new UsageError(`--seed must be a whole number, got ${String(values.seed)}`);
  await makeTinyModel(outDir, {
    flavor: flavor as (typeof FLAVORS)[number],
    precision: values.fp16 ? 'float16' : 'float32',
    kind,
    ...(values.realistic ? { widths: REALISTIC_WIDTHS } : {}),
    ...(seed !== undefined ? { seed } : {}),
  });
  const what = kind === 'random' ? '' : ` ${kind}`;
  io.stdout.write(`Wrote a ${values.fp16 ? 'float16' : 'float32'} ${flavor}${what} model to ${outDir}\n`);
  return 0;
}
