/**
 * The optimiser offered in the app (issue #10 §2), at the model service level with the real ONNX
 * worker and generated tiny models: the offer, the optimised copy in <config>/optimized/<hash>/,
 * reused by a later load without being written again, edits from it equal to the original's, a
 * refusal that keeps the original and says why, a dismissal remembered per model, and a cancel.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAppCore, type AppCore } from '../../src/main/app/app-core';
import { EngineHost } from '../../src/main/app/engine-host';
import { createNodeLauncher } from '../../src/main/app/engine/node-launcher';
import { hashUnet } from '../../src/main/engine/optimize-into-cache';
import { makeTinyModel } from '../../src/main/engine/tiny-model/tiny-model';
import type { CallName } from '../../src/shared/contract/channels';
import type { CallResponse, ModelStatus } from '../../src/shared/contract/schemas';
import type { EditSettings, RgbImage } from '../../src/shared/engine-types';
import { tempDir } from '../contract/helpers';
import { breakFirstUnetAttention } from '../support/odd-attention';

let root: string;
let modelDir: string;

beforeAll(async () => {
  root = tempDir('optimize-offer-');
  modelDir = join(root, 'tiny');
  await makeTinyModel(modelDir, { flavor: 'diffusers', seed: 9 });
}, 60_000);

const disposers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const dispose of disposers.splice(0)) await dispose();
});

function appCore(configDir: string): AppCore {
  const core = createAppCore({
    mode: 'browser',
    version: '0.0.0-test',
    configDir,
    launcher: createNodeLauncher({ engine: 'onnx' }),
    checkResponses: true,
  });
  disposers.push(() => core.dispose());
  return core;
}

async function call<N extends CallName>(
  core: AppCore,
  name: N,
  payload: unknown = {},
): Promise<CallResponse<N>> {
  const result = await core.dispatcher.dispatch(name, payload);
  if (!result.ok) throw new Error(`${name}: ${result.error.message}`);
  return result.value as CallResponse<N>;
}

function statuses(core: AppCore): ModelStatus[] {
  const seen: ModelStatus[] = [];
  core.bus.subscribe((name, payload) => {
    if (name === 'model.status') seen.push(payload as ModelStatus);
  });
  return seen;
}

const source: RgbImage = {
  width: 64,
  height: 64,
  data: Uint8Array.from({ length: 64 * 64 * 3 }, (_, i) => (i * 29) % 253),
};
const settings: EditSettings = {
  instruction: 'make it red',
  steps: 3,
  textGuidance: 7.5,
  imageGuidance: 1.5,
  seed: 11,
  scheduler: 'euler-ancestral',
  resolution: 'native',
};

async function editPixels(dir: string): Promise<Uint8Array> {
  const host = new EngineHost({ launcher: createNodeLauncher({ engine: 'onnx' }) });
  try {
    await host.loadModel(dir, 'cpu');
    return (await host.edit(source, settings)).image.data;
  } finally {
    await host.dispose();
  }
}

describe('"Optimise for speed and memory" in the app', () => {
  it('writes the copy into the cache keyed by the UNet hash, loads it, and reuses it on the next load', async () => {
    const configDir = tempDir('config-');
    const core = appCore(configDir);
    const seen = statuses(core);
    const loaded = await call(core, 'model.useFolder', { dir: modelDir });
    expect(loaded.state).toBe('ready');
    expect(loaded.optimization).toMatchObject({ state: 'available', loadedDir: modelDir });

    const done = await call(core, 'model.optimize');
    const key = await hashUnet(modelDir);
    const copy = join(configDir, 'optimized', key);
    expect(done).toMatchObject({ state: 'ready', dir: modelDir });
    expect(done.optimization).toMatchObject({ state: 'cached', loadedDir: copy });
    expect(done.optimization?.message).toMatch(/Optimised: 14 attention blocks fused/);
    expect(existsSync(join(copy, 'unet', 'optimization.json'))).toBe(true);
    expect(JSON.parse(readFileSync(join(copy, 'unet', 'optimization.json'), 'utf8'))).toMatchObject({
      attentionRewritten: 14,
    });
    // Only the finished copy and the index are left in the cache.
    expect(readdirSync(join(configDir, 'optimized')).sort()).toEqual([key, 'index.json'].sort());
    const running = seen.filter((status) => status.optimization?.state === 'running');
    expect(running.length).toBeGreaterThan(0);
    expect(running.at(-1)!.optimization!.progress).toBeGreaterThan(0);
    // The engine runs the copy.
    expect(core.engine.modelInfo?.dir).toBe(copy);
    const written = statSync(join(copy, 'unet', 'model.onnx')).mtimeMs;
    await core.dispose();

    // A later start: the copy is found without optimising (or hashing) again.
    const again = appCore(configDir);
    const reloaded = await call(again, 'model.useFolder', { dir: modelDir });
    expect(reloaded.optimization).toMatchObject({ state: 'cached', loadedDir: copy });
    expect(reloaded.optimization?.message).toMatch(/Using the optimised copy/);
    expect(again.engine.modelInfo?.dir).toBe(copy);
    expect(statSync(join(copy, 'unet', 'model.onnx')).mtimeMs).toBe(written);

    // The same UNet in another folder has the same key: the copy is reused, not written again.
    const twin = join(root, 'twin');
    cpSync(modelDir, twin, { recursive: true });
    await call(again, 'model.useFolder', { dir: twin });
    expect((await call(again, 'model.status')).optimization?.state).toBe('available');
    const twinDone = await call(again, 'model.optimize');
    expect(twinDone.optimization).toMatchObject({ state: 'cached', loadedDir: copy });
    expect(twinDone.optimization?.message).toMatch(/Using the optimised copy/);
    expect(statSync(join(copy, 'unet', 'model.onnx')).mtimeMs).toBe(written);

    // Edits from the copy are the original's (uint8 pixels within 1, as the optimiser's own tests).
    const [original, optimised] = [await editPixels(modelDir), await editPixels(copy)];
    expect(optimised.length).toBe(original.length);
    let worst = 0;
    for (let i = 0; i < original.length; i++) worst = Math.max(worst, Math.abs(original[i]! - optimised[i]!));
    expect(worst).toBeLessThanOrEqual(1);
  }, 180_000);

  it('a refusal keeps the original loaded, says why and is not offered again', async () => {
    const odd = join(root, 'odd');
    await makeTinyModel(odd, { flavor: 'diffusers', seed: 9 });
    breakFirstUnetAttention(odd);

    const configDir = tempDir('config-');
    const core = appCore(configDir);
    expect((await call(core, 'model.useFolder', { dir: odd })).optimization?.state).toBe('available');
    const refused = await call(core, 'model.optimize');
    expect(refused.state).toBe('ready');
    expect(refused.optimization).toMatchObject({ state: 'refused', loadedDir: odd });
    expect(refused.optimization?.message).toMatch(
      /^The model was not optimised, the original stays in use: 1 of 14 attention blocks do not match a known export pattern exactly/,
    );
    expect(core.engine.modelInfo?.dir).toBe(odd);
    const cache = join(configDir, 'optimized');
    expect(existsSync(cache) ? readdirSync(cache) : []).toEqual([]);
    expect(core.settings.get().optimizeDismissed).toEqual([odd]);
    expect((await call(core, 'model.useFolder', { dir: odd })).optimization?.state).toBe('dismissed');
  }, 120_000);

  it('a dismissal is remembered for that model; a cancel leaves the offer', async () => {
    const configDir = tempDir('config-');
    const core = appCore(configDir);
    await call(core, 'model.useFolder', { dir: modelDir });
    // Cancelled before the worker starts on it: nothing is written.
    const pending = call(core, 'model.optimize');
    expect(await call(core, 'model.optimizeCancel')).toEqual({ cancelled: true });
    const cancelled = await pending;
    expect(cancelled.optimization).toMatchObject({ state: 'available', message: 'Optimising was cancelled' });
    expect(existsSync(join(configDir, 'optimized'))).toBe(false);

    const dismissed = await call(core, 'model.optimizeDismiss');
    expect(dismissed.optimization?.state).toBe('dismissed');
    await core.dispose();
    const again = appCore(configDir);
    expect((await call(again, 'model.useFolder', { dir: modelDir })).optimization?.state).toBe('dismissed');
    // Still available on request; a partial copy left by a worker killed mid-rewrite is cleared.
    const key = await hashUnet(modelDir);
    const cache = join(configDir, 'optimized');
    mkdirSync(join(cache, `${key}.partial-99999`, 'unet'), { recursive: true });
    expect((await call(again, 'model.optimize')).optimization?.state).toBe('cached');
    expect(readdirSync(cache).sort()).toEqual([key, 'index.json'].sort());
  }, 120_000);
});
