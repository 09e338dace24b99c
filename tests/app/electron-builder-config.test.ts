/**
 * electron-builder.yml matches electron-builder's schema and unpacks the native modules from the
 * asar; per-platform associations, the Linux desktop entry, the macOS entitlements, the release workflow.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

  it('builds macOS for arm64 only (onnxruntime-node has no darwin/x64 binary)', () => {
    const mac = config.mac as { target: { target: string; arch: string[] }[] };
    expect(mac.target.map((entry) => entry.arch)).toEqual([['arm64']]);
    expect(existsSync(join(ROOT, 'node_modules/onnxruntime-node/bin/napi-v6/darwin/x64'))).toBe(false);
  });

  it('associates projects only on Windows, images only on macOS (as an alternate viewer) and Linux (Open With)', () => {
    type Association = { ext: string | string[]; name: string; role?: string; rank?: string };
    const associations = (platform: string) =>
      ((config[platform] as { fileAssociations?: Association[] }).fileAssociations ?? []).map((entry) => ({
        ext: ([] as string[]).concat(entry.ext),
        name: entry.name,
        role: entry.role,
        rank: entry.rank,
      }));
    expect(config.fileAssociations).toBeUndefined();
    expect(associations('win')).toEqual([
      { ext: ['iedit'], name: 'InstructEdit.Project', role: undefined, rank: undefined },
    ]);
    const mac = associations('mac');
    expect(mac.map((entry) => entry.ext)).toEqual([['iedit'], ['png', 'jpg', 'jpeg', 'webp', 'tif', 'tiff']]);
    expect(mac[1]).toMatchObject({ name: 'Instruct Edit image', role: 'Viewer', rank: 'Alternate' });
    expect(new Set(mac.map((entry) => entry.name)).size).toBe(mac.length);
    expect(associations('linux').map((entry) => entry.ext)).toEqual([['iedit']]);
  });

  it('writes a Linux desktop entry that passes file paths (%F) and lists the image types', async () => {
    const { LinuxTargetHelper } = require('app-builder-lib/out/targets/LinuxTargetHelper') as {
      LinuxTargetHelper: new (packager: unknown) => {
        computeDesktopEntry(options: unknown): Promise<string>;
      };
    };
    const linux = config.linux as { fileAssociations: unknown[] };
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { desktopName: string };
    const packager = {
      appInfo: { productName: 'Instruct Edit', sanitizedProductName: 'Instruct Edit', description: '' },
      executableName: 'instruct-edit',
      info: { metadata: { desktopName: pkg.desktopName } },
      fileAssociations: linux.fileAssociations,
      config,
      platformSpecificBuildOptions: linux,
    };
    const entry = await new LinuxTargetHelper(packager).computeDesktopEntry(linux);
    const lines = new Map(
      entry
        .split('\n')
        .filter((line) => line.includes('='))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    expect(lines.get('Exec')).toBe('"/opt/Instruct Edit/instruct-edit" %F');
    // Electron's app_id comes from desktopName; the entry must name the same class.
    expect(lines.get('StartupWMClass')).toBe('instruct-edit');
    expect(lines.get('MimeType')!.split(';').filter(Boolean).sort()).toEqual([
      'application/x-instruct-edit',
      'image/jpeg',
      'image/png',
      'image/tiff',
      'image/webp',
    ]);
  });

  it('installs the VC++ runtime from the Windows installer', () => {
    const nsis = config.nsis as { include: string };
    const script = readFileSync(join(ROOT, nsis.include), 'utf8');
    const bundled = (config.win as { extraResources: { from: string; to: string }[] }).extraResources;
    expect(bundled).toEqual([{ from: 'build/win/vc_redist.x64.exe', to: 'vc_redist.x64.exe' }]);
    expect(script).toContain('!macro customInstall');
    expect(script).toContain('"$INSTDIR\\resources\\vc_redist.x64.exe" /install /quiet /norestart');
    expect(script).toContain('SOFTWARE\\Microsoft\\VisualStudio\\14.0\\VC\\Runtimes\\x64');
  });

  const makensis = ['/usr/bin/makensis', '/usr/local/bin/makensis'].find((path) => existsSync(path));
  it.skipIf(!makensis)(
    'compiles the installer include with NSIS, warnings as errors (skipped: makensis absent)',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'nsis-'));
      try {
        // The include as electron-builder uses it: customInstall inserted in the install section.
        const script = [
          'Unicode true',
          `OutFile "${join(dir, 'installer.exe')}"`,
          'RequestExecutionLevel user',
          'InstallDir "$LOCALAPPDATA\\Programs\\Instruct Edit"',
          `!include "${join(ROOT, (config.nsis as { include: string }).include)}"`,
          'Section',
          '  !insertmacro customInstall',
          'SectionEnd',
        ].join('\n');
        writeFileSync(join(dir, 'installer.nsi'), script);
        const run = spawnSync(makensis!, ['-WX', '-V2', join(dir, 'installer.nsi')], { encoding: 'utf8' });
        expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
        expect(existsSync(join(dir, 'installer.exe'))).toBe(true);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('gives macOS builds only the entitlements V8 needs (no disable-library-validation)', () => {
    const plist = readFileSync(join(ROOT, 'build/entitlements.mac.plist'), 'utf8');
    const keys = [...plist.matchAll(/<key>([^<]+)<\/key>/g)].map((match) => match[1]);
    expect(keys).toEqual([
      'com.apple.security.cs.allow-jit',
      'com.apple.security.cs.allow-unsigned-executable-memory',
    ]);
  });

  it('keeps RunAsNode for the backend process, turns off NODE_OPTIONS and --inspect, and loads only an integrity-checked app.asar', () => {
    expect(config.electronFuses).toEqual({
      runAsNode: true,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
      grantFileProtocolExtraPrivileges: false,
    });
  });
});
