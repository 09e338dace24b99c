/**
 * The GitHub Actions release workflow (it cannot run here): valid YAML of the shape Actions expects,
 * one job per OS building that OS's installer with this project's own scripts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '../..');
const require = createRequire(__filename);
const yaml = require('js-yaml') as { load(text: string): unknown };

interface Step {
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
}
interface Job {
  'runs-on': string;
  strategy: { 'fail-fast': boolean; matrix: { include: Record<string, string>[] } };
  steps: Step[];
}

describe('release workflow', () => {
  const workflow = yaml.load(readFileSync(join(ROOT, '.github/workflows/release.yml'), 'utf8')) as {
    name: string;
    on: Record<string, unknown>;
    jobs: Record<string, Job>;
  };
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const job = workflow.jobs.installers!;
  const runs = job.steps.map((step) => step.run ?? '').join('\n');

  it('builds Windows, macOS arm64 and Linux, each on its own runner, with the matching dist script', () => {
    expect(Object.keys(workflow.on).sort()).toEqual(['push', 'workflow_dispatch']);
    expect(job['runs-on']).toBe('${{ matrix.os }}');
    const matrix = job.strategy.matrix.include.map((entry) => [entry.os, entry.dist]);
    expect(matrix).toEqual([
      ['windows-latest', 'dist:win'],
      ['macos-14', 'dist:mac'], // Apple silicon runners
      ['ubuntu-latest', 'dist:linux'],
    ]);
    for (const [, dist] of matrix) expect(pkg.scripts[dist!]).toMatch(/electron-builder --(win|mac|linux)$/);
    expect(runs).toContain('npm run ${{ matrix.dist }} -- --publish never');
    // Unsigned macOS builds are signed ad hoc, without the hardened runtime (see the entitlements).
    expect(runs).toContain('unsigned=(-c.mac.identity=- -c.mac.hardenedRuntime=false)');
  });

  it('installs with npm ci on a Node the project supports, and runs checks and tests first', () => {
    const setupNode = job.steps.find((step) => step.uses?.startsWith('actions/setup-node@'));
    expect(setupNode?.with?.['node-version']).toBe('22.x');
    expect(runs).toContain('npm ci');
    const order = ['npm ci', 'npm run typecheck', 'npx vitest run', 'npm run ${{ matrix.dist }}'].map(
      (command) => runs.indexOf(command),
    );
    expect(order.every((index) => index >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    for (const file of runs.match(/tests\/\S+\.test\.ts/g) ?? [])
      expect(existsSync(join(ROOT, file))).toBe(true);
  });

  it('fetches the VC++ runtime installer on Windows only, to the path electron-builder bundles', () => {
    const step = job.steps.find((candidate) => candidate.run?.includes('vc_redist'));
    expect(step?.if).toBe("runner.os == 'Windows'");
    expect(step?.run).toContain('-o build/win/vc_redist.x64.exe');
  });

  it('uploads each OS’s installers', () => {
    const upload = job.steps.find((step) => step.uses?.startsWith('actions/upload-artifact@'));
    expect(upload?.with).toMatchObject({ path: '${{ matrix.artifacts }}', 'if-no-files-found': 'error' });
    expect(job.strategy.matrix.include.map((entry) => entry.artifacts!.trim().split('\n'))).toEqual([
      ['dist/*.exe'],
      ['dist/*.dmg'],
      ['dist/*.AppImage', 'dist/*.deb'],
    ]);
  });
});
