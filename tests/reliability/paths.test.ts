/**
 * Paths the user did not choose stay closed, and files the app writes keep what they had: recovery
 * links, recent files, a folder as a write target, file permissions, temp files of killed saves.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { createDocumentService } from '../../src/main/app/document-adapter';
import { saveProject } from '../../src/main/document/project-file';
import { DocumentSession } from '../../src/main/document/session';
import { importImage } from '../../src/main/document/import';
import { tempDir, testCore } from '../contract/helpers';
import { fakeEditEngine } from '../document/fake-edit-engine';

const PNG_SIGNATURE = [137, 80, 78, 71];

/** The pid of a process that has exited (so its temp files count as left by a killed save). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}

async function photoBytes(): Promise<Buffer> {
  return sharp({ create: { width: 6, height: 4, channels: 3, background: { r: 200, g: 10, b: 10 } } })
    .png()
    .toBuffer();
}

describe('path policy and file writes', () => {
  it('refuses a folder as a write target and leaves nothing in its parent', async () => {
    const parent = tempDir('parent-');
    const allowed = join(parent, 'allowed');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(allowed);
    mkdirSync(join(allowed, 'sub'));
    const core = testCore({ allowDirs: [allowed] });
    try {
      await core.dispatcher.dispatch('document.openBytes', { name: 'a.png', bytes: new Uint8Array([1]) });
      const itself = await core.dispatcher.dispatch('export.toPath', { format: 'psd', path: allowed });
      expect(itself).toMatchObject({ ok: false, error: { code: 'forbidden' } });
      const sub = await core.dispatcher.dispatch('export.toPath', {
        format: 'psd',
        path: join(allowed, 'sub'),
      });
      expect(sub).toMatchObject({ ok: false, error: { code: 'bad-request' } });
      if (!sub.ok) expect(sub.error.message).toContain('is a folder');
      expect(readdirSync(parent)).toEqual(['allowed']);
      expect(readdirSync(allowed)).toEqual(['sub']);
      expect(statSync(join(allowed, 'sub')).isDirectory()).toBe(true);
    } finally {
      await core.dispose();
    }
  });

  it('keeps a file’s permissions when saving over it, and removes temp files of killed saves', async () => {
    const allowed = tempDir('allowed-');
    const target = join(allowed, 'private.png');
    writeFileSync(target, 'old');
    chmodSync(target, 0o600);
    const pid = deadPid();
    const stale = [`.private.png.${pid}-0123456789ab.tmp`, `.private.png.${pid}-ba9876543210.tmp`];
    for (const name of stale) writeFileSync(join(allowed, name), Buffer.alloc(1000));
    writeFileSync(join(allowed, 'other.png'), 'x');
    const core = testCore({ allowDirs: [allowed] });
    try {
      await core.dispatcher.dispatch('document.openBytes', { name: 'a.png', bytes: new Uint8Array([1]) });
      const saved = await core.dispatcher.dispatch('export.toPath', { format: 'png', path: target });
      expect(saved).toMatchObject({ ok: true, value: { path: target } });
      expect(Array.from(readFileSync(target).subarray(0, 4))).toEqual(PNG_SIGNATURE);
      expect((statSync(target).mode & 0o777).toString(8)).toBe('600');
      expect(readdirSync(allowed).sort()).toEqual(['other.png', 'private.png']);
    } finally {
      await core.dispose();
    }
  });

  it('creates recovery files readable by their owner only (0600)', async () => {
    const projectDir = tempDir('project-');
    const session = DocumentSession.fromImage(await importImage(await photoBytes(), { name: 'photo.png' }));
    const recoveryPath = join(projectDir, 'photo.iedit.recovery.iedit');
    await saveProject(recoveryPath, session.doc, session.store, { recovery: { projectPath: null } });
    expect((statSync(recoveryPath).mode & 0o777).toString(8)).toBe('600');
    // An ordinary new project gets the process's default permissions.
    const projectPath = join(projectDir, 'photo.iedit');
    await saveProject(projectPath, session.doc, session.store);
    expect(statSync(projectPath).mode & 0o777).toBe(0o666 & ~process.umask());
  });

  it('does not offer or restore an autosave that is a link to a project the user never chose', async () => {
    const outside = tempDir('outside-');
    const secretProject = join(outside, 'secret.iedit');
    const session = DocumentSession.fromImage(await importImage(await photoBytes(), { name: 'secret.png' }));
    await saveProject(secretProject, session.doc, session.store, { recovery: { projectPath: null } });
    const folder = mkdtempSync(join(tmpdir(), 'recovery-'));
    symlinkSync(secretProject, join(folder, 'planted.recovery.iedit'));
    // Beside an opened project, too.
    const projectDir = tempDir('project-');
    const projectPath = join(projectDir, 'rec.iedit');
    await saveProject(projectPath, session.doc, session.store);
    symlinkSync(secretProject, join(projectDir, 'rec.iedit.recovery.iedit'));

    const service = createDocumentService(fakeEditEngine(), { recoveryFolder: folder });
    try {
      expect(await service.recoveries()).toEqual([]);
      await service.open(new Uint8Array(readFileSync(projectPath)), 'rec.iedit', projectPath);
      expect(await service.recoveries()).toEqual([]);
    } finally {
      await service.dispose();
    }
  });

  it('lets recent files be opened again but not written, and stores them in one spelling', async () => {
    const chosen = tempDir('chosen-');
    const picture = join(chosen, 'photo.png');
    writeFileSync(picture, 'png');
    const first = testCore({
      dialogs: {
        openFile: async () => `${chosen}//./photo.png`,
        chooseModelFolder: async () => null,
        saveProject: async () => null,
        saveExport: async () => null,
      },
    });
    try {
      expect(await first.dispatcher.dispatch('document.openDialog', {})).toMatchObject({ ok: true });
      expect(
        await first.dispatcher.dispatch('document.openPath', { path: `${chosen}/./photo.png` }),
      ).toMatchObject({ ok: true });
      expect(await first.dispatcher.dispatch('recent.list', {})).toEqual({ ok: true, value: [picture] });
      await first.settings.flush();
    } finally {
      await first.dispose();
    }
    // The next start: the recent file opens, but exporting over the user's photo is refused.
    const restarted = testCore({ configDir: first.configDir });
    try {
      expect(await restarted.dispatcher.dispatch('document.openPath', { path: picture })).toMatchObject({
        ok: true,
      });
      const overwrite = await restarted.dispatcher.dispatch('export.toPath', {
        format: 'psd',
        path: picture,
      });
      expect(overwrite).toMatchObject({ ok: false, error: { code: 'forbidden' } });
      expect(readFileSync(picture, 'utf8')).toBe('png');
    } finally {
      await restarted.dispose();
    }
  });
});
