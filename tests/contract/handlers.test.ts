/**
 * Every handler refuses malformed payloads (wrong types, unknown keys, huge strings, paths the user
 * did not choose) with an error envelope — never a crash, never a thrown exception.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CALL_NAMES, type CallName } from '../../src/shared/contract/channels';
import { CALLS } from '../../src/shared/contract/schemas';
import { fakeModelDir, tempDir, testCore, type TestCore } from './helpers';

const HUGE = 'x'.repeat(5 * 1024 * 1024);
const settings = {
  instruction: 'make it red',
  steps: 4,
  textGuidance: 7.5,
  imageGuidance: 1.5,
  seed: 3,
  scheduler: 'euler-ancestral',
  resolution: '512',
};

/** One valid payload per call: the base that the malformed variants are derived from. */
const VALID: Record<CallName, Record<string, unknown>> = {
  'app.info': {},
  'settings.get': {},
  'settings.update': {
    provider: 'cpu',
    editDefaults: { steps: 10 },
    downloadRepo: 'owner/name',
    memoryBudgetGb: 6,
    threads: 2,
  },
  'model.status': {},
  'model.useFolder': { dir: '/nonexistent/model' },
  'model.chooseFolder': {},
  'model.forget': { dir: '/nonexistent/model' },
  'model.download': { repo: 'owner/name', revision: 'main' },
  'model.downloadCancel': { downloadId: 'abc' },
  'engine.status': {},
  'document.get': {},
  'document.openPath': { path: '/nonexistent/picture.png' },
  'document.openBytes': { name: 'picture.png', bytes: new Uint8Array([1, 2, 3]) },
  'document.openDialog': {},
  'document.layerImage': { layerId: 'L1', what: 'pixels' },
  'layer.update': { layerId: 'L1', visible: false, opacity: 0.5, name: 'Layer' },
  'layer.move': { layerId: 'L1', toIndex: 0 },
  'layer.delete': { layerId: 'L1' },
  'mask.set': { layerId: 'L1', width: 1, height: 1, data: new Uint8Array([255]) },
  'mask.invert': { layerId: 'L1' },
  'mask.clear': { layerId: 'L1' },
  'history.undo': {},
  'history.redo': {},
  'edit.enqueue': { settings },
  'edit.cancel': { jobId: 'j1' },
  'edit.rerunStale': {},
  'variant.pick': { messageId: 'm1', variantId: 'v1' },
  'project.save': {},
  'project.saveAs': {},
  'project.saveBytes': {},
  'export.toPath': { format: 'png', path: '/nonexistent/out.png' },
  'export.dialog': { format: 'psd' },
  'export.bytes': { format: 'png' },
  'recent.list': {},
  'recovery.list': {},
  'recovery.restore': { id: 'r1' },
  'recovery.discard': { id: 'r1' },
  'text.countTokens': { text: 'make it red' },
  'grid.start': { messageId: 'm1', textScales: [3, 7.5], imageScales: [1.5] },
  'grid.cancel': { gridId: 'g1' },
  'grid.get': { messageId: 'm1' },
  'grid.cellImage': { gridId: 'g1', cellIndex: 0 },
  'grid.keep': { gridId: 'g1', cellIndex: 0 },
  'clip.status': {},
  'clip.useFolder': { path: '/nonexistent/clip' },
  'clip.chooseFolder': {},
  'system.resources': {},
  'model.optimize': {},
  'model.optimizeCancel': {},
  'model.optimizeDismiss': {},
  'export.trainingPairs': {},
  'export.trainingPairsBytes': {},
};

function wrongValueFor(schema: z.ZodType, value: unknown): unknown[] {
  const wrong: unknown[] = [{ nested: true }, [1, 2]];
  if (typeof value === 'string') wrong.push(12345, HUGE, '');
  else if (typeof value === 'number') wrong.push('12', Number.NaN, 1e308, -1e308);
  else if (typeof value === 'boolean') wrong.push('true', 1);
  else if (value instanceof Uint8Array) wrong.push('AAAA', [1, 2, 3]);
  else wrong.push('text', 7);
  void schema;
  return wrong;
}

/** Malformed variants of a valid payload: not an object, unknown keys, each field wrong. */
function malformed(name: CallName): { label: string; payload: unknown }[] {
  const base = VALID[name];
  const out: { label: string; payload: unknown }[] = [
    { label: 'a number', payload: 42 },
    { label: 'a string', payload: 'hello' },
    { label: 'an array', payload: [base] },
    { label: 'an unknown key', payload: { ...base, unexpected: 1 } },
    { label: 'a huge unknown key', payload: { ...base, [HUGE.slice(0, 100_000)]: HUGE } },
  ];
  const request = CALLS[name].request as z.ZodType;
  const shape = request instanceof z.ZodObject ? (request.shape as Record<string, z.ZodType>) : {};
  for (const [key, value] of Object.entries(base)) {
    for (const wrong of wrongValueFor(shape[key] ?? request, value)) {
      // Some "wrong" values are valid for a field (e.g. '' is a fine downloadRepo? no: regex) — skip those.
      const candidate = { ...base, [key]: wrong };
      if (request.safeParse(candidate).success) continue;
      out.push({
        label: `${key} = ${typeof wrong === 'string' ? `string(${wrong.length})` : JSON.stringify(wrong)?.slice(0, 40)}`,
        payload: candidate,
      });
    }
  }
  if (name === 'edit.enqueue') {
    for (const [key, wrong] of [
      ['instruction', HUGE],
      ['instruction', '   '],
      ['instruction', 5],
      ['steps', 1.5],
      ['steps', 100_000],
      ['seed', -1],
      ['scheduler', 'nope'],
      ['textGuidance', 'high'],
    ] as const) {
      out.push({ label: `settings.${key} wrong`, payload: { settings: { ...settings, [key]: wrong } } });
    }
  }
  return out;
}

describe('contract: every handler rejects malformed payloads', () => {
  let core: TestCore;
  beforeAll(() => {
    core = testCore();
  });
  afterAll(async () => {
    await core.dispose();
  });

  it('names every call in CALLS and has a valid example for each', () => {
    expect(Object.keys(CALLS).sort()).toEqual([...CALL_NAMES].sort());
    for (const name of CALL_NAMES) {
      expect(CALLS[name].request.safeParse(VALID[name]).success, name).toBe(true);
    }
  });

  for (const name of CALL_NAMES) {
    it(`${name}: malformed payloads answer bad-request`, async () => {
      for (const { label, payload } of malformed(name)) {
        const result = await core.dispatcher.dispatch(name, payload);
        expect(result.ok, `${name} with ${label}`).toBe(false);
        if (!result.ok) {
          expect(result.error.code, `${name} with ${label}: ${result.error.message}`).toBe('bad-request');
          expect(result.error.message.length).toBeLessThan(2000);
        }
      }
    });
  }

  it('valid payloads pass validation (they may still be refused for other reasons)', async () => {
    for (const name of CALL_NAMES) {
      const result = await core.dispatcher.dispatch(name, VALID[name]);
      if (!result.ok) expect(result.error.code, `${name}: ${result.error.message}`).not.toBe('bad-request');
    }
  });

  it('refuses unknown calls and odd names', async () => {
    for (const name of [
      'nope',
      '',
      'constructor',
      '__proto__',
      'app.info ',
      42,
      null,
      { name: 'app.info' },
      HUGE,
    ]) {
      const result = await core.dispatcher.dispatch(name, {});
      expect(result).toMatchObject({ ok: false, error: { code: 'unknown-call' } });
      if (!result.ok) expect(result.error.message.length).toBeLessThan(200);
    }
  });
});

describe('contract: paths outside what the user chose are refused', () => {
  let core: TestCore;
  let allowed: string;
  beforeAll(() => {
    allowed = tempDir('allowed-');
    core = testCore({ allowDirs: [allowed] });
  });
  afterAll(async () => {
    await core.dispose();
  });

  it('refuses to open files that were not chosen', async () => {
    for (const path of [
      '/etc/passwd',
      '/etc/../etc/passwd',
      `${allowed}/../outside.png`,
      `${core.configDir}/settings.json`,
    ]) {
      const result = await core.dispatcher.dispatch('document.openPath', { path });
      expect(result, path).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    }
    const relative = await core.dispatcher.dispatch('document.openPath', { path: 'relative/picture.png' });
    expect(relative).toMatchObject({ ok: false, error: { code: 'bad-request' } });
    const nul = await core.dispatcher.dispatch('document.openPath', { path: `${allowed}/a\0b.png` });
    expect(nul).toMatchObject({ ok: false, error: { code: 'bad-request' } });
  });

  it('refuses a symbolic link inside a chosen folder that points outside it', async () => {
    const outside = tempDir('outside-');
    writeFileSync(join(outside, 'secret.png'), 'secret');
    symlinkSync(outside, join(allowed, 'link'));
    const result = await core.dispatcher.dispatch('document.openPath', {
      path: join(allowed, 'link', 'secret.png'),
    });
    expect(result).toMatchObject({ ok: false, error: { code: 'forbidden' } });
  });

  it('opens a file inside a chosen folder', async () => {
    writeFileSync(join(allowed, 'picture.png'), 'not really a png');
    const result = await core.dispatcher.dispatch('document.openPath', {
      path: join(allowed, 'picture.png'),
    });
    expect(result.ok, JSON.stringify(result)).toBe(true);
    expect(core.documentCalls).toContain('open');
  });

  it('refuses to export or save to paths that were not chosen', async () => {
    for (const path of ['/tmp/evil.png', '/etc/cron.d/evil', join(allowed, '..', 'evil.psd')]) {
      const result = await core.dispatcher.dispatch('export.toPath', { format: 'png', path });
      expect(result, path).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    }
    const ok = await core.dispatcher.dispatch('export.toPath', {
      format: 'png',
      path: join(allowed, 'out.png'),
    });
    expect(ok.ok, JSON.stringify(ok)).toBe(true);
  });

  it('desktop mode refuses a typed model folder; browser mode takes it and reports the loader message', async () => {
    const dir = tempDir('not-a-model-');
    const refused = await core.dispatcher.dispatch('model.useFolder', { dir });
    expect(refused).toMatchObject({ ok: false, error: { code: 'forbidden' } });

    const browser = testCore({ mode: 'browser' });
    try {
      const wrong = await browser.dispatcher.dispatch('model.useFolder', { dir });
      expect(wrong).toMatchObject({ ok: true, value: { state: 'error' } });
      if (wrong.ok)
        expect((wrong.value as { message: string }).message).toContain('fake-engine.json is missing');
      const good = await browser.dispatcher.dispatch('model.useFolder', { dir: fakeModelDir() });
      expect(good).toMatchObject({ ok: true, value: { state: 'ready', provider: 'cpu' } });
    } finally {
      await browser.dispose();
    }
  });

  it('answers unsupported for native dialogs without Electron', async () => {
    for (const name of ['document.openDialog', 'model.chooseFolder'] as const) {
      const result = await core.dispatcher.dispatch(name, {});
      expect(result, name).toMatchObject({ ok: false, error: { code: 'unsupported' } });
    }
  });

  it('grants what a dialog returns, and only that', async () => {
    const chosen = tempDir('chosen-');
    mkdirSync(join(chosen, 'sub'));
    const picture = join(chosen, 'photo.png');
    writeFileSync(picture, 'png');
    const withDialogs = testCore({
      dialogs: {
        openFile: async () => picture,
        chooseModelFolder: async () => null,
        saveProject: async () => join(chosen, 'project.iedit'),
        saveExport: async (format) => join(chosen, `export.${format}`),
      },
    });
    try {
      expect(await withDialogs.dispatcher.dispatch('document.openPath', { path: picture })).toMatchObject({
        ok: false,
        error: { code: 'forbidden' },
      });
      expect(await withDialogs.dispatcher.dispatch('document.openDialog', {})).toMatchObject({ ok: true });
      expect(await withDialogs.dispatcher.dispatch('document.openPath', { path: picture })).toMatchObject({
        ok: true,
      });
      expect(await withDialogs.dispatcher.dispatch('recent.list', {})).toMatchObject({
        ok: true,
        value: [picture],
      });
      expect(await withDialogs.dispatcher.dispatch('export.dialog', { format: 'psd' })).toMatchObject({
        ok: true,
        value: { path: join(chosen, 'export.psd') },
      });
      // The folder of a chosen file is not itself granted.
      expect(
        await withDialogs.dispatcher.dispatch('export.toPath', {
          format: 'png',
          path: join(chosen, 'sub', 'x.png'),
        }),
      ).toMatchObject({
        ok: false,
        error: { code: 'forbidden' },
      });
    } finally {
      await withDialogs.dispose();
    }
  });
});
