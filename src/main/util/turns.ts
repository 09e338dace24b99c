/**
 * Long work on the main side's event loop (which answers every window's calls), done in pieces
 * with a turn of the loop between them.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

/** How long a piece of work may hold the event loop before other calls get a turn (40 ms let another client's app.info p99 pass 100 ms). */
export const TURN_MS = 16;

/**
 * A function to await between small pieces of work: it gives the event loop a turn once TURN_MS
 * have passed since the last one, and otherwise returns at once.
 */
export function turnTaker(): () => Promise<void> {
  let last = performance.now();
  return async () => {
    if (performance.now() - last < TURN_MS) return;
    await nextTurn();
    last = performance.now();
  };
}

/** Bytes copied per turn by default: a few milliseconds' work. */
const COPY_SLICE_BYTES = 4 * 1024 * 1024;

/** A copy of `data` in an array of its own, `sliceBytes` at a time with a turn between slices. */
export async function copyInSteps(data: Uint8Array, sliceBytes = COPY_SLICE_BYTES): Promise<Uint8Array> {
  const copy = new Uint8Array(data.length);
  for (let from = 0; from < data.length; from += sliceBytes) {
    if (from > 0) await nextTurn();
    copy.set(data.subarray(from, Math.min(data.length, from + sliceBytes)), from);
  }
  return copy;
}
