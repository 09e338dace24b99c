import { parseMemoryBudget, type MemoryBudgetSetting } from '../engine/memory-budget';
import type { PipelineLoadOptions } from '../engine/pipeline';
import {
  PROVIDER_NAMES,
  SCHEDULER_NAMES,
  type ProviderName,
  type SchedulerName,
} from '../../shared/engine-types';

/** A user error in the command line: printed as one line, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function requireString(values: Record<string, unknown>, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

export function optionalNumber(
  values: Record<string, unknown>,
  name: string,
  {
    integer = false,
    min = -Infinity,
    max = Infinity,
  }: { integer?: boolean; min?: number; max?: number } = {},
): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(value)) {
    throw new UsageError(`--${name} must be a number, got '${String(raw)}'`);
  }
  if (integer && !Number.isInteger(value))
    throw new UsageError(`--${name} must be a whole number, got ${raw}`);
  if (value < min || value > max) throw new UsageError(`--${name} must be from ${min} to ${max}, got ${raw}`);
  return value;
}

export function parseScheduler(raw: unknown): SchedulerName | undefined {
  if (raw === undefined) return undefined;
  if (!(SCHEDULER_NAMES as readonly unknown[]).includes(raw)) {
    throw new UsageError(`--scheduler must be one of ${SCHEDULER_NAMES.join(', ')}, got '${String(raw)}'`);
  }
  return raw as SchedulerName;
}

export function parseProvider(raw: unknown): ProviderName {
  if (raw === undefined) return 'auto';
  if (!(PROVIDER_NAMES as readonly unknown[]).includes(raw)) {
    throw new UsageError(`--provider must be one of ${PROVIDER_NAMES.join(', ')}, got '${String(raw)}'`);
  }
  return raw as ProviderName;
}

export function parseResolution(raw: unknown): '512' | 'native' | undefined {
  if (raw === undefined) return undefined;
  if (raw !== '512' && raw !== 'native')
    throw new UsageError(`--resolution must be 512 or native, got '${String(raw)}'`);
  return raw;
}

/** The options every command that loads the engine accepts. */
export const ENGINE_OPTIONS = {
  provider: { type: 'string' },
  'memory-budget': { type: 'string' },
  threads: { type: 'string' },
} as const;

export function parseMemoryBudgetArg(raw: unknown): MemoryBudgetSetting | undefined {
  if (raw === undefined) return undefined;
  try {
    return parseMemoryBudget(String(raw));
  } catch (error) {
    throw new UsageError(`--memory-budget: ${(error as Error).message}`);
  }
}

/** --provider, --memory-budget (6GB, 512MB, auto) and --threads as pipeline load options. */
export function engineOptionsFromArgs(values: Record<string, unknown>): PipelineLoadOptions {
  const threads = optionalNumber(values, 'threads', { integer: true, min: 1, max: 256 });
  const memoryBudget = parseMemoryBudgetArg(values['memory-budget']);
  return {
    provider: parseProvider(values.provider),
    ...(memoryBudget === undefined ? {} : { memoryBudget }),
    ...(threads === undefined ? {} : { threads }),
  };
}
