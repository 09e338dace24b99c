import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTinyModel } from '../../src/main/engine/tiny-model/tiny-model';
import { cli } from './cli-helpers';

const root = mkdtempSync(join(tmpdir(), 'ip2p-cli-'));
const modelDir = join(root, 'model');
const inputPath = join(root, 'input.png');

beforeAll(async () => {
  await makeTinyModel(modelDir, { flavor: 'optimum' });
  // 100×70: not a multiple of 64, so the output must be resized back exactly.
  await sharp(Buffer.alloc(100 * 70 * 3, 90), { raw: { width: 100, height: 70, channels: 3 } })
    .png()
    .toFile(inputPath);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('cli edit', () => {
  it('writes the edit at the input size with its settings in PNG text, and JSON progress', async () => {
    const output = join(root, 'out.png');
    const { code, stdout, stderr } = await cli([
      'edit',
      '--model',
      modelDir,
      '--input',
      inputPath,
      '--instruction',
      'make it red',
      '--output',
      output,
      '--steps',
      '3',
      '--seed',
      '42',
      '--json',
    ]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const events = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(events.filter((e) => e.event === 'progress').map((e) => e.step)).toEqual([1, 2, 3]);
    const done = events.find((e) => e.event === 'done');
    expect(done).toMatchObject({
      output,
      seed: 42,
      width: 100,
      height: 70,
      processingWidth: 512,
      processingHeight: 384,
    });
    const meta = await sharp(output).metadata();
    expect([meta.width, meta.height, meta.channels]).toEqual([100, 70, 3]);
    const png = readFileSync(output).toString('latin1');
    expect(png).toContain('instruct-edit:settings');
    expect(png).toContain('"seed":42');
  });

  it('the same seed reproduces the same file; progress is human-readable without --json', async () => {
    const a = join(root, 'a.png');
    const b = join(root, 'b.png');
    const common = [
      'edit',
      '--model',
      modelDir,
      '--input',
      inputPath,
      '--instruction',
      'make it blue',
      '--steps',
      '2',
      '--seed',
      '5',
      '--resolution',
      'native',
    ];
    const first = await cli([...common, '--output', a]);
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(/\[#+-*\] 2\/2/);
    expect(first.stderr).toContain(`Wrote ${a}`);
    expect((await cli([...common, '--output', b])).code).toBe(0);
    const pixels = async (path: string) => (await sharp(path).raw().toBuffer()).toString('hex');
    expect(await pixels(a)).toBe(await pixels(b));
  });

  it('errors exit non-zero with a one-line reason and write nothing', async () => {
    const output = join(root, 'never.png');
    const missingModel = await cli([
      'edit',
      '--model',
      join(root, 'none'),
      '--input',
      inputPath,
      '--instruction',
      'x',
      '--output',
      output,
    ]);
    expect(missingModel.code).toBe(1);
    expect(missingModel.stderr).toMatch(/^error: Model folder not found: .*none\n$/);

    const badNumber = await cli([
      'edit',
      '--model',
      modelDir,
      '--input',
      inputPath,
      '--instruction',
      'x',
      '--output',
      output,
      '--steps',
      'ten',
    ]);
    expect(badNumber.code).toBe(2);
    expect(badNumber.stderr).toBe("error: --steps must be a number, got 'ten'\n");

    const badScheduler = await cli([
      'edit',
      '--model',
      modelDir,
      '--input',
      inputPath,
      '--instruction',
      'x',
      '--output',
      output,
      '--scheduler',
      'pndm',
    ]);
    expect(badScheduler.stderr).toMatch(/--scheduler must be one of euler-ancestral, euler, ddim, dpmpp-2m/);

    const notImage = join(root, 'notes.txt');
    writeFileSync(notImage, 'hello');
    const corrupt = await cli([
      'edit',
      '--model',
      modelDir,
      '--input',
      notImage,
      '--instruction',
      'x',
      '--output',
      output,
    ]);
    expect(corrupt.code).toBe(1);
    expect(corrupt.stderr.split('\n')).toHaveLength(2);
    expect(corrupt.stderr).toContain('notes.txt');

    const sameFile = await cli([
      'edit',
      '--model',
      modelDir,
      '--input',
      inputPath,
      '--instruction',
      'x',
      '--output',
      inputPath,
    ]);
    expect(sameFile.code).toBe(2);
    expect(sameFile.stderr).toMatch(/--output is the input image/);

    const unknown = await cli(['edit', '--bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/bogus/);
    expect(existsSync(output)).toBe(false);
  });
});

describe('cli memory options', () => {
  it('--memory-budget refuses an edit that cannot fit, naming the size that would; bad values are usage errors', async () => {
    const bigInput = join(root, 'big.png');
    await sharp(Buffer.alloc(1024 * 1024 * 3, 120), { raw: { width: 1024, height: 1024, channels: 3 } })
      .png()
      .toFile(bigInput);
    const output = join(root, 'too-big.png');
    const edit = (extra: string[]) =>
      cli([
        'edit',
        '--model',
        modelDir,
        '--input',
        bigInput,
        '--instruction',
        'x',
        '--output',
        output,
        ...extra,
      ]);
    const refused = await edit([
      '--memory-budget',
      '600MB',
      '--threads',
      '1',
      '--provider',
      'cpu',
      '--resolution',
      'native',
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^error: A 1024×1024 edit needs about [\d.]+ GB of memory but the budget is 600 MB; the largest size that fits is (\d+)×\1 /,
    );
    expect(existsSync(output)).toBe(false);

    const badBudget = await edit(['--memory-budget', 'plenty']);
    expect(badBudget.code).toBe(2);
    expect(badBudget.stderr).toMatch(/^error: --memory-budget: a memory budget looks like 6GB/);
    const badThreads = await edit(['--threads', '0']);
    expect(badThreads.code).toBe(2);
    expect(badThreads.stderr).toBe('error: --threads must be from 1 to 256, got 0\n');
  });
});

describe('cli inspect and make-tiny-model', () => {
  it('make-tiny-model writes a loadable fp16 diffusers folder that inspect describes', async () => {
    const dir = join(root, 'made');
    const made = await cli(['make-tiny-model', dir, '--flavor', 'diffusers', '--fp16']);
    expect(made.code).toBe(0);
    const inspected = await cli(['inspect', dir, '--provider', 'cpu']);
    expect(inspected.code).toBe(0);
    expect(inspected.stdout).toMatch(/Flavor: +diffusers/);
    expect(inspected.stdout).toMatch(/Precision: +float16/);
    expect(inspected.stdout).toMatch(/Provider: +cpu/);
    expect(inspected.stdout).toMatch(/in {2}timestep: float16 \[/);
    const json = await cli(['inspect', dir, '--provider', 'cpu', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({
      flavor: 'diffusers',
      precision: 'float16',
      unetInChannels: 8,
    });
  });

  it('rejects an unknown flavor', async () => {
    const result = await cli(['make-tiny-model', join(root, 'x'), '--flavor', 'onnxruntime']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--flavor must be one of diffusers, optimum-legacy, optimum/);
  });
});

describe('the npm script contract', () => {
  it('`npm run --silent cli -- edit …` prints JSON lines and exits 0', async () => {
    const output = join(root, 'npm.png');
    const { stdout } = await promisify(execFile)(
      'npm',
      [
        'run',
        '--silent',
        'cli',
        '--',
        'edit',
        '--model',
        modelDir,
        '--input',
        inputPath,
        '--instruction',
        'make it red',
        '--output',
        output,
        '--steps',
        '1',
        '--seed',
        '1',
        '--json',
      ],
      { cwd: process.cwd(), env: { ...process.env, npm_config_loglevel: 'silent' } },
    );
    const last = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(last).toMatchObject({ event: 'done', output, seed: 1 });
    expect((await sharp(output).metadata()).width).toBe(100);
  });
});
