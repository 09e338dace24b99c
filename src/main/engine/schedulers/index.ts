import type { SchedulerName } from '../../../shared/engine-types';
import { DdimScheduler } from './ddim';
import { DpmSolverPlusPlus2MScheduler } from './dpmpp-2m';
import { EulerScheduler } from './euler';
import { EulerAncestralScheduler } from './euler-ancestral';
import type { Scheduler, SchedulerConfig } from './scheduler';

/** A fresh scheduler for one sampling run (multistep schedulers keep state between steps). */
export function createScheduler(name: SchedulerName, config: SchedulerConfig, steps: number): Scheduler {
  if (!Number.isInteger(steps) || steps < 1)
    throw new RangeError(`Steps must be a whole number ≥ 1, got ${steps}`);
  switch (name) {
    case 'euler-ancestral':
      return new EulerAncestralScheduler(config, steps);
    case 'euler':
      return new EulerScheduler(config, steps);
    case 'ddim':
      return new DdimScheduler(config, steps);
    case 'dpmpp-2m':
      return new DpmSolverPlusPlus2MScheduler(config, steps);
  }
}
