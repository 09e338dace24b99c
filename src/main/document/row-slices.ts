/**
 * Per-pixel work over a whole picture on the main side, in slices of rows with a turn of the event
 * loop every YIELD_EVERY_MS (the pattern of image-io's resampleRgb): a 24 MP picture is a second or
 * more of work, and the server answers other calls meanwhile.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

/** Other calls wait at most about this long (40 ms let another client's app.info p99 pass 100 ms). */
const YIELD_EVERY_MS = 16;
/** Pixels per slice between looks at the clock: well under a millisecond of work. */
const SLICE_PIXELS = 1 << 16;

/** Calls `work(start, end)` over pixel indices [0, width × height) in whole rows, yielding between slices. */
export async function forRowSlices(
  width: number,
  height: number,
  work: (start: number, end: number) => void,
): Promise<void> {
  const rows = Math.max(1, Math.floor(SLICE_PIXELS / Math.max(1, width)));
  let lastYield = performance.now();
  for (let y = 0; y < height; y += rows) {
    work(y * width, Math.min(height, y + rows) * width);
    if (performance.now() - lastYield >= YIELD_EVERY_MS) {
      await nextTurn();
      lastYield = performance.now();
    }
  }
}
