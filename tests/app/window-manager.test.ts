import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openableFile, openableFiles } from '../../src/main/app/launch-args';
import { WindowManager } from '../../src/main/app/window-manager';
import { FakeWindow } from '../support/fake-window';

function manager() {
  const created: FakeWindow[] = [];
  const opened: string[] = [];
  const windows = new WindowManager({
    createWindow: () => {
      const window = new FakeWindow();
      created.push(window);
      return window;
    },
    openFile: (path) => opened.push(path),
  });
  return { windows, created, opened };
}

describe('window life cycle', () => {
  it('files opened before the app is ready wait for the first page to load', () => {
    const { windows, created, opened } = manager();
    windows.openFromOs('/pictures/a.png');
    expect(created).toHaveLength(0);
    windows.start();
    expect(opened).toEqual([]);
    created[0]!.finishLoad();
    expect(opened).toEqual(['/pictures/a.png']);
    windows.openFromOs('/pictures/b.png');
    expect(opened).toEqual(['/pictures/a.png', '/pictures/b.png']);
    expect(created[0]!.focusCalls).toBe(1);
  });

  it('after the window was closed (macOS), focus does not touch it and a window made by activate gets the handlers', () => {
    const { windows, created, opened } = manager();
    windows.start();
    created[0]!.finishLoad();
    created[0]!.close();
    expect(windows.current()).toBeNull();
    expect(() => windows.focus()).not.toThrow();

    // 'activate' with no window.
    const second = windows.ensureWindow();
    expect(created).toHaveLength(2);
    expect(windows.ensureWindow()).toBe(second);
    second.finishLoad();
    second.close();
    expect(windows.current()).toBeNull();

    // A file opened from the dock with no window: a window appears and shows it once loaded.
    windows.openFromOs('/pictures/c.png');
    expect(created).toHaveLength(3);
    expect(opened).toEqual([]);
    created[2]!.finishLoad();
    expect(opened).toEqual(['/pictures/c.png']);
  });

  it('a closed window that still fires events is ignored', () => {
    const { windows, created, opened } = manager();
    windows.start();
    const first = created[0]!;
    first.close();
    windows.openFromOs('/pictures/d.png');
    first.finishLoad();
    expect(opened).toEqual([]);
    created[1]!.finishLoad();
    expect(opened).toEqual(['/pictures/d.png']);
  });

  it('restores a minimized window when focusing', () => {
    const { windows, created } = manager();
    windows.start();
    created[0]!.minimized = true;
    windows.focus();
    expect(created[0]!.minimized).toBe(false);
    expect(created[0]!.focusCalls).toBe(1);
  });
});

describe('launch arguments', () => {
  const dir = mkdtempSync(join(tmpdir(), 'launch-args-'));
  const picture = join(dir, 'holiday photo.JPG');
  const project = join(dir, 'work.iedit');
  writeFileSync(picture, 'x');
  writeFileSync(project, 'x');

  it('resolves relative paths against the launching instance’s working directory', () => {
    expect(openableFile('holiday photo.JPG', dir)).toBe(picture);
    expect(openableFile('./work.iedit', dir)).toBe(project);
    expect(openableFile('holiday photo.JPG', tmpdir())).toBeNull();
  });

  it('accepts file:// URIs (Linux desktops with %U) and refuses other URIs, switches and unknown types', () => {
    expect(openableFile(pathToFileURL(picture).href, '/')).toBe(picture);
    expect(pathToFileURL(picture).href).toContain('%20');
    expect(openableFile('https://example.com/a.png', dir)).toBeNull();
    expect(openableFile('--enable-logging', dir)).toBeNull();
    expect(openableFile('notes.txt', dir, () => true)).toBeNull();
    expect(openableFile('file://remote-host/a.png', dir)).toBeNull();
  });

  it('picks the files out of a second instance’s argv, once each', () => {
    const argv = [
      '--allow-file-access-from-files',
      '.',
      'work.iedit',
      pathToFileURL(project).href,
      'missing.png',
    ];
    expect(openableFiles(argv, dir)).toEqual([project]);
  });
});
