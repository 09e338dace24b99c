/**
 * `npm run serve -- [--port N] [--model DIR] [--config DIR] [--allow-dir DIR]`: browser mode.
 * Starts the handlers behind a WebSocket on 127.0.0.1, serves the built renderer, and prints
 * `Open http://127.0.0.1:N/?token=…`. The engine runs in a child process.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createAppCore } from '../app/app-core';
import { createDocumentService } from '../app/document-adapter';
import { createNodeLauncher } from '../app/engine/node-launcher';
import type { EngineKind } from '../app/engine/protocol';
import { startServer } from './server';

const USAGE =
  'Usage: npm run serve -- [--port N] [--model DIR] [--config DIR] [--allow-dir DIR] [--autosave-seconds 30]';

function defaultConfigDir(): string {
  const base = process.env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'instruct-edit');
}

function findRendererDir(given: string | undefined): string {
  const candidates = given
    ? [resolve(given)]
    : [resolve('out/renderer'), join(__dirname, '../renderer'), join(__dirname, '../../../out/renderer')];
  const found = candidates.find((dir) => existsSync(join(dir, 'index.html')));
  if (!found) {
    throw new Error(
      `The built renderer was not found (looked in ${candidates.join(', ')}); run "npx electron-vite build" first`,
    );
  }
  return found;
}

function packageVersion(): string {
  try {
    return (
      (JSON.parse(readFileSync(resolve('package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0'
    );
  } catch {
    return '0.0.0';
  }
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      model: { type: 'string' },
      config: { type: 'string' },
      renderer: { type: 'string' },
      'allow-dir': { type: 'string', multiple: true },
      engine: { type: 'string' },
      'autosave-seconds': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port must be 0–65535, got ${values.port}`);
  const engine: EngineKind = values.engine === 'fake' ? 'fake' : 'onnx';
  const autosaveSeconds = values['autosave-seconds'] === undefined ? 30 : Number(values['autosave-seconds']);
  if (!Number.isFinite(autosaveSeconds) || autosaveSeconds <= 0 || autosaveSeconds > 3600)
    throw new Error(`--autosave-seconds must be from 0 to 3600, got ${values['autosave-seconds']}`);
  const rendererDir = findRendererDir(values.renderer);
  const configDir = resolve(values.config ?? defaultConfigDir());

  const core = createAppCore({
    mode: 'browser',
    version: packageVersion(),
    configDir,
    launcher: createNodeLauncher({ engine }),
    createDocuments: (host) =>
      createDocumentService(host, {
        appVersion: packageVersion(),
        recoveryFolder: join(configDir, 'recovery'),
        autosaveIntervalMs: autosaveSeconds * 1000,
      }),
    ...(values.model ? { initialModelDir: resolve(values.model) } : {}),
    allowDirs: (values['allow-dir'] ?? []).map((dir) => resolve(dir)),
    // Development and tests: check every answer and event against the contract.
    checkResponses: Boolean(process.env.INSTRUCT_EDIT_CHECK_CONTRACT),
  });
  const running = await startServer({ dispatcher: core.dispatcher, bus: core.bus, rendererDir, port });
  console.log(`Open ${running.url}`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await running.close();
    await core.dispose();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    console.error(USAGE);
    process.exit(2);
  });
}
