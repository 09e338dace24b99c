/**
 * Vitest global setup: builds the app (`electron-vite build` into out/) once before any test file
 * runs. Several files read the built bundles (the main-process import check, the packaging test);
 * building in each of them raced when they ran in parallel, one emptying out/ while another packed it.
 */
import { join } from 'node:path';

export default async function buildAppOnce(): Promise<void> {
  const { build } = await import('electron-vite');
  await build({ root: join(__dirname, '..'), logLevel: 'warn' });
}
