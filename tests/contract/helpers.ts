import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAppCore, type AppCore } from '../../src/main/app/app-core';
import { FAKE_ENGINE_FILE } from '../../src/main/app/engine/fake-engine';
import { createNodeLauncher } from '../../src/main/app/engine/node-launcher';
import type { Dialogs } from '../../src/main/app/dialogs';
import { fakeDocuments } from './fake-documents';

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function fakeModelDir(stepDelayMs = 5): string {
  const dir = tempDir('fake-model-');
  writeFileSync(join(dir, FAKE_ENGINE_FILE), JSON.stringify({ stepDelayMs }));
  return dir;
}

export interface TestCore extends AppCore {
  configDir: string;
  documentCalls: string[];
}

export function testCore(
  options: {
    mode?: 'electron' | 'browser';
    dialogs?: Dialogs | null;
    allowDirs?: string[];
    /** Reuse a config folder (a restart of the app). */
    configDir?: string;
  } = {},
): TestCore {
  const configDir = options.configDir ?? tempDir('config-');
  mkdirSync(configDir, { recursive: true });
  const documents = fakeDocuments();
  const core = createAppCore({
    mode: options.mode ?? 'electron',
    version: '0.0.0-test',
    configDir,
    launcher: createNodeLauncher({ engine: 'fake' }),
    dialogs: options.dialogs ?? null,
    createDocuments: () => documents,
    allowDirs: options.allowDirs ?? [],
    checkResponses: true,
    // No network in tests: a Hub that is not there.
    hub: {
      // eslint-disable-next-line require-yield
      async *list() {
        throw new Error('offline (test)');
      },
      async open() {
        throw new Error('offline (test)');
      },
    },
  });
  return Object.assign(core, { configDir, documentCalls: documents.calls });
}
