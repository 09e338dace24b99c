/** electron-builder.yml matches electron-builder's schema and unpacks the native modules from the asar. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '../..');
const require = createRequire(__filename);

describe('electron-builder configuration', () => {
  const yaml = require('js-yaml') as { load(text: string): unknown };
  const config = yaml.load(readFileSync(join(ROOT, 'electron-builder.yml'), 'utf8')) as Record<
    string,
    unknown
  >;

  it('is valid for electron-builder', async () => {
    const { validateConfiguration } = require('app-builder-lib/out/util/config/config') as {
      validateConfiguration(config: unknown, logger: unknown): Promise<void>;
    };
    await expect(validateConfiguration(config, { add() {}, isEnabled: false })).resolves.toBeUndefined();
  });

  it('targets nsis, dmg, AppImage and deb and unpacks native modules', () => {
    const targets = (platform: string) =>
      ((config[platform] as { target: { target: string }[] }).target ?? []).map((entry) => entry.target);
    expect(targets('win')).toEqual(['nsis']);
    expect(targets('mac')).toEqual(['dmg']);
    expect(targets('linux')).toEqual(['AppImage', 'deb']);
    const unpacked = config.asarUnpack as string[];
    for (const pattern of ['node_modules/onnxruntime-node/**', 'node_modules/sharp/**', '**/*.node'])
      expect(unpacked).toContain(pattern);
    expect((config.extraMetadata as { main: string }).main).toBe('out/main/index.js');
  });
});
