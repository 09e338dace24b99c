import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EngineCrashedError, EngineHost, ModelLoadError, NoModelError } from '../../src/main/app/engine-host';
import { FAKE_ENGINE_FILE } from '../../src/main/app/engine/fake-engine';
import { createNodeLauncher } from '../../src/main/app/engine/node-launcher';
import { CANCELLED_ERROR_NAME, type EditSettings, type RgbImage } from '../../src/shared/engine-types';

function fakeModel(stepDelayMs = 10): string {
  const dir = mkdtempSync(join(tmpdir(), 'fake-model-'));
  writeFileSync(join(dir, FAKE_ENGINE_FILE), JSON.stringify({ stepDelayMs }));
  return dir;
}

const source: RgbImage = { width: 4, height: 4, data: new Uint8Array(48).fill(128) };
const settings = (instruction: string, steps = 5): EditSettings => ({
  instruction,
  steps,
  textGuidance: 7.5,
  imageGuidance: 1.5,
  seed: 1,
  scheduler: 'euler-ancestral',
  resolution: '512',
});

describe('EngineHost (fake engine in a child process)', () => {
  let host: EngineHost | undefined;
  afterEach(async () => {
    await host?.dispose();
    host = undefined;
  });

  it('loads, edits with progress, and reports the loader message for a wrong folder', async () => {
    host = new EngineHost({ launcher: createNodeLauncher({ engine: 'fake' }) });
    await expect(host.edit(source, settings('make it red'))).rejects.toBeInstanceOf(NoModelError);
    await expect(host.loadModel(mkdtempSync(join(tmpdir(), 'empty-')), 'cpu')).rejects.toThrow(
      ModelLoadError,
    );
    const info = await host.loadModel(fakeModel(), 'cpu');
    expect(info.provider).toBe('cpu');
    const steps: number[] = [];
    const result = await host.edit(source, settings('make it red'), {
      onProgress: (p) => steps.push(p.step),
    });
    expect(steps).toEqual([0, 1, 2, 3, 4]);
    expect(result.image.data).toBeInstanceOf(Uint8Array);
    expect(result.image.data[0]).toBeGreaterThan(result.image.data[1]!);
    expect(host.status().state).toBe('ready');
  });

  it('cancels a running edit', async () => {
    host = new EngineHost({ launcher: createNodeLauncher({ engine: 'fake' }) });
    await host.loadModel(fakeModel(50), 'cpu');
    const controller = new AbortController();
    const run = host.edit(source, settings('make it red', 100), {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.step === 2) controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: CANCELLED_ERROR_NAME });
    const next = await host.edit(source, settings('make it blue', 2));
    expect(next.image.width).toBe(4);
  });

  it('fails the job when the worker dies and restarts it for the next edit', async () => {
    host = new EngineHost({ launcher: createNodeLauncher({ engine: 'fake' }) });
    await host.loadModel(fakeModel(50), 'cpu');
    const firstPid = host.pid;
    const run = host.edit(source, settings('make it red', 100), {
      onProgress: (p) => {
        if (p.step === 1) process.kill(firstPid!, 'SIGKILL');
      },
    });
    await expect(run).rejects.toBeInstanceOf(EngineCrashedError);
    expect(host.status().state).toBe('crashed');
    const next = await host.edit(source, settings('make it green', 2));
    expect(next.image.width).toBe(4);
    expect(host.pid).not.toBe(firstPid);
  });
});
