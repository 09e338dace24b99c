/**
 * Model-based random test of the document's history (issue 12): random operation sequences go
 * through DocumentSession's public API with the fake edit engine, and after every operation:
 *  - undo to the start gives the initial document, redo to the end the current one (records and
 *    composite pixels; layers that never had a result in this session stay outside history);
 *  - save → load → save gives the same bytes, and the loaded records are the saved ones;
 *  - every layer's status equals one recomputed from scratch;
 *  - a rejected call changes nothing and adds no history; a call that should be rejected is;
 *  - cancelling a queued job changes no layer but its own (a brand-new one is left as cancelled).
 * A closed gate holds the engine, so results land only during `wait`, `rerun-stale` and `save-load`.
 *
 * CI runs a fixed seed list plus one random seed (printed in the test's name). More runs:
 * HISTORY_FUZZ_RUNS (total runs), HISTORY_FUZZ_OPS (operations per run), HISTORY_FUZZ_SEED (one seed).
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  computeStatus,
  DocumentActionError,
  type BlendMode,
  type DocumentAction,
  type DocumentRecord,
} from '../../src/shared/document';
import { DEFAULT_EDIT_SETTINGS, type EditSettings, type RgbImage } from '../../src/shared/engine-types';
import { blendInto } from '../../src/main/document/composite';
import { CANCELLED_FAILURE, DocumentSession } from '../../src/main/document/session';
import { DocumentStateError } from '../../src/main/document/errors';
import { PixelStore } from '../../src/main/document/pixel-store';
import { encodeProject, loadProject } from '../../src/main/document/project-file';
import { EngineGate, fakeEditEngine } from './fake-edit-engine';

const TOTAL_RUNS = Number(process.env.HISTORY_FUZZ_RUNS ?? 200);
const OPS = Number(process.env.HISTORY_FUZZ_OPS ?? 40);
const FIXED_SEEDS = [12, 1207, 31337, 424242];
const RANDOM_SEED = Number(process.env.HISTORY_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const SEEDS = process.env.HISTORY_FUZZ_SEED ? [RANDOM_SEED] : [...FIXED_SEEDS, RANDOM_SEED];
const RUNS_PER_SEED = Math.max(1, Math.round(TOTAL_RUNS / SEEDS.length));

const WIDTH = 8;
const HEIGHT = 6;
/** A run with this seed fails with this message. */
const FAILING_SEED = 42;
const FAILURE = 'boom';

// ---- Operations -----------------------------------------------------------------------------------

const layerPick = fc.nat({ max: 9 });
const seed = fc.constantFrom(0, 1, 3, FAILING_SEED);

type Op =
  | { type: 'skip' }
  | { type: 'enqueue'; instruction: string; textGuidance: number; seed: number }
  | { type: 'rerun'; layer: number; textGuidance: number; seed: number }
  | { type: 'cancel'; job: number }
  | { type: 'wait'; all: boolean }
  | { type: 'pick'; layer: number; variant: number }
  | { type: 'mask'; layer: number; how: 'paint' | 'clear' | 'wrong-size' | 'rgb'; value: number }
  | { type: 'opacity'; layer: number; opacity: number }
  | { type: 'visibility'; layer: number; visible: boolean }
  | { type: 'blend'; layer: number; blendMode: string }
  | { type: 'move'; layer: number; to: number }
  | { type: 'delete'; layer: number }
  | { type: 'duplicate'; layer: number }
  | { type: 'rename'; layer: number; name: string }
  | { type: 'undo' }
  | { type: 'redo' }
  | { type: 'rerun-stale' }
  | { type: 'save-load' };

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  // Shrinking turns operations into skips (the array keeps its length), so a failure shrinks to
  // the few operations that matter.
  { withCrossShrink: true },
  { arbitrary: fc.constant({ type: 'skip' as const }), weight: 1 },
  {
    arbitrary: fc.record({
      type: fc.constant('enqueue' as const),
      instruction: fc.constantFrom('A', 'B', 'C', '  '),
      textGuidance: fc.integer({ min: 1, max: 4 }),
      seed,
    }),
    weight: 8,
  },
  {
    arbitrary: fc.record({
      type: fc.constant('rerun' as const),
      layer: layerPick,
      textGuidance: fc.integer({ min: 1, max: 4 }),
      seed,
    }),
    weight: 5,
  },
  { arbitrary: fc.record({ type: fc.constant('cancel' as const), job: fc.nat({ max: 20 }) }), weight: 4 },
  { arbitrary: fc.record({ type: fc.constant('wait' as const), all: fc.boolean() }), weight: 6 },
  {
    arbitrary: fc.record({
      type: fc.constant('pick' as const),
      layer: layerPick,
      variant: fc.nat({ max: 3 }),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      type: fc.constant('mask' as const),
      layer: layerPick,
      how: fc.constantFrom('paint' as const, 'clear' as const, 'wrong-size' as const, 'rgb' as const),
      value: fc.constantFrom(0, 128, 255),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      type: fc.constant('opacity' as const),
      layer: layerPick,
      opacity: fc.constantFrom(0, 0.5, 1, 1.5),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      type: fc.constant('visibility' as const),
      layer: layerPick,
      visible: fc.boolean(),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      type: fc.constant('blend' as const),
      layer: layerPick,
      blendMode: fc.constantFrom('normal', 'multiply', 'screen', 'overlay'),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      type: fc.constant('move' as const),
      layer: layerPick,
      to: fc.integer({ min: -1, max: 6 }),
    }),
    weight: 3,
  },
  { arbitrary: fc.record({ type: fc.constant('delete' as const), layer: layerPick }), weight: 2 },
  { arbitrary: fc.record({ type: fc.constant('duplicate' as const), layer: layerPick }), weight: 2 },
  {
    arbitrary: fc.record({
      type: fc.constant('rename' as const),
      layer: layerPick,
      name: fc.constantFrom('renamed', ' \t '),
    }),
    weight: 2,
  },
  { arbitrary: fc.constant({ type: 'undo' as const }), weight: 6 },
  { arbitrary: fc.constant({ type: 'redo' as const }), weight: 4 },
  { arbitrary: fc.constant({ type: 'rerun-stale' as const }), weight: 2 },
  { arbitrary: fc.constant({ type: 'save-load' as const }), weight: 1 },
);

// ---- The system under test and what the test knows about it ---------------------------------------

function picture(): RgbImage {
  const data = new Uint8Array(WIDTH * HEIGHT * 3);
  for (let i = 0; i < WIDTH * HEIGHT; i++) data.set([(i * 7) % 200, (i * 13) % 200, 90], i * 3);
  return { width: WIDTH, height: HEIGHT, data };
}

function settings(instruction: string, textGuidance: number, runSeed: number): EditSettings {
  return {
    ...DEFAULT_EDIT_SETTINGS,
    resolution: 'native',
    steps: 1,
    instruction,
    textGuidance,
    seed: runSeed,
  };
}

interface World {
  session: DocumentSession;
  gate: EngineGate;
  engine: ReturnType<typeof fakeEditEngine>;
  /** The document when the session was opened (history empty), and its composite. */
  initial: { doc: DocumentRecord; pixels: number[] };
  /** Layers this session created by enqueue: outside history until their first result lands. */
  enqueued: Set<string>;
  /** Jobs in the order queued, and those that created their layer. */
  jobs: string[];
  creatingJobs: Set<string>;
  duplicates: number;
}

async function openWorld(): Promise<World> {
  const gate = new EngineGate(false);
  const engine = fakeEditEngine({
    gate,
    failWhen: (s) => (s.seed === FAILING_SEED ? FAILURE : null),
  });
  const session = DocumentSession.fromImage(
    { image: picture(), notices: [], format: 'png', fileName: 'fuzz.png' },
    { engine, store: new PixelStore(), now: () => 1000 },
  );
  return {
    session,
    gate,
    engine,
    initial: { doc: session.doc, pixels: await composite(session) },
    enqueued: new Set(),
    jobs: [],
    creatingJobs: new Set(),
    duplicates: 0,
  };
}

async function composite(session: DocumentSession): Promise<number[]> {
  return [...(await session.compositeBelow(null)).data];
}

/**
 * The composite below `layerId` in `doc`, walked here from the records (blending itself is tested in
 * composite.test.ts): staleness checked against pixels rather than against the session's own parts.
 */
async function compositeBelow(
  session: DocumentSession,
  doc: DocumentRecord,
  layerId: string,
): Promise<number[]> {
  const base = await session.store.getRgb(doc.base.pixels);
  const out: RgbImage = { ...base, data: new Uint8Array(base.data) };
  for (const id of doc.order) {
    if (id === layerId) break;
    const layer = doc.layers[id]!;
    const variant = layer.variants.find((v) => v.id === layer.activeVariantId);
    if (!layer.visible || !variant) continue;
    blendInto(out, {
      pixels: await session.store.getRgb(variant.pixels),
      opacity: Math.round(layer.opacity * 255),
      blendMode: layer.blendMode,
      mask: layer.mask ? await session.store.getGray(layer.mask) : null,
    });
  }
  return [...out.data];
}

/** Lets queued jobs reach the engine (where the closed gate holds them). */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

async function withGateOpen<T>(world: World, work: () => Promise<T>): Promise<T> {
  world.gate.open();
  try {
    return await work();
  } finally {
    world.gate.close();
  }
}

/** Records without the derived statuses. */
function withoutStatus(doc: DocumentRecord): unknown {
  return {
    ...doc,
    layers: Object.fromEntries(Object.entries(doc.layers).map(([id, l]) => [id, { ...l, status: null }])),
  };
}

/** What history describes: the records without layers that never had a result in this session. */
function historyPart(doc: DocumentRecord, enqueued: ReadonlySet<string>): unknown {
  const outside = (id: string): boolean => enqueued.has(id) && (doc.layers[id]?.variants.length ?? 0) === 0;
  const layers = Object.fromEntries(
    Object.entries(doc.layers)
      .filter(([id]) => !outside(id))
      .map(([id, l]) => [id, { ...l, status: null }]),
  );
  return { ...doc, layers, order: doc.order.filter((id) => !outside(id)) };
}

class InvariantError extends Error {
  override name = 'InvariantError';
}

async function invariant(name: string, check: () => void | Promise<void>): Promise<void> {
  try {
    await check();
  } catch (error) {
    if (error instanceof InvariantError) throw error;
    throw new InvariantError(`invariant “${name}” broken: ${(error as Error).message}`);
  }
}

// ---- Running one operation ----------------------------------------------------------------------

function layerId(world: World, pick: number): string {
  const order = world.session.doc.order;
  return pick < order.length ? (order[pick] as string) : 'no-such-layer';
}

/** Runs a call that may be refused; a refusal must change nothing. `mustRefuse`: it has to be. */
async function attempt(world: World, what: string, mustRefuse: boolean, call: () => unknown): Promise<void> {
  const { session } = world;
  const doc = session.doc;
  const history = session.history.list();
  const revision = session.revision;
  let refused: unknown = null;
  try {
    await call();
  } catch (error) {
    refused = error;
  }
  await invariant('rejected calls change nothing and add no history', () => {
    if (refused === null) {
      if (mustRefuse) throw new Error(`${what} was accepted`);
      return;
    }
    if (!(refused instanceof DocumentActionError || refused instanceof DocumentStateError))
      throw new Error(`${what} failed with ${String(refused)}`);
    if (!mustRefuse) throw new Error(`${what} was refused: ${refused.message}`);
    expect(session.doc).toEqual(doc);
    expect(session.history.list()).toEqual(history);
    expect(session.revision).toBe(revision);
  });
}

function apply(world: World, action: DocumentAction, mustRefuse: boolean): Promise<void> {
  return attempt(world, action.type, mustRefuse, () => world.session.apply(action));
}

async function runOp(world: World, op: Op): Promise<void> {
  const { session } = world;
  switch (op.type) {
    case 'skip':
      return;
    case 'enqueue':
      return attempt(world, 'enqueue', op.instruction.trim() === '', () => {
        const { jobId, layerId: id } = session.enqueue(settings(op.instruction, op.textGuidance, op.seed));
        world.jobs.push(jobId);
        world.creatingJobs.add(jobId);
        world.enqueued.add(id);
      });
    case 'rerun': {
      const id = layerId(world, op.layer);
      const layer = session.doc.layers[id];
      const busy = session.jobPhases().has(id);
      const before = session.doc;
      const history = session.history.list();
      await attempt(world, 'rerun', layer === undefined || busy, () => {
        const instruction = layer?.request.instruction ?? 'A';
        world.jobs.push(
          session.enqueue(settings(instruction, op.textGuidance, op.seed), { rerunOf: id }).jobId,
        );
      });
      if (layer && !busy)
        await invariant('queueing a re-run changes nothing but statuses', () => {
          expect(withoutStatus(session.doc)).toEqual(withoutStatus(before));
          expect(session.history.list()).toEqual(history);
        });
      return;
    }
    case 'cancel': {
      const jobId = world.jobs[op.job % Math.max(1, world.jobs.length)];
      if (jobId === undefined) return;
      const phases = [...session.jobPhases().entries()];
      const target = phases.find(([, p]) => p.jobId === jobId);
      const queued = target !== undefined && target[1].phase === 'queued';
      const before = session.doc;
      const history = session.history.list();
      const pixels = await composite(session);
      session.cancel(jobId);
      await settle();
      if (!queued || !target) return;
      const [id] = target;
      await invariant('cancelling a queued job leaves the document as before', async () => {
        expect(session.history.list()).toEqual(history);
        expect(await composite(session)).toEqual(pixels);
        const now = withoutStatus(session.doc) as { layers: Record<string, unknown> };
        const then = withoutStatus(before) as { layers: Record<string, unknown> };
        expect(session.doc.order).toEqual(before.order);
        for (const other of before.order)
          if (other !== id) expect(now.layers[other]).toEqual(then.layers[other]);
        // A brand-new layer stays, marked cancelled (to re-run or delete); any other is untouched.
        const cancelled = { ...(then.layers[id] as object), failure: CANCELLED_FAILURE };
        if (world.creatingJobs.has(jobId) && !isDeepStrictEqual(now.layers[id], then.layers[id]))
          expect(now.layers[id]).toEqual(cancelled);
        else expect(now.layers[id]).toEqual(then.layers[id]);
      });
      return;
    }
    case 'wait':
      await withGateOpen(world, async () => {
        if (op.all) await session.idle();
        else {
          const next = [...session.jobPhases().values()][0];
          if (next) await session.waitFor(next.jobId);
        }
      });
      return;
    case 'pick': {
      const id = layerId(world, op.layer);
      const variants = session.doc.layers[id]?.variants ?? [];
      const variantId = variants[op.variant]?.id;
      return apply(
        world,
        { type: 'pick-variant', layerId: id, variantId: variantId ?? 'no-such-variant' },
        variantId === undefined,
      );
    }
    case 'mask': {
      const id = layerId(world, op.layer);
      const missing = session.doc.layers[id] === undefined;
      if (op.how === 'clear')
        return apply(world, { type: 'set-mask', layerId: id, mask: null, how: 'clear' }, missing);
      const mask =
        op.how === 'rgb'
          ? session.store.putRgb(picture())
          : session.store.putGray({
              width: op.how === 'wrong-size' ? WIDTH - 1 : WIDTH,
              height: HEIGHT,
              data: new Uint8Array((op.how === 'wrong-size' ? WIDTH - 1 : WIDTH) * HEIGHT).fill(op.value),
            });
      return apply(
        world,
        { type: 'set-mask', layerId: id, mask, how: 'paint' },
        missing || op.how !== 'paint',
      );
    }
    case 'opacity': {
      const id = layerId(world, op.layer);
      const bad = session.doc.layers[id] === undefined || op.opacity > 1;
      return apply(world, { type: 'set-opacity', layerId: id, opacity: op.opacity }, bad);
    }
    case 'visibility': {
      const id = layerId(world, op.layer);
      return apply(
        world,
        { type: 'set-visibility', layerId: id, visible: op.visible },
        session.doc.layers[id] === undefined,
      );
    }
    case 'blend': {
      const id = layerId(world, op.layer);
      const bad = session.doc.layers[id] === undefined || op.blendMode === 'overlay';
      return apply(world, { type: 'set-blend-mode', layerId: id, blendMode: op.blendMode as BlendMode }, bad);
    }
    case 'move': {
      const id = layerId(world, op.layer);
      const bad = session.doc.layers[id] === undefined || op.to < 0 || op.to >= session.doc.order.length;
      return apply(world, { type: 'move-layer', layerId: id, toIndex: op.to }, bad);
    }
    case 'delete': {
      const id = layerId(world, op.layer);
      return apply(world, { type: 'delete-layer', layerId: id }, session.doc.layers[id] === undefined);
    }
    case 'duplicate': {
      const id = layerId(world, op.layer);
      const newId = `dup-${++world.duplicates}`;
      return apply(
        world,
        { type: 'duplicate-layer', layerId: id, newId },
        session.doc.layers[id] === undefined,
      );
    }
    case 'rename': {
      const id = layerId(world, op.layer);
      const bad = session.doc.layers[id] === undefined || op.name.trim() === '';
      return apply(world, { type: 'rename-layer', layerId: id, name: op.name }, bad);
    }
    case 'undo':
      session.undo();
      return;
    case 'redo':
      session.redo();
      return;
    case 'rerun-stale':
      await attempt(world, 'rerunStale', false, () => withGateOpen(world, () => session.rerunStale()));
      return;
    case 'save-load': {
      await withGateOpen(world, () => session.idle());
      const bytes = await encodeProject(session.doc, session.store, { savedAt: 0 });
      const loaded = await loadProject(bytes);
      await session.dispose();
      world.session = new DocumentSession(loaded.doc, loaded.store, {
        engine: world.engine,
        now: () => 1000,
      });
      world.initial = { doc: world.session.doc, pixels: await composite(world.session) };
      world.enqueued.clear();
      world.jobs = [];
      world.creatingJobs.clear();
      return;
    }
  }
}

// ---- Invariants after every operation --------------------------------------------------------------

async function checkInvariants(world: World): Promise<void> {
  const { session } = world;
  const doc = session.doc;
  const phases = new Map([...session.jobPhases()].map(([id, job]) => [id, job.phase]));

  await invariant('staleness equals a recomputation from scratch', () => {
    const fresh = JSON.parse(JSON.stringify(doc)) as DocumentRecord;
    for (const id of doc.order) {
      const layer = doc.layers[id]!;
      expect({ id, status: layer.status }).toEqual({
        id,
        status: computeStatus(fresh, fresh.layers[id]!, phases.get(id)),
      });
    }
  });

  await invariant('a fresh layer’s result was made from the pixels below it now', async () => {
    for (const id of doc.order) {
      const layer = doc.layers[id]!;
      const variant = layer.variants.find((v) => v.id === layer.activeVariantId);
      if (layer.status.state !== 'fresh' || !variant) continue;
      const source = await session.store.getRgb(variant.source);
      expect({ id, source: [...source.data] }).toEqual({
        id,
        source: await compositeBelow(session, doc, id),
      });
    }
  });

  const history = session.history.list();
  const pixels = await composite(session);
  await invariant('undo to the start equals the initial document', async () => {
    for (let i = 0; i < history.done; i++) expect(session.undo()).toBe(true);
    expect(session.undo()).toBe(false);
    expect(historyPart(session.doc, world.enqueued)).toEqual(historyPart(world.initial.doc, world.enqueued));
    expect(await composite(session)).toEqual(world.initial.pixels);
  });
  await invariant('redo to the end equals the current document', async () => {
    for (let i = 0; i < history.done; i++) expect(session.redo()).toBe(true);
    expect(session.history.list()).toEqual(history);
    expect(session.doc).toEqual(doc);
    expect(await composite(session)).toEqual(pixels);
  });

  await invariant('save → load → save is identical', async () => {
    const saved = await encodeProject(session.doc, session.store, { savedAt: 0 });
    const loaded = await loadProject(saved);
    expect(withoutStatus(loaded.doc)).toEqual(withoutStatus(session.doc));
    const again = await encodeProject(loaded.doc, loaded.store, { savedAt: 0 });
    expect(Buffer.from(again).equals(Buffer.from(saved))).toBe(true);
  });
}

async function runSequence(ops: Op[]): Promise<void> {
  const world = await openWorld();
  try {
    for (const [i, op] of ops.entries()) {
      try {
        await runOp(world, op);
        await settle();
        await checkInvariants(world);
      } catch (error) {
        const done = ops.slice(0, i + 1).filter((o) => o.type !== 'skip');
        throw new Error(`after ${JSON.stringify(done)}:\n${(error as Error).message}`, { cause: error });
      }
    }
  } finally {
    world.gate.open();
    await world.session.dispose();
  }
}

describe('history under random operation sequences (model-based)', () => {
  it.each(SEEDS)(
    `holds its invariants: ${RUNS_PER_SEED} runs × ${OPS} operations, seed %i`,
    async (runSeed) => {
      await fc.assert(
        fc.asyncProperty(fc.array(opArbitrary, { minLength: OPS, maxLength: OPS }), runSequence),
        { seed: runSeed, numRuns: RUNS_PER_SEED, endOnFailure: false },
      );
    },
    // Generous: a failure's shrinking replays many sequences (no timing is asserted).
    60_000 + RUNS_PER_SEED * OPS * 100,
  );
});
