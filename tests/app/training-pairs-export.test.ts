/**
 * "Export training pairs…" in the app (issue #11 §5): the open document's kept edits written as the
 * paper's dataset layout, into a folder chosen in a dialog (desktop) or as a zip download (browser),
 * read back with independent readers (unzip, sharp, JSON.parse).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { createAppCore, type AppCore } from '../../src/main/app/app-core';
import { createDocumentService } from '../../src/main/app/document-adapter';
import type { Dialogs } from '../../src/main/app/dialogs';
import { createNodeLauncher } from '../../src/main/app/engine/node-launcher';
import type { CallName } from '../../src/shared/contract/channels';
import type { CallResponse } from '../../src/shared/contract/schemas';
import { fakeModelDir, tempDir } from '../contract/helpers';

const cores: AppCore[] = [];
afterEach(async () => {
  for (const core of cores.splice(0)) await core.dispose();
});

function appCore(mode: 'electron' | 'browser', dialogs: Dialogs | null = null): AppCore {
  const core = createAppCore({
    mode,
    version: '0.0.0-test',
    configDir: tempDir('config-'),
    launcher: createNodeLauncher({ engine: 'fake' }),
    createDocuments: (engine) => createDocumentService(engine),
    dialogs,
    checkResponses: true,
    acceptTypedModelFolders: true,
  });
  cores.push(core);
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

function jobsDone(core: AppCore, count: number): Promise<void> {
  let seen = 0;
  return new Promise((resolve, reject) => {
    const unsubscribe = core.bus.subscribe((name, payload) => {
      const update = payload as { status: string; error: string | null };
      if (name !== 'job.updated' || update.status === 'queued' || update.status === 'running') return;
      if (update.status !== 'done') reject(new Error(`job ${update.status}: ${update.error}`));
      if (++seen === count) {
        unsubscribe();
        resolve();
      }
    });
  });
}

async function photo(): Promise<Uint8Array> {
  const data = Buffer.alloc(96 * 64 * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 13) % 200;
  return new Uint8Array(
    await sharp(data, { raw: { width: 96, height: 64, channels: 3 } })
      .png()
      .toBuffer(),
  );
}

const edit = (instruction: string, seed: number) => ({
  settings: {
    instruction,
    steps: 2,
    textGuidance: 7.5,
    imageGuidance: 1.5,
    seed,
    scheduler: 'euler-ancestral',
    resolution: 'native',
  },
});

/** Opens a picture and runs two edits ("make it blue" over "make it red"). */
async function editedDocument(core: AppCore): Promise<void> {
  await call(core, 'model.useFolder', { dir: fakeModelDir() });
  await call(core, 'document.openBytes', { name: 'beach.png', bytes: await photo() });
  const done = jobsDone(core, 2);
  await call(core, 'edit.enqueue', edit('make it red', 7));
  await call(core, 'edit.enqueue', edit('make it blue', 8));
  await done;
}

/** Reads an exported folder back: the dataset index, the prompts and the pictures' sizes and colours. */
async function readPairs(dir: string) {
  const index = JSON.parse(readFileSync(join(dir, 'seeds.json'), 'utf8')) as [string, string[]][];
  const lines = readFileSync(join(dir, 'metadata.jsonl'), 'utf8').trim().split('\n');
  const rows = lines.map((line) => JSON.parse(line) as Record<string, string>);
  const folders = [];
  for (const [folder, seeds] of index) {
    const prompt = JSON.parse(readFileSync(join(dir, folder, 'prompt.json'), 'utf8')) as { edit: string };
    const folderSeeds = JSON.parse(readFileSync(join(dir, folder, 'seeds.json'), 'utf8')) as string[];
    const pictures = [];
    for (const seed of seeds) {
      for (const suffix of ['0', '1']) {
        const { data, info } = await sharp(join(dir, folder, `${seed}_${suffix}.jpg`))
          .raw()
          .toBuffer({ resolveWithObject: true });
        let [r, g, b] = [0, 0, 0];
        for (let i = 0; i < data.length; i += 3)
          [r, g, b] = [r + data[i]!, g + data[i + 1]!, b + data[i + 2]!];
        const n = data.length / 3;
        pictures.push({
          name: `${seed}_${suffix}`,
          width: info.width,
          height: info.height,
          mean: [r / n, g / n, b / n],
        });
      }
    }
    folders.push({ folder, prompt: prompt.edit, seeds: folderSeeds, pictures });
  }
  return { index, rows, folders };
}

function checkPairs(pairs: Awaited<ReturnType<typeof readPairs>>): void {
  expect(pairs.index).toEqual([
    ['0000000', ['7']],
    ['0000001', ['8']],
  ]);
  expect(pairs.rows).toEqual([
    { input_image: '0000000/7_0.jpg', edit_prompt: 'make it red', edited_image: '0000000/7_1.jpg' },
    { input_image: '0000001/8_0.jpg', edit_prompt: 'make it blue', edited_image: '0000001/8_1.jpg' },
  ]);
  const [red, blue] = pairs.folders;
  expect(red).toMatchObject({ prompt: 'make it red', seeds: ['7'] });
  expect(blue).toMatchObject({ prompt: 'make it blue', seeds: ['8'] });
  for (const picture of [...red!.pictures, ...blue!.pictures])
    expect(picture).toMatchObject({ width: 96, height: 64 });
  // The fake engine tints towards the named colour: the results are red / blue, the sources are not.
  const [redSource, redResult] = red!.pictures;
  const [blueSource, blueResult] = blue!.pictures;
  expect(redResult!.mean[0]! - redResult!.mean[2]!).toBeGreaterThan(40);
  expect(Math.abs(redSource!.mean[0]! - redSource!.mean[2]!)).toBeLessThan(20);
  expect(blueResult!.mean[2]! - blueResult!.mean[0]!).toBeGreaterThan(40);
  // The blue edit ran on the red result: its source is red.
  expect(blueSource!.mean[0]! - blueSource!.mean[2]!).toBeGreaterThan(40);
}

describe('Export training pairs… in the app', () => {
  it('desktop: writes into the chosen folder (a new subfolder when it is not empty)', async () => {
    const chosen = tempDir('pairs-out-');
    writeFileSync(join(chosen, 'notes.txt'), 'already here');
    const core = appCore('electron', {
      openFile: async () => null,
      chooseModelFolder: async () => null,
      saveProject: async () => null,
      saveExport: async () => null,
      chooseExportFolder: async () => chosen,
    });
    await expect(core.dispatcher.dispatch('export.trainingPairs', {})).resolves.toMatchObject({
      ok: false,
      error: { code: 'conflict' },
    });
    await editedDocument(core);
    const saved = await call(core, 'export.trainingPairs');
    expect(saved).toEqual({ path: join(chosen, 'beach-training-pairs'), pairs: 2, skipped: [] });
    expect(readFileSync(join(chosen, 'notes.txt'), 'utf8')).toBe('already here');
    checkPairs(await readPairs(saved.path!));
    // A second export does not touch the first.
    const again = await call(core, 'export.trainingPairs');
    expect(again.path).toBe(join(chosen, 'beach-training-pairs-2'));
    expect(readdirSync(chosen).sort()).toEqual([
      'beach-training-pairs',
      'beach-training-pairs-2',
      'notes.txt',
    ]);
  }, 60_000);

  it('browser: a zip download with the same layout', async () => {
    const core = appCore('browser');
    await call(core, 'document.openBytes', { name: 'beach.png', bytes: await photo() });
    const refused = await core.dispatcher.dispatch('export.trainingPairsBytes', {});
    expect(refused).toMatchObject({ ok: false, error: { code: 'conflict' } });
    expect(refused.ok ? '' : refused.error.message).toMatch(/No edit has a result yet/);
    await editedDocument(core);
    const file = await call(core, 'export.trainingPairsBytes');
    expect(file).toMatchObject({ name: 'beach-training-pairs.zip', mime: 'application/zip' });
    const out = tempDir('pairs-zip-');
    writeFileSync(join(out, file.name), file.bytes);
    execFileSync('unzip', ['-q', join(out, file.name), '-d', join(out, 'unzipped')]);
    const dir = join(out, 'unzipped', 'beach-training-pairs');
    expect(existsSync(join(dir, 'seeds.json'))).toBe(true);
    checkPairs(await readPairs(dir));
  }, 60_000);
});
