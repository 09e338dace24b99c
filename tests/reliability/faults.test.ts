/**
 * Disk full and read-only disks, on small tmpfs mounts (skipped where this machine cannot mount):
 * saves fail with the documented message in both app modes and in the CLI's save, the previous
 * file is untouched, and no temp file is left behind.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importImage } from '../../src/main/document/import';
import { saveProject } from '../../src/main/document/project-file';
import { DocumentSession } from '../../src/main/document/session';
import { ioReason } from '../../src/main/util/io-errors';
import { tempDir, testCore } from '../contract/helpers';

function mount(dir: string, options: string): boolean {
  return spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'ignore' }).status === 0;
}

const base = tempDir('faults-');
const full = join(base, 'full');
const readOnly = join(base, 'read-only');
mkdirSync(full);
mkdirSync(readOnly);
const canMount = mount(full, 'size=64k') && mount(readOnly, 'size=64k');

function fill(dir: string): void {
  writeFileSync(join(dir, 'old.png'), 'old');
  try {
    writeFileSync(join(dir, 'filler'), Buffer.alloc(1024 * 1024));
  } catch {
    /* ENOSPC: the disk is now full, which is the point */
  }
}

describe('every common write failure gets its documented message', () => {
  it('maps errno codes to words (both modes and the CLI use this)', () => {
    const cases: [string, string][] = [
      ['ENOSPC', 'the disk is full (ENOSPC)'],
      ['EROFS', 'the disk is read-only (EROFS)'],
      ['EACCES', 'permission denied (EACCES)'],
      ['EPERM', 'the operation is not permitted (is the file open elsewhere or read-only?) (EPERM)'],
      ['EBUSY', 'the file is in use (EBUSY)'],
    ];
    for (const [code, words] of cases)
      expect(ioReason(Object.assign(new Error(`${code}: raw text, write`), { code }))).toBe(words);
    expect(ioReason(new Error('something else'))).toBe('something else');
  });
});

describe.skipIf(!canMount)('disk full and read-only disks (tmpfs)', () => {
  beforeAll(() => {
    fill(full);
    // Remount read-only after putting the old file there.
    writeFileSync(join(readOnly, 'old.png'), 'old');
    spawnSync('mount', ['-o', 'remount,ro', readOnly], { stdio: 'ignore' });
  });
  afterAll(() => {
    for (const dir of [full, readOnly]) spawnSync('umount', [dir], { stdio: 'ignore' });
  });

  for (const mode of ['electron', 'browser'] as const) {
    it(`${mode} mode: export over a file on a full or read-only disk`, async () => {
      const core = testCore({ mode, allowDirs: [full, readOnly] });
      try {
        await core.dispatcher.dispatch('document.openBytes', { name: 'a.png', bytes: new Uint8Array([1]) });
        for (const [dir, words] of [
          [full, 'the disk is full (ENOSPC)'],
          [readOnly, 'the disk is read-only (EROFS)'],
        ] as const) {
          const before = readdirSync(dir).sort();
          const result = await core.dispatcher.dispatch('export.toPath', {
            format: 'png',
            path: join(dir, 'old.png'),
          });
          expect(result).toMatchObject({ ok: false, error: { code: 'failed' } });
          if (!result.ok) {
            expect(result.error.message).toBe(
              `Could not save the PNG export to ${join(dir, 'old.png')}: ${words}`,
            );
          }
          expect(readFileSync(join(dir, 'old.png'), 'utf8')).toBe('old');
          expect(readdirSync(dir).sort()).toEqual(before);
        }
      } finally {
        await core.dispose();
      }
    });
  }

  it('the CLI’s project save says the same', async () => {
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#fff' } })
      .png()
      .toBuffer();
    const session = DocumentSession.fromImage(await importImage(png, { name: 'p.png' }));
    await expect(saveProject(join(full, 'p.iedit'), session.doc, session.store)).rejects.toThrow(
      /the disk is full \(ENOSPC\)$/,
    );
    await expect(saveProject(join(readOnly, 'p.iedit'), session.doc, session.store)).rejects.toThrow(
      /the disk is read-only \(EROFS\)$/,
    );
    expect(readdirSync(full).sort()).toEqual(['filler', 'old.png']);
  });
});
