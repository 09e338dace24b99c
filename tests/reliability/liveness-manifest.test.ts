/**
 * Liveness (issue 9, §2) while a project's manifest is read: a manifest over a megabyte is parsed a
 * slice at a time (src/main/util/json-in-steps.ts) and validated in steps, so opening a project with
 * a large manifest, valid or hostile, holds browser mode's event loop ≤ 100 ms (p99). Measured as in
 * liveness.test.ts (the server's own CPU time; the probe's app.info waits printed beside it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppClient } from '../../src/shared/contract/client';
import { LIMITS } from '../../src/shared/contract/limits';
import { ONE_GO_BYTES } from '../../src/main/util/json-in-steps';
import { connectClient, startBrowserServer, type BrowserServer } from '../support/browser-server';
import { manyLayerProject, rezip } from '../support/hostile-inputs';
import { measure, startProbe, type Liveness, type Probe } from '../support/liveness';

const BOUND_MS = 100;

describe('browser mode stays live while it reads a large manifest', () => {
  let work: string;
  let server: BrowserServer;
  let probe: Probe;
  let client: AppClient;
  const figures: string[] = [];
  const manifestBytes = { valid: 0, hostile: 0 };
  const inputs = {} as { valid: Uint8Array; hostile: Uint8Array; longList: Uint8Array };

  function expectLive(label: string, result: Liveness<unknown>): void {
    const { busy } = result.loop;
    figures.push(
      `${label}: server loop held p99 ${busy.p99.toFixed(0)} ms, max ${busy.max.toFixed(0)} ms; app.info p99 ${result.p99.toFixed(0)} ms (${result.waits.length} calls)`,
    );
    expect(result.waits.length, `${label}: app.info calls answered`).toBeGreaterThan(0);
    expect(busy.p99, `${label}: server event loop held, p99 (ms)`).toBeLessThanOrEqual(BOUND_MS);
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'liveness-manifest-'));
    const tall = await manyLayerProject(LIMITS.layers);
    // Valid: every layer's instruction as long as the prompt box allows.
    const instruction = 'make the dragon red and put it in a cave '
      .repeat(60)
      .slice(0, LIMITS.instructionChars);
    inputs.valid = rezip(
      tall,
      (_entries, manifest) => {
        for (const layer of manifest.document.layers) {
          layer.request = { ...layer.request, instruction };
          const variants = (layer as unknown as { variants: { request: Record<string, unknown> }[] })
            .variants;
          for (const variant of variants) variant.request = { ...variant.request, instruction };
        }
        manifestBytes.valid = JSON.stringify(manifest).length;
      },
      9,
    );
    // Hostile: 40 MB of well-formed JSON in a key no schema knows, in lists each under the item
    // limit (deflates to a few hundred KB).
    inputs.hostile = rezip(
      await manyLayerProject(1),
      (_entries, manifest) => {
        (manifest as unknown as Record<string, unknown>).padding = Array.from({ length: 100 }, () =>
          new Array<number>(LIMITS.manifestItems - 50_000).fill(0),
        );
        manifestBytes.hostile = JSON.stringify(manifest).length;
      },
      9,
    );
    // Hostile: one list of 20 million items (what made the parser hold the loop for seconds).
    inputs.longList = rezip(
      await manyLayerProject(1),
      (_entries, manifest) => {
        (manifest as unknown as Record<string, unknown>).padding = new Array<number>(20_000_000).fill(0);
      },
      9,
    );
    server = await startBrowserServer(work, { measureLoopDelay: true });
    probe = await startProbe(server.port, server.token);
    client = connectClient(server.port, server.token);
  }, 120_000);

  afterAll(async () => {
    console.log(`liveness figures (large manifests):\n  ${figures.join('\n  ')}`);
    client?.close();
    await probe?.close();
    await server?.close();
    rmSync(work, { recursive: true, force: true });
  }, 30_000);

  it(`opening a ${LIMITS.layers}-layer project whose instructions are all ${LIMITS.instructionChars} characters long`, async () => {
    expect(manifestBytes.valid).toBeGreaterThan(ONE_GO_BYTES);
    const result = await measure(server, probe, () =>
      client.call('document.openBytes', { name: 'long.iedit', bytes: inputs.valid }),
    );
    if (!result.outcome.ok) throw result.outcome.error;
    const view = result.outcome.value;
    expect(view.layers).toHaveLength(LIMITS.layers + 1);
    expect(view.messages).toHaveLength(LIMITS.layers);
    expect(view.messages.every((message) => message.instruction.length === LIMITS.instructionChars)).toBe(
      true,
    );
    expectLive(`open a ${(manifestBytes.valid / 1e6).toFixed(1)} MB manifest`, result);
  });

  it('refusing a project whose manifest is 40 MB of well-formed JSON the schema does not know', async () => {
    expect(manifestBytes.hostile).toBeGreaterThan(38_000_000);
    const result = await measure(server, probe, () =>
      client.call('document.openBytes', { name: 'padded.iedit', bytes: inputs.hostile }),
    );
    expect(result.outcome.ok).toBe(false);
    const error = (result.outcome as { error: { code?: string; message: string } }).error;
    expect(error.message).toMatch(/padded\.iedit.*project\.json does not match the project schema/);
    expectLive(`refuse a ${(manifestBytes.hostile / 1e6).toFixed(0)} MB manifest`, result);
  });

  it(`refusing a project whose manifest holds a list of 20 million items, past the first ${LIMITS.manifestItems.toLocaleString('en')}`, async () => {
    const result = await measure(server, probe, () =>
      client.call('document.openBytes', { name: 'long-list.iedit', bytes: inputs.longList }),
    );
    expect(result.outcome.ok).toBe(false);
    const error = (result.outcome as { error: { code?: string; message: string } }).error;
    expect(error.message).toBe(
      `long-list.iedit: project.json is too large to open: a list or object holds more than ${LIMITS.manifestItems.toLocaleString('en')} items`,
    );
    expectLive('refuse a manifest list of 20 million items', result);
  });
});
