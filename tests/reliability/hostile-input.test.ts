/**
 * Hostile and inconsistent input: ids that are JavaScript built-in names, revisions that climb out of
 * a URL, sizes past the one set of limits, and crafted project files (swapped pixels, zip bombs,
 * too many layers). Each is refused with a specific error before any large work.
 */
import { strFromU8, strToU8, unzipSync, zipSync, type Zippable } from 'fflate';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { importImage } from '../../src/main/document/import';
import { encodeProject, loadProject } from '../../src/main/document/project-file';
import { PixelStore, sha256Hex } from '../../src/main/document/pixel-store';
import { validateSettings } from '../../src/main/engine/pipeline';
import { LIMITS } from '../../src/shared/contract/limits';
import { CALLS } from '../../src/shared/contract/schemas';
import { DEFAULT_EDIT_SETTINGS } from '../../src/shared/engine-types';
import { testCore } from '../contract/helpers';
import { buildDocument } from '../document/fixtures/project-docs';
import { rezip, withLayerCount, withZipBomb, type Manifest } from '../support/hostile-inputs';

const SMALL = { width: 64, height: 48, processed: { width: 32, height: 24 }, images: 'gradient' as const };

async function smallProject(): Promise<Uint8Array> {
  const store = new PixelStore();
  return encodeProject(buildDocument(store, { ...SMALL, seed: 3 }), store, { savedAt: 1 });
}

describe('ids, revisions and limits agree everywhere', () => {
  it('refuses JavaScript built-in names as ids at the contract', async () => {
    const core = testCore();
    try {
      for (const id of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'prototype']) {
        for (const [name, payload] of [
          ['layer.delete', { layerId: id }],
          ['layer.update', { layerId: id, visible: false }],
          ['mask.clear', { layerId: id }],
          ['variant.pick', { messageId: id, variantId: 'v1' }],
          ['recovery.restore', { id }],
        ] as const) {
          const result = await core.dispatcher.dispatch(name, payload);
          expect([name, id, result]).toMatchObject([name, id, { ok: false, error: { code: 'bad-request' } }]);
        }
      }
      // Ordinary ids still pass the schema (the fake documents answer).
      expect(await core.dispatcher.dispatch('recovery.discard', { id: 'constructor-1' })).toMatchObject({
        ok: true,
      });
    } finally {
      await core.dispose();
    }
  });

  it('refuses built-in names as ids inside a project file', async () => {
    const bytes = rezip(await smallProject(), (_entries, manifest) => {
      manifest.document.layers[0]!.id = 'constructor';
    });
    await expect(loadProject(bytes)).rejects.toMatchObject({ code: 'schema' });
  });

  it('takes branch, tag and commit names as a download revision, never a path', () => {
    const request = CALLS['model.download'].request;
    for (const revision of ['main', 'v1.0', 'refs/pr/1', 'fp16', 'a'.repeat(40), 'release-2024_01']) {
      expect([revision, request.safeParse({ repo: 'owner/name', revision }).success]).toEqual([
        revision,
        true,
      ]);
    }
    for (const revision of [
      '..',
      '../../x',
      'main/../../x',
      'a..b',
      '.hidden',
      'x/.y',
      'main.lock',
      '/main',
      'main/',
      'a//b',
      '',
    ]) {
      expect([revision, request.safeParse({ repo: 'owner/name', revision }).success]).toEqual([
        revision,
        false,
      ]);
    }
    for (const repo of ['../..', 'owner/..', './x', 'owner/.']) {
      expect([repo, request.safeParse({ repo }).success]).toEqual([repo, false]);
    }
  });

  it('refuses a picture wider than the contract’s side limit when it is opened', async () => {
    const wide = await sharp({
      create: { width: LIMITS.imageSide + 1, height: 8, channels: 3, background: '#888' },
    })
      .png()
      .toBuffer();
    await expect(importImage(wide, { name: 'wide.png' })).rejects.toThrow(
      `wide.png is ${LIMITS.imageSide + 1}×8, over the 16,384-pixel side limit`,
    );
    const fits = await sharp({
      create: { width: LIMITS.imageSide, height: 2, channels: 3, background: '#888' },
    })
      .png()
      .toBuffer();
    expect((await importImage(fits, { name: 'fits.png' })).image.width).toBe(LIMITS.imageSide);
  });

  it('refuses edit settings past the contract in project files and in the engine alike', async () => {
    const good = await smallProject();
    for (const [field, value] of [
      ['steps', LIMITS.maxSteps + 1],
      ['textGuidance', LIMITS.maxGuidance + 1],
      ['imageGuidance', 1000],
      ['instruction', 'x'.repeat(LIMITS.instructionChars + 1)],
    ] as const) {
      const bytes = rezip(good, (_entries, manifest) => {
        manifest.document.layers[0]!.request[field] = value;
      });
      await expect(loadProject(bytes), field).rejects.toMatchObject({ code: 'schema' });
      expect(
        () => validateSettings({ ...DEFAULT_EDIT_SETTINGS, seed: 1, instruction: 'x', [field]: value }),
        field,
      ).toThrow(/Invalid edit settings/);
    }
    expect(() =>
      validateSettings({
        ...DEFAULT_EDIT_SETTINGS,
        seed: 1,
        instruction: 'x'.repeat(LIMITS.instructionChars),
        steps: LIMITS.maxSteps,
      }),
    ).not.toThrow();
  });
});

describe('crafted project files are caught when they load', () => {
  it('a PNG swapped for other pixels (its checksum rewritten to match) is refused at load', async () => {
    const bytes = await smallProject();
    // A PNG of the same size and kind with other pixels: the file's size and checksum are made to match.
    const entries = unzipSync(bytes);
    const manifest = JSON.parse(strFromU8(entries['project.json']!)) as Manifest;
    const [, entry] = Object.entries(manifest.pixels).find(([, p]) => p.kind === 'rgb')!;
    const swapped = new Uint8Array(
      await sharp(Buffer.alloc(entry.width * entry.height * 3, 77), {
        raw: { width: entry.width, height: entry.height, channels: 3 },
      })
        .png()
        .toBuffer(),
    );
    entries[entry.file] = swapped;
    entry.bytes = swapped.length;
    entry.sha256 = sha256Hex(swapped);
    entries['project.json'] = strToU8(JSON.stringify(manifest));
    const tampered = zipSync(entries as Zippable, { level: 0 });
    await expect(loadProject(tampered, { name: 'swapped.iedit' })).rejects.toMatchObject({
      code: 'corrupt',
      message: expect.stringMatching(
        /swapped\.iedit is damaged: .*decodes to different pixels than its hash says/,
      ),
    });
  });

  it('a PNG entry far larger than its image needs is refused before it is inflated (zip bomb)', async () => {
    const bytes = withZipBomb(await smallProject()); // a 64 MiB entry that deflates to ~64 KB
    expect(bytes.length).toBeLessThan(1024 * 1024);
    await expect(loadProject(bytes, { name: 'bomb.iedit' })).rejects.toMatchObject({
      code: 'corrupt',
      message: expect.stringMatching(
        /bomb\.iedit is damaged: pixels\/[0-9a-f]+\.png is 64\.0 MiB for a \d+×\d+ image/,
      ),
    });
  });

  it(`a project with more than ${LIMITS.layers} edit layers is refused`, async () => {
    const bytes = withLayerCount(await smallProject(), LIMITS.layers + 1);
    await expect(loadProject(bytes)).rejects.toMatchObject({ code: 'schema' });
  });
});
