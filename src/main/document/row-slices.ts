/**
 * Per-pixel work over a whole picture on the main side, in slices of rows with a turn of the event
 * loop every TURN_MS (util/turns.ts): a 24 MP picture is a second or more of work, and the server
 * answers other calls meanwhile.
 */
import { turnTaker } from '../util/turns';

/** Pixels per slice between looks at the clock: well under a millisecond of work. */
const SLICE_PIXELS = 1 << 16;

/** Calls `work(start, end)` over pixel indices [0, width × height) in whole rows, yielding between slices. */
export async function forRowSlices(
  width: number,
  height: number,
  work: (start: number, end: number) => void,
): Promise<void> {
  const rows = Math.max(1, Math.floor(SLICE_PIXELS / Math.max(1, width)));
  const takeTurn = turnTaker();
  for (let y = 0; y < height; y += rows) {
    work(y * width, Math.min(height, y + rows) * width);
    await takeTurn();
  }
}
