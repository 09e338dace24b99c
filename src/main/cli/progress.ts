import type { EditProgress } from '../../shared/engine-types';

export interface ProgressReporter {
  event(name: string, fields: Record<string, unknown>): void;
  progress(progress: EditProgress): void;
  info(message: string): void;
  done(): void;
}

/** One JSON object per line on stdout: easy to consume from scripts. */
export function jsonReporter(
  write: (line: string) => void = (line) => process.stdout.write(line),
): ProgressReporter {
  return {
    event: (name, fields) => write(`${JSON.stringify({ event: name, ...fields })}\n`),
    progress: ({ step, totalSteps, stepMs, elapsedMs }) =>
      write(
        `${JSON.stringify({ event: 'progress', step: step + 1, totalSteps, stepMs: round(stepMs), elapsedMs: round(elapsedMs) })}\n`,
      ),
    info: (message) => write(`${JSON.stringify({ event: 'info', message })}\n`),
    done: () => undefined,
  };
}

/** A redrawn progress bar on a terminal; plain lines when stderr is not a TTY. */
export function humanReporter(stream: NodeJS.WriteStream = process.stderr): ProgressReporter {
  const tty = Boolean(stream.isTTY);
  let drewBar = false;
  return {
    event: (name, fields) => {
      if (name === 'done')
        stream.write(`${drewBar && tty ? '\n' : ''}Wrote ${String(fields.output ?? '')}\n`);
    },
    progress: ({ step, totalSteps, stepMs, elapsedMs }) => {
      const done = step + 1;
      const width = 30;
      const filled = Math.round((done / totalSteps) * width);
      const remainingS = ((totalSteps - done) * (elapsedMs / done)) / 1000;
      const line =
        `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${totalSteps} ` +
        `${(stepMs / 1000).toFixed(2)} s/step, ~${remainingS.toFixed(0)} s left`;
      if (tty) {
        stream.write(`\r${line}`);
        drewBar = true;
      } else if (done === totalSteps || done % 5 === 0) {
        stream.write(`${line}\n`);
      }
    },
    info: (message) => stream.write(`${drewBar && tty ? '\n' : ''}${message}\n`),
    done: () => {
      if (drewBar && tty) stream.write('\n');
    },
  };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
