/**
 * Project files (.iedit) and recovery files: save/load round trips with real pixels, the zip read by
 * independent readers (fflate, and Info-ZIP unzip and Python's zipfile where installed), every bad
 * input with its error code (and the input left untouched), saves killed with SIGKILL at random
 * moments, and autosave/recovery with a fake clock.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strFromU8, strToU8, unzipSync, Zip, ZipPassThrough, zipSync, type Zippable } from 'fflate';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProjectFileError, type ProjectFileErrorCode } from '../../src/main/document/errors';
import { pixelHash, PixelStore, sha256Hex } from '../../src/main/document/pixel-store';
import {
  encodeProject,
  loadProject,
  readProjectManifest,
  saveProject,
  type LoadProjectOptions,
} from '../../src/main/document/project-file';
import {
  AutosaveScheduler,
  findRecoveries,
  findRecovery,
  recoveryPathFor,
  unsavedRecoveryPath,
  type AutosaveTimers,
} from '../../src/main/document/recovery';
import { buildZip, concatZip } from '../../src/main/document/project-zip';
import { atomicTempFiles } from '../../src/main/util/atomic-write';
import { referencedPixels, type DocumentRecord } from '../../src/shared/document/records';
import { PROJECT_FORMAT, PROJECT_FORMAT_VERSION } from '../../src/shared/document/schema';
import { buildDocument, gradientRgb, noiseGray } from './fixtures/project-docs';

const ROOT = join(__dirname, '../..');
const SAVE_LOOP = join(__dirname, 'fixtures/save-loop.ts');
const dir = mkdtempSync(join(tmpdir(), 'iedit-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileCounter = 0;
const tempPath = (name: string) => join(dir, `${++fileCounter}-${name}`);

const SMALL = { width: 64, height: 48, processed: { width: 32, height: 24 }, images: 'gradient' as const };

function smallDocument(seed = 1): { doc: DocumentRecord; store: PixelStore } {
  const store = new PixelStore();
  return { doc: buildDocument(store, { ...SMALL, seed }), store };
}

/** The raw pixels of every referenced image are byte-identical in both stores. */
async function expectSamePixels(
  doc: DocumentRecord,
  expected: PixelStore,
  actual: PixelStore,
): Promise<void> {
  for (const ref of referencedPixels(doc)) {
    const a = await expected.get(ref);
    const b = await actual.get(ref);
    expect({ kind: b.kind, width: b.width, height: b.height }).toEqual({
      kind: a.kind,
      width: a.width,
      height: a.height,
    });
    expect(Buffer.compare(Buffer.from(b.data), Buffer.from(a.data))).toBe(0);
    expect(pixelHash(b.kind, b.width, b.height, b.data)).toBe(ref);
  }
}

const commandAvailable = (command: string, args: string[]) => {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  return result.error === undefined && result.status === 0;
};
const HAVE_UNZIP = commandAvailable('unzip', ['-v']);
const HAVE_PYTHON = commandAvailable('python3', ['-c', 'import zipfile']);

// ---------------------------------------------------------------------------------------------------

describe('saving and loading', () => {
  it('round-trips records and byte-identical raw pixels (base, variant pixels/result/source, masks)', async () => {
    const { doc, store } = smallDocument();
    const refs = referencedPixels(doc);
    // base, mask, 1 + 2 variants × (pixels, result) and 2 distinct sources (base shared)
    expect(refs).toHaveLength(9);
    const path = tempPath('round-trip.iedit');
    const saved = await saveProject(path, doc, store, {
      generator: { name: 'instruct-edit', version: '1.2.3' },
      savedAt: 1_717_000_000_000,
    });
    expect(saved).toMatchObject({ path, savedAt: 1_717_000_000_000, images: 9 });
    expect(saved.size).toBe(readFileSync(path).length);

    const loaded = await loadProject(path);
    expect(loaded.doc).toStrictEqual(doc);
    expect(loaded.migratedFrom).toEqual([]);
    expect(loaded.recovery).toBeNull();
    expect(loaded.savedAt).toBe(1_717_000_000_000);
    expect(loaded.generator).toEqual({ name: 'instruct-edit', version: '1.2.3' });
    await expectSamePixels(doc, store, loaded.store);
    const layer2 = loaded.doc.layers['layer-2'];
    expect(layer2?.mask).not.toBeNull();
    expect((await loaded.store.getGray(layer2?.mask as string)).data[0]).toBe(255);
    expect(layer2?.variants[1]?.request.karrasSigmas).toBe(true);

    // Loading from bytes gives the same. Saving the loaded project again reuses the PNGs as they
    // are and gives the same manifest; from then on saves are byte-identical (the first may differ
    // in the manifest's key order only, which follows the schema once loaded).
    const fromBytes = await loadProject(readFileSync(path), { name: 'copy.iedit' });
    expect(fromBytes.doc).toStrictEqual(doc);
    const options = { generator: loaded.generator, savedAt: loaded.savedAt };
    const again = await encodeProject(loaded.doc, loaded.store, options);
    const first = unzipSync(readFileSync(path));
    const second = unzipSync(again);
    expect(Object.keys(second)).toEqual(Object.keys(first));
    for (const [name, data] of Object.entries(first)) {
      if (name === 'project.json') {
        expect(JSON.parse(strFromU8(second[name] as Uint8Array))).toEqual(JSON.parse(strFromU8(data)));
      } else {
        expect(Buffer.compare(Buffer.from(second[name] as Uint8Array), Buffer.from(data))).toBe(0);
      }
    }
    const reloaded = await loadProject(again);
    const third = await encodeProject(reloaded.doc, reloaded.store, options);
    expect(Buffer.compare(Buffer.from(third), Buffer.from(again))).toBe(0);
  });

  it('keeps a recovery marker and reads only the manifest when asked', async () => {
    const { doc, store } = smallDocument(2);
    const path = tempPath('marked.iedit');
    await saveProject(path, doc, store, { recovery: { projectPath: '/somewhere/trip.iedit' }, savedAt: 5 });
    const { manifest, migratedFrom } = await readProjectManifest(path);
    expect(manifest.recovery).toEqual({ projectPath: '/somewhere/trip.iedit' });
    expect(manifest.savedAt).toBe(5);
    expect(migratedFrom).toEqual([]);
    expect((await loadProject(path)).recovery).toEqual({ projectPath: '/somewhere/trip.iedit' });
  });

  it('reads zips written by other writers (deflated PNGs, data descriptors)', async () => {
    const { doc, store } = smallDocument(3);
    const entries = unzipSync(await encodeProject(doc, store));
    // zipSync: every entry deflated, sizes in the local headers.
    const deflated = zipSync(
      Object.fromEntries(
        Object.entries(entries).map(([name, data]) => [name, [data, { level: 9 }]]),
      ) as Zippable,
    );
    expect((await loadProject(deflated)).doc).toStrictEqual(doc);
    // The streaming Zip: data descriptors after each entry, zeros in the local headers.
    const chunks: Uint8Array[] = [];
    const zip = new Zip((error, chunk) => {
      if (error) throw error;
      chunks.push(chunk);
    });
    for (const [name, data] of Object.entries(entries).reverse()) {
      const file = new ZipPassThrough(name);
      zip.add(file);
      file.push(data, true);
    }
    zip.end();
    const streamed = await loadProject(Buffer.concat(chunks));
    expect(streamed.doc).toStrictEqual(doc);
    await expectSamePixels(doc, store, streamed.store);
  });
});

describe('the zip, read by independent readers', () => {
  const { doc, store } = smallDocument(4);
  const path = tempPath('independent.iedit');
  beforeAll(async () => {
    await saveProject(path, doc, store);
  });

  it('fflate lists project.json and one pixels/<hash>.png per image, matching the manifest', async () => {
    const entries = unzipSync(readFileSync(path));
    const refs = referencedPixels(doc);
    expect(Object.keys(entries).sort()).toEqual(
      ['project.json', ...refs.map((r) => `pixels/${r}.png`)].sort(),
    );
    const manifest = JSON.parse(strFromU8(entries['project.json'] as Uint8Array));
    expect(manifest.format).toBe(PROJECT_FORMAT);
    expect(manifest.version).toBe(PROJECT_FORMAT_VERSION);
    expect(Object.keys(manifest.pixels).sort()).toEqual([...refs].sort());
    for (const ref of refs) {
      const png = entries[`pixels/${ref}.png`] as Uint8Array;
      expect(manifest.pixels[ref]).toMatchObject({
        file: `pixels/${ref}.png`,
        bytes: png.length,
        sha256: sha256Hex(png),
      });
      // Each PNG decodes (with sharp, not the store) to the pixels its name hashes.
      // IHDR colour type: 0 greyscale, 2 truecolour.
      const kind = png[25] === 0 ? 'gray' : 'rgb';
      expect(png[25]).toBe(kind === 'gray' ? 0 : 2);
      expect(kind).toBe(manifest.pixels[ref].kind);
      const decoder = sharp(png);
      const { data, info } = await (kind === 'gray' ? decoder.extractChannel(0) : decoder)
        .raw()
        .toBuffer({ resolveWithObject: true });
      expect(info.channels).toBe(kind === 'gray' ? 1 : 3);
      expect(pixelHash(kind, info.width, info.height, data)).toBe(ref);
    }
  });

  it.skipIf(!HAVE_UNZIP)('Info-ZIP unzip lists, tests the CRCs and sees the PNGs stored', async () => {
    const list = spawnSync('unzip', ['-v', path], { encoding: 'utf8' });
    expect(list.status).toBe(0);
    const rows = list.stdout
      .split('\n')
      .filter((line) => /\s(project\.json|pixels\/[0-9a-f]{64}\.png)$/.test(line));
    expect(rows).toHaveLength(referencedPixels(doc).length + 1);
    for (const row of rows) {
      expect(row).toMatch(row.endsWith('project.json') ? /\sDefl:N\s/ : /\sStored\s/);
    }
    const test = spawnSync('unzip', ['-t', path], { encoding: 'utf8' });
    expect(test.status).toBe(0);
    expect(test.stdout).toMatch(/No errors detected/);
  });

  it.skipIf(!HAVE_PYTHON)("Python's zipfile reads it and finds no bad CRC", async () => {
    const script = [
      'import json, sys, zipfile',
      'z = zipfile.ZipFile(sys.argv[1])',
      'print(json.dumps({"bad": z.testzip(), "names": z.namelist(), "format": json.loads(z.read("project.json"))["format"]}))',
    ].join('\n');
    const out = spawnSync('python3', ['-c', script, path], { encoding: 'utf8' });
    expect(out.status).toBe(0);
    const result = JSON.parse(out.stdout);
    expect(result.bad).toBeNull();
    expect(result.format).toBe(PROJECT_FORMAT);
    expect(result.names[0]).toBe('project.json');
    expect(result.names).toHaveLength(referencedPixels(doc).length + 1);
  });
});

// ---------------------------------------------------------------------------------------------------

describe('bad inputs', () => {
  const { doc, store } = smallDocument(5);
  let good: Uint8Array = new Uint8Array(0);
  beforeAll(async () => {
    good = await encodeProject(doc, store, { savedAt: 42 });
  });

  /** The project's entries, changed by `edit`, zipped again with fflate (valid CRCs). */
  async function rezip(
    edit: (entries: Record<string, Uint8Array>, manifest: Record<string, unknown>) => void,
  ): Promise<Uint8Array> {
    const entries = unzipSync(good);
    const manifest = JSON.parse(strFromU8(entries['project.json'] as Uint8Array)) as Record<string, unknown>;
    edit(entries, manifest);
    if (entries['project.json']) entries['project.json'] = strToU8(JSON.stringify(manifest));
    return zipSync(entries as Zippable, { level: 0 });
  }

  const firstPng = (entries: Record<string, Uint8Array>) =>
    Object.keys(entries).find((name) => name.startsWith('pixels/')) as string;

  /**
   * Writes `bytes` to a file, loads it, expects the error; checks the file and the folder are as they
   * were (loading never writes). Also loads the bytes directly and expects the same code.
   */
  async function expectRefused(
    bytes: Uint8Array,
    code: ProjectFileErrorCode,
    message: RegExp,
    options: LoadProjectOptions = {},
  ): Promise<ProjectFileError> {
    const folder = mkdtempSync(join(dir, 'bad-'));
    const path = join(folder, 'input.iedit');
    writeFileSync(path, bytes);
    const before = createHash('sha256').update(readFileSync(path)).digest('hex');
    const error = await loadProject(path, options).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ProjectFileError);
    const projectError = error as ProjectFileError;
    expect({ code: projectError.code, message: projectError.message }).toMatchObject({ code });
    expect(projectError.message).toMatch(message);
    expect(projectError.message).toContain(path);
    expect(createHash('sha256').update(readFileSync(path)).digest('hex')).toBe(before);
    expect(readdirSync(folder)).toEqual(['input.iedit']);
    await expect(loadProject(bytes, options)).rejects.toMatchObject({ code });
    return projectError;
  }

  it('a truncated project file is corrupt (wherever it is cut)', async () => {
    const bytes = good;
    for (const cut of [bytes.length - 1, bytes.length - 22, Math.floor(bytes.length / 2), 200, 10]) {
      await expectRefused(bytes.subarray(0, cut), 'corrupt', /truncated|damaged|only \d+ bytes/);
    }
  });

  it('a damaged zip directory or a bit flip in the manifest is corrupt', async () => {
    const bytes = Buffer.from(good);
    const end = bytes.length - 22;
    const directoryOffset = bytes.readUInt32LE(end + 16);
    const broken = Buffer.from(bytes);
    broken.writeUInt32LE(0x12345678, directoryOffset); // the first directory header's signature
    await expectRefused(broken, 'corrupt', /directory is damaged/);
    const flipped = Buffer.from(bytes);
    const inManifest = 30 + 'project.json'.length + 5;
    flipped[inManifest] = (flipped[inManifest] as number) ^ 0x01; // inside project.json's deflated data
    await expectRefused(
      flipped,
      'corrupt',
      /project\.json (fails its CRC check|cannot be decompressed|decompresses)/,
    );
  });

  it('a file that is not a zip is not a project (an image, text, an empty file)', async () => {
    const png = await sharp(Buffer.from(gradientRgb(8, 8, 1).data), {
      raw: { width: 8, height: 8, channels: 3 },
    })
      .png()
      .toBuffer();
    const error = await expectRefused(
      png,
      'not-a-project',
      /not an Instruct Edit project \(it is a PNG image/,
    );
    expect(error.message).toMatch(/open it as an image instead/);
    const jpeg = await sharp(png).jpeg().toBuffer();
    await expectRefused(jpeg, 'not-a-project', /it is a JPEG image/);
    await expectRefused(
      strToU8('{"format": "instruct-edit-project"}\n'.repeat(10)),
      'not-a-project',
      /not a zip/,
    );
    await expectRefused(new Uint8Array(0), 'not-a-project', /empty/);
  });

  it('a zip without project.json is not a project', async () => {
    const zip = zipSync({ 'readme.txt': strToU8('hello'), 'pixels/a.png': new Uint8Array(10) });
    await expectRefused(
      zip,
      'not-a-project',
      /zip archive but not an Instruct Edit project: it has no project\.json/,
    );
    await expectRefused(zipSync({}), 'not-a-project', /no project\.json/);
  });

  it('a manifest of another format is not a project', async () => {
    const bytes = await rezip((_, manifest) => {
      manifest.format = 'something-else';
    });
    await expectRefused(bytes, 'not-a-project', /not an instruct-edit-project manifest/);
  });

  it('a manifest from a newer version is refused as newer-version', async () => {
    const bytes = await rezip((_, manifest) => {
      manifest.version = PROJECT_FORMAT_VERSION + 1;
      manifest.somethingNew = { feature: true };
    });
    await expectRefused(
      bytes,
      'newer-version',
      new RegExp(
        `newer version of the app \\(format version ${PROJECT_FORMAT_VERSION + 1}; this version reads up to ${PROJECT_FORMAT_VERSION}\\)`,
      ),
    );
  });

  it('a manifest that does not match the schema is refused as schema', async () => {
    const wrongType = await rezip((_, manifest) => {
      (manifest.document as Record<string, unknown>).width = -3;
    });
    await expectRefused(wrongType, 'schema', /does not match the project schema: document\.width/);
    const unknownKey = await rezip((_, manifest) => {
      manifest.extra = 1;
    });
    await expectRefused(unknownKey, 'schema', /does not match the project schema/);
    const inconsistent = await rezip((_, manifest) => {
      const layers = (manifest.document as { layers: { activeVariantId: string }[] }).layers;
      (layers[0] as { activeVariantId: string }).activeVariantId = 'no-such-variant';
    });
    await expectRefused(inconsistent, 'schema', /inconsistent: .*active variant no-such-variant/);
    const entries = unzipSync(good);
    entries['project.json'] = strToU8('{"format": "instruct-edit-project", ');
    await expectRefused(zipSync(entries as Zippable), 'corrupt', /project\.json is not valid JSON/);
  });

  it('a missing referenced PNG is refused as missing-pixels, naming it', async () => {
    let removed = '';
    const bytes = await rezip((entries) => {
      removed = firstPng(entries);
      delete entries[removed];
    });
    const error = await expectRefused(
      bytes,
      'missing-pixels',
      /is incomplete: the image pixels\/[0-9a-f]{64}\.png listed in project\.json is missing/,
    );
    expect(error.message).toContain(removed);
  });

  it('a PNG whose bytes do not match its sha-256 (or its size) is corrupt', async () => {
    let changed = '';
    const tampered = await rezip((entries) => {
      changed = firstPng(entries);
      const png = Uint8Array.from(entries[changed] as Uint8Array);
      png[png.length - 20] = (png[png.length - 20] as number) ^ 0xff; // same length, different bytes
      entries[changed] = png;
    });
    const error = await expectRefused(tampered, 'corrupt', /does not match its sha-256 checksum/);
    expect(error.message).toContain(changed);

    // A bit flip in place (the zip's CRC is no longer right either): the sha-256 catches it.
    const bytes = Buffer.from(good);
    const entries = unzipSync(bytes);
    const name = firstPng(entries);
    const png = entries[name] as Uint8Array;
    const at = bytes.indexOf(Buffer.from(png.subarray(0, 64)));
    expect(at).toBeGreaterThan(0);
    bytes[at + png.length - 20] = (bytes[at + png.length - 20] as number) ^ 0x01;
    await expectRefused(bytes, 'corrupt', /does not match its sha-256 checksum/);

    const shorter = await rezip((e) => {
      const n = firstPng(e);
      e[n] = (e[n] as Uint8Array).subarray(0, 100);
    });
    await expectRefused(shorter, 'corrupt', /is 100 bytes, the manifest says \d+/);
  });

  it('a PNG with other dimensions than the manifest says is corrupt', async () => {
    const small = new Uint8Array(
      await sharp(Buffer.from(gradientRgb(5, 4, 2).data), { raw: { width: 5, height: 4, channels: 3 } })
        .png()
        .toBuffer(),
    );
    const bytes = await rezip((entries, manifest) => {
      const pixels = manifest.pixels as Record<string, { file: string; bytes: number; sha256: string }>;
      const entry = Object.values(pixels).find((p) => p.file === firstPng(entries));
      if (!entry) throw new Error('no pixel entry');
      entries[entry.file] = small;
      entry.bytes = small.length;
      entry.sha256 = sha256Hex(small);
    });
    await expectRefused(bytes, 'corrupt', /is 5×4, the manifest says 64×48/);
  });

  it('a missing file is not-found, a folder is not a project', async () => {
    await expect(loadProject(join(dir, 'no-such.iedit'))).rejects.toMatchObject({
      code: 'not-found',
      message: expect.stringMatching(/no-such\.iedit does not exist/),
    });
    const folder = mkdtempSync(join(dir, 'folder-'));
    await expect(loadProject(folder)).rejects.toMatchObject({ code: 'not-a-project' });
  });

  it('refuses zip bombs and huge files as too-large without inflating them', async () => {
    // 200 MiB of spaces deflate to ~200 KB; the declared size alone is over the 64 MiB limit.
    const zip = concatZip(
      buildZip([{ name: 'project.json', data: Buffer.alloc(200 * 1024 * 1024, 0x20), level: 9 }]),
    );
    expect(zip.length).toBeLessThan(1024 * 1024);
    const started = performance.now();
    await expectRefused(
      zip,
      'too-large',
      /project\.json is 200\.0 MiB uncompressed, over the 64\.0 MiB limit/,
    );
    expect(performance.now() - started).toBeLessThan(5000);

    // A header that lies about the size: inflating stops one byte past the declared size.
    const liar = Buffer.from(zipSync({ 'project.json': [Buffer.alloc(1_000_000, 0x20), { level: 9 }] }));
    const directory = liar.readUInt32LE(liar.length - 22 + 16);
    liar.writeUInt32LE(1000, directory + 24); // central directory: uncompressed size
    await expectRefused(liar, 'corrupt', /decompresses to more than its declared 1000 bytes/);
    // …and one that declares more than there is comes up short.
    const short = Buffer.from(zipSync({ 'project.json': [Buffer.alloc(1000, 0x20), { level: 9 }] }));
    const shortDirectory = short.readUInt32LE(short.length - 22 + 16);
    short.writeUInt32LE(5000, shortDirectory + 24);
    await expectRefused(short, 'corrupt', /decompresses to fewer bytes than its declared 5000/);

    const bytes = good;
    await expectRefused(bytes, 'too-large', /over the 1\.0 KiB a project file may be/, {
      limits: { maxFileBytes: 1024 },
    });
    await expectRefused(bytes, 'too-large', /over the 100 bytes limit/, {
      limits: { maxManifestBytes: 100 },
    });
    const total = Object.values(unzipSync(bytes)).reduce((sum, data) => sum + data.length, 0);
    await expectRefused(bytes, 'too-large', /holds .* uncompressed, over the .* limit/, {
      limits: { maxTotalBytes: total - 1 },
    });
    expect((await loadProject(bytes, { limits: { maxTotalBytes: total } })).doc).toStrictEqual(doc);
    await expectRefused(bytes, 'too-large', /over the 1,000-pixel limit/, {
      limits: { maxImagePixels: 1000 },
    });
  });
});

// ---------------------------------------------------------------------------------------------------

describe('saves that fail', () => {
  it('fails with io naming the path and the reason; the previous file and the folder stay as they were', async () => {
    const { doc, store } = smallDocument(6);
    await expect(saveProject(join(dir, 'no-such-folder', 'x.iedit'), doc, store)).rejects.toMatchObject({
      code: 'io',
      message: expect.stringMatching(
        /Could not save the project to .*no-such-folder\/x\.iedit: the folder does not exist \(ENOENT\)/,
      ),
    });

    // The target is a folder: the temp file is written, the rename fails, the temp file is removed.
    const folder = mkdtempSync(join(dir, 'fail-'));
    const target = join(folder, 'taken.iedit');
    mkdirSync(target);
    writeFileSync(join(target, 'inside.txt'), 'keep');
    const error = await saveProject(target, doc, store).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'io', message: expect.stringContaining(target) });
    expect(readdirSync(folder)).toEqual(['taken.iedit']);
    expect(readFileSync(join(target, 'inside.txt'), 'utf8')).toBe('keep');

    // A document referencing pixels the store lacks: nothing is written.
    const previous = join(folder, 'previous.iedit');
    await saveProject(previous, doc, store);
    const before = readFileSync(previous);
    const other = smallDocument(7);
    await expect(saveProject(previous, other.doc, new PixelStore())).rejects.toMatchObject({
      code: 'missing-pixels',
    });
    expect(Buffer.compare(readFileSync(previous), before)).toBe(0);
    expect(readdirSync(folder).sort()).toEqual(['previous.iedit', 'taken.iedit']);
  });

  it.skipIf(process.platform === 'win32' || process.getuid?.() === 0)(
    'in a read-only folder: io (permission denied), the previous file untouched',
    async () => {
      const { doc, store } = smallDocument(8);
      const folder = mkdtempSync(join(dir, 'readonly-'));
      const target = join(folder, 'p.iedit');
      await saveProject(target, doc, store, { savedAt: 1 });
      const before = readFileSync(target);
      chmodSync(folder, 0o555);
      try {
        await expect(saveProject(target, doc, store, { savedAt: 2 })).rejects.toMatchObject({
          code: 'io',
          message: expect.stringMatching(/permission denied/),
        });
      } finally {
        chmodSync(folder, 0o755);
      }
      expect(Buffer.compare(readFileSync(target), before)).toBe(0);
      expect(readdirSync(folder)).toEqual(['p.iedit']);
    },
  );

  it('removes temp files that killed saves left behind (dead writers and its own), not live ones', async () => {
    const { doc, store } = smallDocument(9);
    const folder = mkdtempSync(join(dir, 'temps-'));
    const target = join(folder, 'p.iedit');
    const dead = spawnSync(process.execPath, ['-e', 'process.pid']).pid as number;
    const deadTemp = join(folder, `.p.iedit.${dead}-0123456789ab.tmp`);
    const ownTemp = join(folder, `.p.iedit.${process.pid}-0123456789ab.tmp`);
    const liveTemp = join(folder, `.p.iedit.${process.ppid}-0123456789ab.tmp`);
    const unrelated = join(folder, '.other.iedit.1-0123456789ab.tmp');
    for (const file of [deadTemp, ownTemp, liveTemp, unrelated]) writeFileSync(file, 'partial');
    await saveProject(target, doc, store);
    expect(readdirSync(folder).sort()).toEqual(
      ['.other.iedit.1-0123456789ab.tmp', `.p.iedit.${process.ppid}-0123456789ab.tmp`, 'p.iedit'].sort(),
    );
  });
});

// ---------------------------------------------------------------------------------------------------

interface Saver {
  child: ChildProcessWithoutNullStreams;
  lines: string[];
  ready: Promise<void>;
  firstSaving: Promise<void>;
  closed: Promise<void>;
}

function startSaver(target: string, even: string, odd: string): Saver {
  const child = spawn(process.execPath, ['--import', 'tsx', SAVE_LOOP, target, even, odd], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stderr = '';
  let pending = '';
  let onReady = () => {};
  let onSaving = () => {};
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const failed = closed.then(() => {
    throw new Error(`the save loop exited early: ${stderr}`);
  });
  const ready = Promise.race([new Promise<void>((resolve) => (onReady = resolve)), failed]);
  const firstSaving = Promise.race([new Promise<void>((resolve) => (onSaving = resolve)), failed]);
  ready.catch(() => undefined);
  firstSaving.catch(() => undefined);
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    pending += chunk;
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      if (line === 'ready') onReady();
      if (line.startsWith('saving ')) onSaving();
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderr += chunk));
  return { child, lines, ready, firstSaving, closed };
}

const lastNumber = (lines: string[], prefix: string): number | null => {
  const numbers = lines.filter((l) => l.startsWith(prefix)).map((l) => Number(l.slice(prefix.length)));
  return numbers.length ? Math.max(...numbers) : null;
};

describe('a save killed midway', () => {
  it('never corrupts the previous file: SIGKILL at random moments, the file is the old or the new document', async () => {
    const folder = mkdtempSync(join(dir, 'kill-'));
    const SIDE = 1024;
    const seeds: { path: string; doc: DocumentRecord; pngSha: Map<string, string> }[] = [];
    for (const parity of [0, 1]) {
      const store = new PixelStore({ pngCompressionLevel: 1 });
      const doc = buildDocument(store, {
        width: SIDE,
        height: SIDE,
        processed: { width: 512, height: 512 },
        images: 'noise',
        seed: 100 + parity,
      });
      const path = join(folder, `seed-${parity}.iedit`);
      await saveProject(path, doc, store);
      const { manifest } = await readProjectManifest(path);
      seeds.push({
        path,
        doc,
        pngSha: new Map(Object.entries(manifest.pixels).map(([r, p]) => [r, p.sha256])),
      });
    }
    const [even, odd] = seeds as [(typeof seeds)[0], (typeof seeds)[0]];
    const generationDoc = (g: number): DocumentRecord => {
      const seed = g % 2 === 0 ? even : odd;
      return { ...seed.doc, base: { ...seed.doc.base, name: `generation ${g}` } };
    };

    // Generation 0, and how long one save takes here.
    const target = join(folder, 'project.iedit');
    const evenLoaded = await loadProject(even.path);
    await saveProject(target, generationDoc(0), evenLoaded.store);
    const t0 = performance.now();
    await saveProject(target, generationDoc(0), evenLoaded.store);
    const saveMs = performance.now() - t0;
    const fileBytes = readFileSync(target).length;

    const TRIALS = 24;
    const maxDelay = Math.min(500, Math.max(40, 5 * saveMs));
    const outcomes = { old: 0, new: 0, midSave: 0, betweenSaves: 0, completedSaves: 0, tempLeft: 0 };
    let generation = 0;
    let next: Saver | null = startSaver(target, even.path, odd.path);
    const started = performance.now();
    try {
      for (let trial = 0; trial < TRIALS; trial++) {
        const saver: Saver = next as Saver;
        await saver.ready;
        saver.child.stdin.write(`go ${generation + 1}\n`);
        await saver.firstSaving;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * maxDelay));
        saver.child.kill('SIGKILL');
        await saver.closed;
        // The next child starts up while this trial's outcome is checked.
        next = trial + 1 < TRIALS ? startSaver(target, even.path, odd.path) : null;

        const saved = lastNumber(saver.lines, 'saved ') ?? generation;
        const saving = lastNumber(saver.lines, 'saving ') as number;
        outcomes.completedSaves += saver.lines.filter((l) => l.startsWith('saved ')).length;
        if (saving > saved) outcomes.midSave++;
        else outcomes.betweenSaves++;

        const loaded = await loadProject(target);
        const g = Number(/^generation (\d+)$/.exec(loaded.doc.base.name)?.[1]);
        // The old file (the last save that finished) or the new one (the save the kill interrupted
        // had already renamed its file).
        expect(g === saved || (g === saved + 1 && saving === g)).toBe(true);
        if (g === saved) outcomes.old++;
        else outcomes.new++;
        expect(loaded.doc).toStrictEqual(generationDoc(g));
        const expectedSha = (g % 2 === 0 ? even : odd).pngSha;
        for (const ref of referencedPixels(loaded.doc)) {
          expect(sha256Hex(await loaded.store.png(ref))).toBe(expectedSha.get(ref));
        }
        // At most the killed save's temp file is left (the next save removes it).
        const temps = (await atomicTempFiles(target)).length;
        expect(temps).toBeLessThanOrEqual(1);
        outcomes.tempLeft += temps;
        generation = g;
      }
    } finally {
      next?.child.kill('SIGKILL');
    }
    const elapsedMs = performance.now() - started;

    // A save after the kills removes the leftover temp file; every image of the file decodes and
    // matches its hash.
    await saveProject(
      target,
      generationDoc(generation + 1),
      (generation + 1) % 2 === 0 ? evenLoaded.store : (await loadProject(odd.path)).store,
    );
    expect(await atomicTempFiles(target)).toEqual([]);
    const final = await loadProject(target);
    for (const ref of referencedPixels(final.doc)) await final.store.get(ref);
    expect(outcomes.old + outcomes.new).toBe(TRIALS);
    console.log(
      `kill test: ${TRIALS} SIGKILLs in ${(elapsedMs / 1000).toFixed(1)} s; project ${(fileBytes / 1024 ** 2).toFixed(1)} MiB, ` +
        `one save ${saveMs.toFixed(0)} ms, kill delay 0–${maxDelay.toFixed(0)} ms after the first save began; ` +
        `${outcomes.midSave} kills landed mid-save, ${outcomes.betweenSaves} between saves; the file held the old document ` +
        `${outcomes.old} times, the new one ${outcomes.new} times; a temp file was left after ${outcomes.tempLeft} kills ` +
        `(removed by the next save); ${outcomes.completedSaves} saves completed in the children`,
    );
  }, 120_000);
});

// ---------------------------------------------------------------------------------------------------

/** Timers that run only when the test advances them. */
class FakeTimers implements AutosaveTimers {
  now = 0;
  private queue: { at: number; callback: () => void; id: number }[] = [];
  private nextId = 1;

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.queue.push({ at: this.now + ms, callback, id });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.queue = this.queue.filter((t) => t.id !== handle);
  }

  get pending(): number {
    return this.queue.length;
  }

  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      this.queue.sort((a, b) => a.at - b.at);
      const due = this.queue[0];
      if (!due || due.at > end) break;
      this.queue.shift();
      this.now = due.at;
      due.callback();
    }
    this.now = end;
  }
}

/** The document with a change: layer 1 renamed and given a new mask. */
function changed(doc: DocumentRecord, store: PixelStore, name: string): DocumentRecord {
  const layer = doc.layers['layer-1'];
  if (!layer) throw new Error('no layer-1');
  const mask = store.putGray(noiseGray(doc.width, doc.height, name.length));
  return { ...doc, layers: { ...doc.layers, 'layer-1': { ...layer, name, mask } } };
}

describe('autosave and recovery', () => {
  it('autosaves a saved project beside it, at most once per interval; findRecovery offers it; a real save removes it', async () => {
    const folder = mkdtempSync(join(dir, 'recovery-'));
    const project = join(folder, 'trip.iedit');
    const { doc: original, store } = smallDocument(10);
    await saveProject(project, original, store, { savedAt: 1_000_000 });

    const timers = new FakeTimers();
    let wall = 2_000_000;
    let current = original;
    const saves: number[] = [];
    const errors: unknown[] = [];
    const autosave = new AutosaveScheduler({
      snapshot: () => ({ doc: current, store }),
      projectPath: project,
      recoveryFolder: join(folder, 'unsaved'),
      intervalMs: 10_000,
      timers,
      now: () => wall,
      onSaved: (s) => saves.push(s.savedAt),
      onError: (e) => errors.push(e),
    });
    const recovery = recoveryPathFor(project);
    expect(recovery).toBe(`${project}.recovery.iedit`);
    expect(autosave.recoveryPathOf(current)).toBe(recovery);

    // Nothing changed: nothing is scheduled.
    timers.advance(60_000);
    expect(timers.pending).toBe(0);

    // A burst of changes: one autosave, an interval after the first.
    current = changed(current, store, 'Watercolour, softer');
    autosave.markChanged();
    autosave.markChanged();
    timers.advance(9_999);
    await autosave.idle();
    expect(existsSync(recovery)).toBe(false);
    autosave.markChanged();
    timers.advance(1);
    await autosave.idle();
    expect(saves).toEqual([2_000_000]);
    expect(existsSync(recovery)).toBe(true);
    expect(autosave.pending).toBe(false);
    expect(timers.pending).toBe(0);

    const found = await findRecovery(project);
    expect(found).toMatchObject({
      recoveryPath: recovery,
      projectPath: project,
      documentId: original.id,
      savedAt: 2_000_000,
      projectSavedAt: 1_000_000,
      newer: true,
      problem: null,
    });
    const recovered = await loadProject(recovery);
    expect(recovered.recovery).toEqual({ projectPath: project });
    expect(recovered.doc).toStrictEqual(current);
    await expectSamePixels(current, store, recovered.store);
    // The project itself is still the original.
    expect((await loadProject(project)).doc).toStrictEqual(original);

    // A change during an autosave waits for the next interval.
    wall = 3_000_000;
    current = changed(current, store, 'Watercolour, softer still');
    autosave.markChanged();
    timers.advance(10_000);
    const during = changed(current, store, 'Watercolour, the softest');
    current = during;
    autosave.markChanged();
    await autosave.idle();
    expect(saves).toHaveLength(2);
    expect(autosave.pending).toBe(true);
    timers.advance(9_999);
    await autosave.idle();
    expect(saves).toHaveLength(2);
    wall = 4_000_000;
    timers.advance(1);
    await autosave.idle();
    expect(saves).toEqual([2_000_000, 3_000_000, 4_000_000]);
    expect((await loadProject(recovery)).doc).toStrictEqual(during);

    // The user saves: the recovery file goes, findRecovery finds nothing.
    await saveProject(project, current, store, { savedAt: 5_000_000 });
    await autosave.markSaved(project);
    expect(existsSync(recovery)).toBe(false);
    expect(await findRecovery(project)).toBeNull();
    expect(autosave.pending).toBe(false);
    expect(errors).toEqual([]);
    await autosave.dispose();
    expect(readdirSync(folder)).toEqual(['trip.iedit']);
  });

  it('tells when a recovery file is older, the project is gone, or the recovery is unreadable', async () => {
    const folder = mkdtempSync(join(dir, 'recovery-'));
    const project = join(folder, 'p.iedit');
    const { doc, store } = smallDocument(11);
    await saveProject(project, doc, store, { savedAt: 2_000 });
    await saveProject(recoveryPathFor(project), doc, store, {
      recovery: { projectPath: project },
      savedAt: 1_000,
    });
    expect(await findRecovery(project)).toMatchObject({
      newer: false,
      savedAt: 1_000,
      projectSavedAt: 2_000,
    });
    rmSync(project);
    expect(await findRecovery(project)).toMatchObject({ newer: true, savedAt: 1_000, projectSavedAt: null });
    writeFileSync(recoveryPathFor(project), 'not a zip');
    expect(await findRecovery(project)).toMatchObject({
      newer: false,
      documentId: null,
      problem: expect.stringMatching(/not an Instruct Edit project/),
    });
  });

  it('autosaves an unsaved document into the recovery folder; Save As moves on and cleans up', async () => {
    const folder = mkdtempSync(join(dir, 'unsaved-'));
    const recoveryFolder = join(folder, 'recovery');
    const timers = new FakeTimers();
    const { doc, store } = smallDocument(12);
    let current: DocumentRecord = { ...doc, id: 'doc:12' };
    const errors: unknown[] = [];
    const autosave = new AutosaveScheduler({
      snapshot: () => ({ doc: current, store }),
      projectPath: null,
      recoveryFolder,
      intervalMs: 1_000,
      timers,
      now: () => 7_000,
      onError: (e) => errors.push(e),
    });
    const recovery = unsavedRecoveryPath(recoveryFolder, 'doc:12');
    expect(recovery).toBe(join(recoveryFolder, 'doc_12.recovery.iedit'));

    // A file stands where the folder should be: the autosave fails and is retried an interval later.
    writeFileSync(recoveryFolder, 'not a folder');
    autosave.markChanged();
    timers.advance(1_000);
    await autosave.idle();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'EEXIST' });
    expect(timers.pending).toBe(1);
    // Once it is gone, the next autosave creates the missing folder itself.
    rmSync(recoveryFolder);
    timers.advance(1_000);
    await autosave.idle();
    expect(existsSync(recovery)).toBe(true);

    const found = await findRecoveries(recoveryFolder);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      recoveryPath: recovery,
      projectPath: null,
      documentId: 'doc:12',
      newer: true,
    });
    const recovered = await loadProject(recovery);
    expect(recovered.recovery).toEqual({ projectPath: null });
    expect(recovered.doc).toStrictEqual(current);

    // Save As: the unsaved recovery goes; later autosaves go beside the project.
    const project = join(folder, 'named.iedit');
    await saveProject(project, current, store);
    await autosave.markSaved(project);
    expect(await findRecoveries(recoveryFolder)).toEqual([]);
    current = changed(current, store, 'after save as');
    autosave.markChanged();
    timers.advance(1_000);
    await autosave.idle();
    expect(existsSync(recoveryPathFor(project))).toBe(true);
    expect((await loadProject(recoveryPathFor(project))).recovery).toEqual({ projectPath: project });

    // flush() saves now; discard() drops the changes and the recovery file; dispose() stops.
    current = changed(current, store, 'flushed');
    autosave.markChanged();
    await autosave.flush();
    expect((await loadProject(recoveryPathFor(project))).doc.layers['layer-1']?.name).toBe('flushed');
    expect(timers.pending).toBe(0);
    await autosave.discard();
    expect(existsSync(recoveryPathFor(project))).toBe(false);
    autosave.markChanged();
    await autosave.dispose();
    expect(timers.pending).toBe(0);
    timers.advance(10_000);
    autosave.markChanged();
    await autosave.idle();
    expect(existsSync(recoveryPathFor(project))).toBe(false);
    expect(errors).toHaveLength(1);
  });
});
