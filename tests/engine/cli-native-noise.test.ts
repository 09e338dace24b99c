/**
 * The CLI prints our messages alone: onnxruntime's warnings and Dawn's Vulkan warning are native
 * writes to the process's stderr, so the CLI runs in a child process here and its real stderr is read.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTinyModel } from '../../src/main/engine/tiny-model/tiny-model';

const ROOT = resolve(__dirname, '../..');
const root = mkdtempSync(join(tmpdir(), 'cli-noise-'));
const dir = join(root, 'model');

/** An initializer no node uses: onnxruntime loads the model and warns that it removes it. */
function addUnusedInitializer(modelPath: string): void {
  const { onnx } = onnxProto;
  const model = onnx.ModelProto.decode(readFileSync(modelPath));
  model.graph!.initializer!.push(
    onnx.TensorProto.create({
      name: 'unused_weight',
      dataType: onnx.TensorProto.DataType.FLOAT,
      dims: [2],
      floatData: [1, 2],
    }),
  );
  writeFileSync(modelPath, onnx.ModelProto.encode(model).finish());
}

async function runCliProcess(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const { stdout, stderr } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'src/main/cli/bin.ts'), ...args],
    { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } },
  );
  return { stdout, stderr };
}

beforeAll(async () => {
  await makeTinyModel(dir, { flavor: 'optimum' });
  addUnusedInitializer(join(dir, 'text_encoder/model.onnx'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('native log noise on the CLI', () => {
  it('inspect with --provider auto prints no onnxruntime warnings and no Vulkan warning', async () => {
    const { stdout, stderr } = await runCliProcess(['inspect', dir]);
    expect(stdout).toContain(`Model folder: ${dir}`);
    expect(stdout).toMatch(/Provider:\s+cpu/);
    expect(stderr).not.toContain('[W:onnxruntime');
    expect(stderr).not.toContain("Couldn't load Vulkan");
    expect(stderr.trim()).toBe('');
  });

  it('--verbose shows onnxruntime’s warnings', async () => {
    const { stdout, stderr } = await runCliProcess(['inspect', dir, '--verbose']);
    expect(stdout).toContain(`Model folder: ${dir}`);
    expect(stderr).toMatch(/\[W:onnxruntime:.*Removing initializer 'unused_weight'/);
  });
});
