/**
 * App settings and the recent-files list, as JSON files in the app's config folder (Electron's
 * userData, or ~/.config/instruct-edit in browser mode). Unreadable or invalid files fall back to
 * the defaults instead of stopping the app.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { DEFAULT_EDIT_SETTINGS } from '../../shared/engine-types';
import { appSettingsSchema, type AppSettings } from '../../shared/contract/schemas';
import { writeFileAtomic } from '../util/atomic-write';

/** One spelling per file: no `//`, `/./` or `..`, links resolved where the file exists. */
function canonicalRecent(path: string): string {
  const absolute = resolve(path);
  try {
    return realpathSync.native(absolute);
  } catch {
    return absolute;
  }
}

export const MAX_RECENT = 10;

export function defaultSettings(): AppSettings {
  return {
    provider: 'auto',
    activeModelDir: null,
    models: [],
    editDefaults: { ...DEFAULT_EDIT_SETTINGS },
    downloadRepo: '',
    memoryBudgetGb: null,
    threads: null,
    optimizeDismissed: [],
  };
}

/**
 * Settings files written before a setting existed lack it: such a file keeps what it has and gets
 * the default for the rest (instead of failing the strict schema and losing everything).
 */
export function migrateSettings(stored: unknown): unknown {
  if (typeof stored !== 'object' || stored === null || Array.isArray(stored)) return stored;
  return { ...defaultSettings(), ...stored };
}

function readJson<T>(
  path: string,
  schema: z.ZodType<T>,
  fallback: T,
  migrate: (stored: unknown) => unknown = (stored) => stored,
): T {
  try {
    const parsed = schema.safeParse(migrate(JSON.parse(readFileSync(path, 'utf8'))));
    return parsed.success ? parsed.data : fallback;
  } catch {
    return fallback;
  }
}

export class SettingsStore {
  private settings: AppSettings;
  private recent: string[];
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly dir: string) {
    this.settings = readJson(
      join(dir, 'settings.json'),
      appSettingsSchema,
      defaultSettings(),
      migrateSettings,
    );
    const stored = readJson(join(dir, 'recent.json'), z.array(z.string()).max(100), []);
    this.recent = [...new Set(stored.filter(isAbsolute).map(canonicalRecent))].slice(0, MAX_RECENT);
  }

  get(): AppSettings {
    return structuredClone(this.settings);
  }

  update(change: (settings: AppSettings) => void): AppSettings {
    const next = structuredClone(this.settings);
    change(next);
    this.settings = appSettingsSchema.parse(next);
    this.persist('settings.json', this.settings);
    return this.get();
  }

  recentFiles(): string[] {
    return [...this.recent];
  }

  addRecent(path: string): string[] {
    const canonical = canonicalRecent(path);
    this.recent = [canonical, ...this.recent.filter((entry) => entry !== canonical)].slice(0, MAX_RECENT);
    this.persist('recent.json', this.recent);
    return this.recentFiles();
  }

  clearRecent(): void {
    this.recent = [];
    this.persist('recent.json', this.recent);
  }

  /** Resolves when pending writes are on disk (tests, shutdown). */
  flush(): Promise<void> {
    return this.writing;
  }

  private persist(name: string, value: unknown): void {
    const data = new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);
    this.writing = this.writing
      .then(async () => {
        await mkdir(this.dir, { recursive: true });
        await writeFileAtomic(join(this.dir, name), data);
      })
      .catch((error: unknown) => console.error(`Could not save ${name}:`, error));
  }
}
