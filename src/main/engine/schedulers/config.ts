import { ModelFolderError } from '../model-folder';
import type { SchedulerConfig } from './scheduler';

const BETA_SCHEDULES = ['linear', 'scaled_linear', 'squaredcos_cap_v2'] as const;
const SPACINGS = ['linspace', 'leading', 'trailing'] as const;
const PREDICTION_TYPES = ['epsilon', 'v_prediction'] as const;

/** Stable Diffusion 1.5 / InstructPix2Pix values, used where scheduler_config.json is silent. */
export const DEFAULT_SCHEDULER_CONFIG: SchedulerConfig = {
  numTrainTimesteps: 1000,
  betaStart: 0.00085,
  betaEnd: 0.012,
  betaSchedule: 'scaled_linear',
  stepsOffset: 1,
  timestepSpacing: 'linspace',
  predictionType: 'epsilon',
  setAlphaToOne: false,
  useKarrasSigmas: false,
};

/** Reads diffusers' scheduler_config.json (snake_case keys); unknown keys are ignored. */
export function parseSchedulerConfig(raw: unknown): SchedulerConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ModelFolderError('scheduler/scheduler_config.json must hold a JSON object');
  }
  const json = raw as Record<string, unknown>;
  const problems: string[] = [];

  const positiveInteger = (key: string, fallback: number): number => {
    const value = json[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value === 'number' && Number.isInteger(value) && value > 0) return value;
    problems.push(`${key} must be a positive whole number, got ${JSON.stringify(value)}`);
    return fallback;
  };
  const nonNegativeInteger = (key: string, fallback: number): number => {
    const value = json[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
    problems.push(`${key} must be a whole number ≥ 0, got ${JSON.stringify(value)}`);
    return fallback;
  };
  const beta = (key: string, fallback: number): number => {
    const value = json[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value === 'number' && value > 0 && value < 1) return value;
    problems.push(`${key} must be a number between 0 and 1, got ${JSON.stringify(value)}`);
    return fallback;
  };
  const oneOf = <T extends string>(key: string, allowed: readonly T[], fallback: T): T => {
    const value = json[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
    problems.push(`${key} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
    return fallback;
  };
  const flag = (key: string, fallback: boolean): boolean => {
    const value = json[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value === 'boolean') return value;
    problems.push(`${key} must be true or false, got ${JSON.stringify(value)}`);
    return fallback;
  };

  if (Array.isArray(json.trained_betas)) {
    problems.push('trained_betas (a custom beta table) is not supported; use a beta_schedule');
  }
  const d = DEFAULT_SCHEDULER_CONFIG;
  const config: SchedulerConfig = {
    numTrainTimesteps: positiveInteger('num_train_timesteps', d.numTrainTimesteps),
    betaStart: beta('beta_start', d.betaStart),
    betaEnd: beta('beta_end', d.betaEnd),
    betaSchedule: oneOf('beta_schedule', BETA_SCHEDULES, d.betaSchedule),
    stepsOffset: nonNegativeInteger('steps_offset', d.stepsOffset),
    timestepSpacing: oneOf('timestep_spacing', SPACINGS, d.timestepSpacing),
    predictionType: oneOf('prediction_type', PREDICTION_TYPES, d.predictionType),
    setAlphaToOne: flag('set_alpha_to_one', d.setAlphaToOne),
    useKarrasSigmas: flag('use_karras_sigmas', d.useKarrasSigmas),
  };
  if (config.betaEnd < config.betaStart) problems.push('beta_end must not be below beta_start');
  if (problems.length > 0) {
    throw new ModelFolderError(`scheduler/scheduler_config.json: ${problems.join('; ')}`);
  }
  return config;
}
