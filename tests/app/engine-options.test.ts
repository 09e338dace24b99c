/**
 * The app's memory budget and threads settings, from the contract call to the engine worker: an
 * old settings file gets the defaults, the worker is loaded with what the settings say, and an edit
 * the budget cannot hold fails with the engine's message naming the largest size that fits, in the
 * message the user sees. Real ONNX worker, generated tiny model.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAppCore, type AppCore } from '../../src/main/app/app-core';
import { createDocumentService } from '../../src/main/app/document-adapter';
import type { WorkerLauncher } from '../../src/main/app/engine-host';
import { createNodeLauncher } from '../../src/main/app/engine/node-launcher';
import type { HostToWorker } from '../../src/main/app/engine/protocol';
import { SettingsStore } from '../../src/main/app/settings-store';
import { makeTinyModel } from '../../src/main/engine/tiny-model/tiny-model';
import type { CallName } from '../../src/shared/contract/channels';
import type { CallResponse } from '../../src/shared/contract/schemas';
import { tempDir } from '../contract/helpers';

let modelDir: string;

beforeAll(async () => {
  modelDir = join(tempDir('engine-options-'), 'tiny');
  await makeTinyModel(modelDir, { flavor: 'diffusers', seed: 9 });
}, 60_000);

/** The worker launcher, recording every message the host sends it. */
function recordingLauncher(sent: HostToWorker[]): WorkerLauncher {
  const launch = createNodeLauncher({ engine: 'onnx' });
  return () => {
    const handle = launch();
    const send = handle.send.bind(handle);
    handle.send = (message) => {
      sent.push(message);
      send(message);
    };
    return handle;
  };
}

const cores: AppCore[] = [];
afterEach(async () => {
  for (const core of cores.splice(0)) await core.dispose();
});

function appCore(configDir: string, sent: HostToWorker[] = []): AppCore {
  const core = createAppCore({
    mode: 'browser',
    version: '0.0.0-test',
    configDir,
    launcher: recordingLauncher(sent),
    createDocuments: (engine) => createDocumentService(engine),
    checkResponses: true,
  });
  cores.push(core);
  return core;
}

async function call<N extends CallName>(core: AppCore, name: N, payload: unknown): Promise<CallResponse<N>> {
  const result = await core.dispatcher.dispatch(name, payload);
  if (!result.ok) throw new Error(`${name}: ${result.error.message}`);
  return result.value as CallResponse<N>;
}

function jobEnded(core: AppCore): Promise<{ status: string; error: string | null }> {
  return new Promise((resolve) => {
    const unsubscribe = core.bus.subscribe((name, payload) => {
      const update = payload as { status: string; error: string | null };
      if (name !== 'job.updated' || update.status === 'queued' || update.status === 'running') return;
      unsubscribe();
      resolve(update);
    });
  });
}

async function picture(side: number): Promise<Uint8Array> {
  const data = Buffer.alloc(side * side * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37) % 251;
  return new Uint8Array(
    await sharp(data, { raw: { width: side, height: side, channels: 3 } })
      .png()
      .toBuffer(),
  );
}

const edit = (resolution: '512' | 'native') => ({
  settings: {
    instruction: 'make it red',
    steps: 2,
    textGuidance: 7.5,
    imageGuidance: 1.5,
    seed: 5,
    scheduler: 'euler-ancestral',
    resolution,
  },
});

describe('app settings: memory for edits and threads', () => {
  it('an old settings file keeps its values and gets automatic memory and threads', () => {
    const dir = tempDir('old-settings-');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'settings.json'),
      JSON.stringify({
        provider: 'cpu',
        activeModelDir: null,
        models: [],
        editDefaults: {
          steps: 12,
          textGuidance: 7.5,
          imageGuidance: 1.5,
          scheduler: 'ddim',
          resolution: '512',
        },
        downloadRepo: 'owner/name',
      }),
    );
    const settings = new SettingsStore(dir).get();
    expect(settings.provider).toBe('cpu');
    expect(settings.editDefaults.steps).toBe(12);
    expect(settings.downloadRepo).toBe('owner/name');
    expect(settings.memoryBudgetGb).toBeNull();
    expect(settings.threads).toBeNull();
    expect(settings.optimizeDismissed).toEqual([]);
  });

  it('the worker loads with the settings; an edit over the budget fails naming the largest size that fits', async () => {
    const configDir = tempDir('config-');
    const sent: HostToWorker[] = [];
    const core = appCore(configDir, sent);
    const resources = await call(core, 'system.resources', {});
    expect(resources.cores).toBeGreaterThanOrEqual(1);
    expect(resources.freeMemoryBytes).toBeGreaterThan(0);
    expect(resources.freeMemoryBytes).toBeLessThanOrEqual(resources.totalMemoryBytes);

    const updated = await call(core, 'settings.update', { memoryBudgetGb: 0.5, threads: 1 });
    expect(updated).toMatchObject({ memoryBudgetGb: 0.5, threads: 1 });
    expect((await call(core, 'model.useFolder', { dir: modelDir })).state).toBe('ready');
    const loads = () => sent.filter((message) => message.type === 'load');
    expect(loads().at(-1)).toMatchObject({ options: { memoryBudget: 0.5 * 1024 ** 3, threads: 1 } });

    // A 64² picture in 512 mode is edited at 512×512: about 0.7 GB for this model's estimate.
    await call(core, 'document.openBytes', { name: 'photo.png', bytes: await picture(64) });
    let ended = jobEnded(core);
    const { messageId } = await call(core, 'edit.enqueue', edit('512'));
    const failure = await ended;
    expect(failure.status).toBe('failed');
    const shown = (await call(core, 'document.get', {}))!.messages.find((m) => m.id === messageId)!;
    expect(shown.status).toBe('failed');
    expect(shown.error).toMatch(
      /A 512×512 edit needs about .* of memory but the budget is 512 MB; the largest size that fits is 384×384/,
    );
    expect(failure.error).toBe(shown.error);

    // Within the budget at the picture's own size.
    ended = jobEnded(core);
    await call(core, 'edit.enqueue', edit('native'));
    expect((await ended).status).toBe('done');

    // Automatic memory: the model is reloaded with it and the 512² edit runs.
    const loadsBefore = loads().length;
    await call(core, 'settings.update', { memoryBudgetGb: null, threads: null });
    expect(loads().length).toBe(loadsBefore + 1);
    expect(loads().at(-1)).toMatchObject({ options: { memoryBudget: 'auto', threads: null } });
    ended = jobEnded(core);
    await call(core, 'edit.enqueue', edit('512'));
    expect(await ended).toMatchObject({ status: 'done', error: null });

    // Saved for the next start.
    await core.settings.flush();
    expect(new SettingsStore(configDir).get()).toMatchObject({ memoryBudgetGb: null, threads: null });
  }, 120_000);

  it('refuses budgets and thread counts outside the allowed range', async () => {
    const core = appCore(tempDir('config-'));
    for (const payload of [
      { memoryBudgetGb: 0.1 },
      { memoryBudgetGb: -1 },
      { threads: 0 },
      { threads: 1.5 },
    ]) {
      const result = await core.dispatcher.dispatch('settings.update', payload);
      expect(result.ok).toBe(false);
    }
    expect(core.settings.get()).toMatchObject({ memoryBudgetGb: null, threads: null });
  });
});
