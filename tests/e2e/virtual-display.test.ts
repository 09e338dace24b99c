import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { startXvfb, virtualDisplayIfNeeded } from './support/virtual-display';

const xvfb = ['/usr/bin/Xvfb', '/usr/bin/xdpyinfo'].every((path) => existsSync(path));

describe('virtual display for the Electron test', () => {
  it('is not started when a display is there', async () => {
    expect(await virtualDisplayIfNeeded({ DISPLAY: ':7' })).toBeNull();
  });

  it.skipIf(!xvfb)('starts Xvfb on a free display with the requested screen', async () => {
    const display = await startXvfb('1024x640x24');
    try {
      const info = execFileSync('xdpyinfo', ['-display', display.display]).toString();
      expect(info).toMatch(/dimensions:\s+1024x640 pixels/);
    } finally {
      display.close();
    }
  });
});
