/** The guidance explorer's state: grids per message, progress, the measured step time, and the calls it makes. */
import { beforeEach, describe, expect, it } from 'vitest';
import type { AppClient } from '../../src/shared/contract/client';
import type { CallName } from '../../src/shared/contract/channels';
import type { GridView } from '../../src/shared/contract/schemas';
import { setClient } from '../../src/renderer/src/state/actions';
import {
  applyGridProgress,
  applyGridView,
  closeGridExplorer,
  openGridExplorer,
  startGrid,
} from '../../src/renderer/src/state/grid-actions';
import { getState, setState } from '../../src/renderer/src/state/store';

function grid(patch: Partial<GridView> = {}): GridView {
  return {
    gridId: 'g1',
    messageId: 'm1',
    state: 'running',
    error: null,
    instruction: 'make it red',
    steps: 10,
    seed: 1,
    scheduler: 'euler-ancestral',
    resolution: '512',
    textScales: [3],
    imageScales: [1.5],
    captionBefore: null,
    captionAfter: null,
    clipModel: null,
    processedWidth: 64,
    processedHeight: 64,
    cells: [],
    createdAt: 100,
    ...patch,
  };
}

/** A client that answers from a table and records what was asked. */
function answeringClient(answers: Partial<Record<CallName, unknown>>): AppClient & {
  asked: { name: CallName; request: unknown }[];
} {
  const asked: { name: CallName; request: unknown }[] = [];
  return {
    mode: 'browser',
    asked,
    call: ((name: CallName, request: unknown) => {
      asked.push({ name, request });
      return name in answers
        ? Promise.resolve(answers[name])
        : Promise.reject(new Error(`unexpected ${name}`));
    }) as AppClient['call'],
    on: () => () => undefined,
    onConnectionChange: () => () => undefined,
    close: () => undefined,
  };
}

const progress = {
  gridId: 'g1',
  messageId: 'm1',
  stepsDone: 8,
  totalSteps: 40,
  cellsDone: 0,
  totalCells: 4,
  elapsedMs: 2000,
  cellIndex: 0,
  preview: null,
};

describe('guidance grid state', () => {
  beforeEach(() => setState({ grids: {}, gridProgress: {}, stepMs: null, gridFor: null }));

  it('keeps the newest grid of a message and ignores late updates of an older one', () => {
    applyGridView(grid({ gridId: 'g2', createdAt: 200 }));
    applyGridView(grid({ gridId: 'g1', createdAt: 100, state: 'done' }));
    expect(getState().grids.m1?.gridId).toBe('g2');
    applyGridView(grid({ gridId: 'g2', createdAt: 200, state: 'cancelled' }));
    expect(getState().grids.m1?.state).toBe('cancelled');
  });

  it('records progress and the time of one step, and drops the progress when the grid ends', () => {
    applyGridView(grid());
    applyGridProgress(progress);
    expect(getState().gridProgress.g1?.stepsDone).toBe(8);
    expect(getState().stepMs).toBe(250);
    applyGridView(grid({ state: 'done' }));
    expect(getState().gridProgress.g1).toBeUndefined();
    // A report before the first step leaves the last measurement.
    applyGridProgress({ ...progress, stepsDone: 0, elapsedMs: 40 });
    expect(getState().stepMs).toBe(250);
  });

  it('opens the explorer with the message’s last grid, and starts a grid with the chosen settings', async () => {
    const client = answeringClient({
      'grid.get': { grid: grid({ state: 'done' }) },
      'grid.start': { gridId: 'g1' },
    });
    setClient(client);
    await openGridExplorer('m1');
    expect(getState().gridFor).toBe('m1');
    expect(getState().grids.m1?.state).toBe('done');
    const request = {
      messageId: 'm1',
      textScales: [3, 7.5],
      imageScales: [1, 1.5],
      steps: 4,
      seed: 7,
      captionBefore: null,
      captionAfter: 'a red house',
    };
    expect(await startGrid(request)).toBe('g1');
    expect(client.asked.map((entry) => entry.name)).toEqual(['grid.get', 'grid.start', 'grid.get']);
    expect(client.asked[1]?.request).toEqual(request);
    closeGridExplorer();
    expect(getState().gridFor).toBeNull();
  });
});
