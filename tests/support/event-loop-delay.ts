/**
 * Loaded with `--import` into a server process a liveness test starts: measures how late the
 * process's event loop runs between a "loop-delay:start" and a "loop-delay:stop" message on the IPC
 * channel, and answers each stop with the figures in ms. The server's code is not changed; the
 * channel does not keep the process alive.
 *
 * Two measures: `wall`, perf_hooks.monitorEventLoopDelay (what a client sees, including the time
 * the machine gave the process to others), and `busy`: a timer every 5 ms notes the wall time since
 * its last turn and the CPU time the process used meanwhile, and keeps the smaller. On an idle
 * machine the two agree; on a loaded one `busy` still measures how long the server worked without
 * letting anything else in, not how long it waited for a core. The CPU time is the main thread's
 * own where Linux tells it (/proc/self/task/<pid>/schedstat, in ns), so worker threads (the PSD
 * encoder, sharp's) do not count; elsewhere the whole process's, which errs high, never low.
 *
 * `busy` has one sample per turn of the timer, so one hold of a second is one sample among hundreds
 * of 5 ms ones and hardly moves its p99. `busyOverTime` weighs the same holds by how long they
 * lasted, as a caller arriving every 5 ms would have waited: a hold of d ms gives d, d − 5, d − 10 …
 * (the measure, app.info every 10 ms, in the CPU time the server got).
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

const MAIN_THREAD_SCHEDSTAT = `/proc/self/task/${process.pid}/schedstat`;

/** CPU time (ms) of the main thread, or of the whole process where the thread's is not readable. */
function cpuMs(): number {
  try {
    return Number(readFileSync(MAIN_THREAD_SCHEDSTAT, 'latin1').split(' ')[0]) / 1e6;
  } catch {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1000;
  }
}

export interface DelayFigures {
  p50: number;
  p99: number;
  max: number;
  samples: number;
}

export interface LoopDelayReport {
  type: 'loop-delay';
  wall: DelayFigures;
  busy: DelayFigures;
  busyOverTime: DelayFigures;
}

const TICK_MS = 5;

function figures(values: number[]): DelayFigures {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
  return { p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? 0, samples: sorted.length };
}

/** Each hold as the waits of callers arriving every TICK_MS during it (see the file's comment). */
function overTime(held: number[]): number[] {
  const waits: number[] = [];
  for (const ms of held) {
    waits.push(ms);
    for (let wait = ms - TICK_MS; wait > 0; wait -= TICK_MS) waits.push(wait);
  }
  return waits;
}

if (process.send) {
  const histogram = monitorEventLoopDelay({ resolution: TICK_MS });
  let busy: number[] = [];
  let timer: NodeJS.Timeout | null = null;
  let lastWall = 0;
  let lastCpu = cpuMs();
  const tick = () => {
    const wall = performance.now();
    const cpu = cpuMs();
    // Less the timer's own period: what is left is time the loop was held.
    busy.push(Math.max(0, Math.min(wall - lastWall, cpu - lastCpu) - TICK_MS));
    lastWall = wall;
    lastCpu = cpu;
    timer = setTimeout(tick, TICK_MS);
  };
  process.on('message', (message) => {
    if (message === 'loop-delay:start') {
      histogram.reset();
      histogram.enable();
      busy = [];
      lastWall = performance.now();
      lastCpu = cpuMs();
      timer = setTimeout(tick, TICK_MS);
      process.send?.({ type: 'loop-delay-started' });
    } else if (message === 'loop-delay:stop') {
      histogram.disable();
      if (timer) clearTimeout(timer);
      const ms = (ns: number) => ns / 1e6;
      const report: LoopDelayReport = {
        type: 'loop-delay',
        wall: {
          p50: ms(histogram.percentile(50)),
          p99: ms(histogram.percentile(99)),
          max: ms(histogram.max),
          samples: histogram.count,
        },
        busy: figures(busy),
        busyOverTime: figures(overTime(busy)),
      };
      process.send?.(report);
    }
  });
  process.channel?.unref();
}
