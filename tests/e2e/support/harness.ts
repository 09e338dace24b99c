/**
 * End-to-end harness for browser mode: builds the renderer, makes a model folder (the tiny ONNX
 * model when the engine can load it, else the fake engine's folder), starts `serve` in a child
 * process, and launches Debian's Chromium through playwright-core.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import WebSocket from 'ws';
import { createClient, type AppClient } from '../../../src/shared/contract/client';
import { createWsTransport, type WebSocketLike } from '../../../src/shared/contract/ws-transport';
import type { EngineKind } from '../../../src/main/app/engine/protocol';

export const ROOT = resolve(__dirname, '../../..');
export const OUTPUT = join(ROOT, 'test-output/e2e');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * Builds the renderer with Vite (no Electron needed) into a fresh folder of its own, so test files
 * running in parallel do not empty each other's build.
 */
export async function buildRenderer(): Promise<string> {
  const outDir = tempDir('e2e-renderer-');
  const { build } = await import('vite');
  const { default: react } = await import('@vitejs/plugin-react');
  // Vitest sets NODE_ENV=test, which would give a development React build; build as the app ships.
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({
      configFile: false,
      root: join(ROOT, 'src/renderer'),
      base: './',
      mode: 'production',
      logLevel: 'warn',
      plugins: [react()],
      build: { outDir, emptyOutDir: true, chunkSizeWarningLimit: 4096 },
    });
  } finally {
    process.env.NODE_ENV = nodeEnv;
  }
  return outDir;
}

export interface ModelFolder {
  dir: string;
  engine: EngineKind;
  /** Why the fake engine is used, when it is. */
  reason: string | null;
}

/**
 * The tiny ONNX model when the ONNX pipeline loads here; the fake engine's folder otherwise.
 * `demo` (default): edits tint the picture towards the instruction's colour word, so screenshots can be
 * judged by eye. `random`: edits paint noise, so any two results differ by tens of levels, which is
 * what the screen-truth test needs to tell a stale picture from the right one.
 */
export async function makeModelFolder(
  stepDelayMs: number,
  kind: 'demo' | 'random' = 'demo',
): Promise<ModelFolder> {
  const dir = join(tempDir('e2e-model-'), 'tiny-ip2p');
  mkdirSync(dir, { recursive: true });
  try {
    await import('../../../src/main/engine/pipeline');
    const { makeTinyModel } = await import('../../../src/main/engine/tiny-model/tiny-model');
    await makeTinyModel(dir, { flavor: 'optimum', kind });
    return { dir, engine: 'onnx', reason: null };
  } catch (error) {
    writeFileSync(join(dir, 'fake-engine.json'), JSON.stringify({ stepDelayMs }));
    return {
      dir,
      engine: 'fake',
      reason: `ONNX engine unavailable (${(error as Error).message.split('\n')[0]}); using the fake engine`,
    };
  }
}

export interface RunningApp {
  url: string;
  baseUrl: string;
  token: string;
  process: ChildProcess;
  configDir: string;
  output: string[];
  stop(): Promise<void>;
}

/** Starts browser mode exactly as `npm run serve` does. */
export async function startApp(options: {
  rendererDir: string;
  engine: EngineKind;
  model?: string;
  provider?: string;
  /** Reuse a config folder (settings, autosaves) from an earlier start. */
  configDir?: string;
  autosaveSeconds?: number;
}): Promise<RunningApp> {
  const configDir = options.configDir ?? tempDir('e2e-config-');
  writeFileSync(
    join(configDir, 'settings.json'),
    JSON.stringify({
      provider: options.provider ?? 'cpu',
      activeModelDir: null,
      models: [],
      editDefaults: {
        steps: 20,
        textGuidance: 7.5,
        imageGuidance: 1.5,
        scheduler: 'euler-ancestral',
        resolution: '512',
      },
      downloadRepo: '',
    }),
  );
  const args = [
    '--import',
    'tsx',
    join(ROOT, 'src/main/server/serve.ts'),
    '--port',
    '0',
    '--config',
    configDir,
    '--renderer',
    options.rendererDir,
    '--engine',
    options.engine,
    ...(options.model ? ['--model', options.model] : []),
    ...(options.autosaveSeconds ? ['--autosave-seconds', String(options.autosaveSeconds)] : []),
  ];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, INSTRUCT_EDIT_CHECK_CONTRACT: '1' },
  });
  const output: string[] = [];
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${output.join('')}`)), 30_000);
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      output.push(text);
      const match = /Open (http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)/.exec(output.join(''));
      if (match?.[1]) {
        clearTimeout(timer);
        resolveUrl(match[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}:\n${output.join('')}`));
    });
  });
  const parsed = new URL(url);
  return {
    url,
    baseUrl: parsed.origin,
    token: parsed.searchParams.get('token') ?? '',
    process: child,
    configDir,
    output,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((done) => child.once('exit', () => done()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A second client on the same server, as the test's own eyes (engine pid, document state). */
export function apiClient(app: RunningApp): AppClient {
  return createClient(
    createWsTransport({
      baseUrl: app.baseUrl,
      token: app.token,
      createSocket: (url) => new WebSocket(url) as unknown as WebSocketLike,
    }),
  );
}

export async function launchBrowser(): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}`);
  const context = await chromium.launchPersistentContext(tempDir('e2e-chromium-'), {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1400, height: 860 },
    acceptDownloads: true,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().includes('favicon'))
      errors.push(`console: ${message.text()}`);
  });
  return { context, page, errors };
}

let shot = 0;
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(OUTPUT, { recursive: true });
  const path = join(OUTPUT, `${String(++shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path });
  return path;
}
