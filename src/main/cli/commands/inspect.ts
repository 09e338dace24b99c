import { InstructPix2PixPipeline } from '../../engine/pipeline';
import { parseProvider, UsageError } from '../args';
import { parseCommandArgs, type CliIo } from '../main';

export async function runInspectCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    provider: { type: 'string' },
    json: { type: 'boolean' },
  });
  const dir = positionals[0];
  if (!dir) throw new UsageError('inspect needs the model folder: cli inspect DIR');
  const pipeline = await InstructPix2PixPipeline.load(dir, { provider: parseProvider(values.provider) });
  try {
    const info = pipeline.info;
    if (values.json) {
      io.stdout.write(`${JSON.stringify(info)}\n`);
      return 0;
    }
    const lines = [
      `Model folder: ${info.dir}`,
      `Flavor:       ${info.flavor}`,
      `Precision:    ${info.precision}`,
      `Provider:     ${info.provider}${info.providerNotice ? ` (${info.providerNotice})` : ''}`,
      `UNet input channels: ${info.unetInChannels}`,
    ];
    for (const [component, io_] of Object.entries(info.components)) {
      lines.push(`${component}:`);
      for (const value of io_.inputs)
        lines.push(`  in  ${value.name}: ${value.type} [${value.shape.join(', ')}]`);
      for (const value of io_.outputs)
        lines.push(`  out ${value.name}: ${value.type} [${value.shape.join(', ')}]`);
    }
    io.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } finally {
    await pipeline.dispose();
  }
}
