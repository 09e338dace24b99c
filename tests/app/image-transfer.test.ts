/**
 * Large images between the engine host and the engine worker travel in pieces
 * (src/main/app/engine/image-transfer.ts): the sender and the assembler on their own, then through
 * the real worker (the fake engine in a child process) with a launcher that watches every message
 * on the channel, cancels, and kills the worker halfway through a transfer in either direction.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  EngineCrashedError,
  EngineHost,
  type WorkerHandle,
  type WorkerLauncher,
} from '../../src/main/app/engine-host';
import { FAKE_ENGINE_FILE } from '../../src/main/app/engine/fake-engine';
import { ImageAssembler, ImageSender, TransferStoppedError } from '../../src/main/app/engine/image-transfer';
import { createNodeLauncher } from '../../src/main/app/engine/node-launcher';
import {
  IMAGE_PIECE_BYTES,
  type HostToWorker,
  type ImagePiece,
  type OnWire,
  type WorkerToHost,
} from '../../src/main/app/engine/protocol';
import { CANCELLED_ERROR_NAME, type EditSettings, type RgbImage } from '../../src/shared/engine-types';

/** Odd sides, 9.1 MB: five pieces, the last one short. */
const WIDTH = 2011;
const HEIGHT = 1517;

function noiseImage(width: number, height: number, seed: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    data[i] = s >>> 24;
  }
  return { width, height, data };
}

const settings = (instruction: string, steps = 2): EditSettings => ({
  instruction,
  steps,
  textGuidance: 7.5,
  imageGuidance: 1.5,
  seed: 5,
  scheduler: 'euler-ancestral',
  resolution: 'native',
});

/** The fake engine's tint (src/main/app/engine/fake-engine.ts), written out again. */
function fakeTint(source: Uint8Array, target: [number, number, number], seed: number): Uint8Array {
  const strength = Math.min(1, 7.5 / (7.5 + 1.5 * 2));
  const out = new Uint8Array(source.length);
  for (let i = 0; i < source.length; i++) {
    const value = source[i]! * (1 - strength) + target[i % 3]! * strength + (((seed + i) % 7) - 3);
    out[i] = Math.max(0, Math.min(255, Math.round(value)));
  }
  return out;
}

function fakeModel(stepDelayMs = 5): string {
  const dir = mkdtempSync(join(tmpdir(), 'fake-model-'));
  writeFileSync(join(dir, FAKE_ENGINE_FILE), JSON.stringify({ stepDelayMs }));
  return dir;
}

/** The largest typed array anywhere in a message (pieces included). */
function largestArray(value: unknown): number {
  if (ArrayBuffer.isView(value)) return value.byteLength;
  if (typeof value !== 'object' || value === null) return 0;
  return Math.max(0, ...Object.values(value).map(largestArray));
}

interface Watch {
  /** Every message in each direction, as it went over the channel. */
  sent: HostToWorker[];
  received: WorkerToHost[];
  /** For each message sent, how many turns of the host's event loop had passed. */
  sentAtTurn: number[];
  onSend?: (message: HostToWorker, handle: WorkerHandle) => void;
  onReceive?: (message: WorkerToHost, handle: WorkerHandle) => void;
}

/**
 * The Node launcher with the fake engine, every message on the channel recorded; `parentPort` runs
 * the worker as Electron's utilityProcess would (tests/support/parent-port-worker.ts).
 */
function watchingLauncher(watch: Watch, options: { parentPort?: boolean } = {}): WorkerLauncher {
  const launch = createNodeLauncher({
    engine: 'fake',
    ...(options.parentPort ? { entry: join(__dirname, '../support/parent-port-worker.ts') } : {}),
  });
  let turns = 0;
  const ticker = () => {
    turns++;
    timer = setImmediate(ticker);
  };
  let timer = setImmediate(ticker);
  stopTickers.push(() => clearImmediate(timer));
  return () => {
    const handle = launch();
    return {
      get pid() {
        return handle.pid;
      },
      send(message) {
        watch.sent.push(message);
        watch.sentAtTurn.push(turns);
        handle.send(message);
        watch.onSend?.(message, handle);
      },
      onMessage(listener) {
        handle.onMessage((message) => {
          watch.received.push(message);
          watch.onReceive?.(message, handle);
          listener(message);
        });
      },
      onExit: (listener) => handle.onExit(listener),
      kill: () => handle.kill(),
    };
  };
}

const stopTickers: (() => void)[] = [];

function newWatch(): Watch {
  return { sent: [], received: [], sentAtTurn: [] };
}

const pieces = <T extends { type: string }>(messages: T[]) =>
  messages.filter((message): message is T & ImagePiece => message.type === 'imagePiece');

describe('ImageSender and ImageAssembler', () => {
  it('send large images ahead in pieces, small ones inline, and put every one back where it was', async () => {
    const large = noiseImage(WIDTH, HEIGHT, 1);
    const small = noiseImage(31, 17, 2);
    const channel: (OnWire<Message> | ImagePiece)[] = [];
    type Message = { type: 'x'; jobId: string; images: RgbImage[]; mask: RgbImage; label: string };
    const sender = new ImageSender<Message>((message) => channel.push(message));
    await sender.post({ type: 'x', jobId: 'j1', images: [large, small], mask: large, label: 'kept' });

    const sentPieces = pieces(channel);
    const perImage = Math.ceil(large.data.byteLength / IMAGE_PIECE_BYTES);
    expect(perImage).toBe(5);
    expect(sentPieces).toHaveLength(2 * perImage);
    expect(Math.max(...sentPieces.map((piece) => piece.data.byteLength))).toBe(IMAGE_PIECE_BYTES);
    // Fresh arrays: structured clone would copy the whole buffer behind a view.
    for (const piece of sentPieces) expect(piece.data.byteLength).toBe(piece.data.buffer.byteLength);
    const wire = channel.at(-1) as OnWire<Message>;
    expect(wire.images[0]).toEqual({ imageInPieces: 1, width: WIDTH, height: HEIGHT });
    expect(wire.images[1]).toEqual(small);
    expect(largestArray(wire)).toBe(small.data.byteLength);

    const assembler = new ImageAssembler();
    for (const piece of sentPieces) assembler.accept(piece);
    const unpacked = assembler.unpack<Message>(wire);
    expect(Buffer.from(unpacked.images[0]!.data).equals(large.data)).toBe(true);
    expect(Buffer.from(unpacked.mask.data).equals(large.data)).toBe(true);
    expect(unpacked.images[0]!.width).toBe(WIDTH);
    expect(unpacked.images[1]).toEqual(small);
    expect(unpacked.label).toBe('kept');
    expect(assembler.pending).toBe(0);
  });

  it('stops between pieces when told, and sends what is posted later', async () => {
    const channel: unknown[] = [];
    const sender = new ImageSender<{ type: 'x'; jobId: string; image: RgbImage }>((message) =>
      channel.push(message),
    );
    const image = noiseImage(WIDTH, HEIGHT, 3);
    const stopped = sender.post({ type: 'x', jobId: 'a', image }, () => channel.length >= 2);
    const next = sender.post({ type: 'x', jobId: 'b', image: noiseImage(2, 2, 4) });
    await expect(stopped).rejects.toBeInstanceOf(TransferStoppedError);
    await next;
    expect(channel.map((message) => (message as { type: string }).type)).toEqual([
      'imagePiece',
      'imagePiece',
      'x',
    ]);
    expect((channel[2] as { jobId: string }).jobId).toBe('b');
  });

  it('refuses an image whose pieces did not all arrive, and forgets a discarded or dropped job', async () => {
    const channel: (OnWire<{ type: 'x'; jobId: string; image: RgbImage }> | ImagePiece)[] = [];
    const sender = new ImageSender<{ type: 'x'; jobId: string; image: RgbImage }>((message) =>
      channel.push(message),
    );
    await sender.post({ type: 'x', jobId: 'j', image: noiseImage(WIDTH, HEIGHT, 5) });
    const [first, second, ...rest] = pieces(channel);
    const wire = channel.at(-1)!;

    const missing = new ImageAssembler();
    missing.accept(first!);
    expect(() => missing.unpack(wire)).toThrow('incomplete: 2097152 of 9152061 bytes arrived');
    const outOfOrder = new ImageAssembler();
    outOfOrder.accept(first!);
    outOfOrder.accept(rest[0]!);
    outOfOrder.accept(second!);
    expect(() => outOfOrder.unpack(wire)).toThrow(/does not follow/);
    const discarded = new ImageAssembler();
    discarded.accept(first!);
    discarded.accept(second!);
    discarded.discard('j');
    expect(discarded.pending).toBe(0);
    const dropped = new ImageAssembler();
    dropped.accept(first!);
    dropped.drop('j');
    for (const piece of [second!, ...rest]) dropped.accept(piece);
    expect(dropped.pending).toBe(0);
    expect(() => dropped.unpack(wire)).toThrow(/none of it arrived/);
  });
});

describe('images in pieces through the engine worker (fake engine, child process)', () => {
  let host: EngineHost | undefined;
  afterEach(async () => {
    await host?.dispose();
    host = undefined;
    for (const stop of stopTickers.splice(0)) stop();
  });

  it.each([
    ['a Node child process', false],
    ["Electron's parentPort", true],
  ])(
    'an odd-sized picture goes there and back byte for byte, no message over a piece, a turn between pieces (%s)',
    async (_, parentPort) => {
      const watch = newWatch();
      host = new EngineHost({ launcher: watchingLauncher(watch, { parentPort }) });
      await host.loadModel(fakeModel(), 'cpu');
      const source = noiseImage(WIDTH, HEIGHT, 7);
      const result = await host.edit(source, settings('make it green'));

      // The fake engine hands the source back as the processed source: it went both ways.
      expect([result.processedSource.width, result.processedSource.height]).toEqual([WIDTH, HEIGHT]);
      expect(Buffer.from(result.processedSource.data).equals(source.data)).toBe(true);
      expect([result.image.width, result.image.height]).toEqual([WIDTH, HEIGHT]);
      expect(Buffer.from(result.image.data).equals(fakeTint(source.data, [30, 200, 60], 5))).toBe(true);

      const perImage = Math.ceil(source.data.byteLength / IMAGE_PIECE_BYTES);
      expect(pieces(watch.sent)).toHaveLength(perImage);
      expect(pieces(watch.received)).toHaveLength(2 * perImage);
      for (const message of [...watch.sent, ...watch.received]) {
        expect(largestArray(message)).toBeLessThanOrEqual(IMAGE_PIECE_BYTES);
      }
      // The edit message itself holds references, not pixels.
      const edit = watch.sent.find((message) => message.type === 'edit');
      expect(edit && 'source' in edit ? edit.source : null).toEqual({
        imageInPieces: expect.any(Number) as number,
        width: WIDTH,
        height: HEIGHT,
      });
      // Each piece went out on a later turn of the host's event loop than the one before.
      const turns = watch.sentAtTurn.filter((_, index) => watch.sent[index]!.type === 'imagePiece');
      for (let i = 1; i < turns.length; i++) expect(turns[i]).toBeGreaterThan(turns[i - 1]!);
    },
  );

  it('a worker killed while the source is on its way fails the edit as a crash; the next edit runs', async () => {
    const watch = newWatch();
    watch.onSend = (message, handle) => {
      if (message.type === 'imagePiece' && message.offset === IMAGE_PIECE_BYTES)
        process.kill(handle.pid!, 'SIGKILL');
    };
    host = new EngineHost({ launcher: watchingLauncher(watch) });
    await host.loadModel(fakeModel(), 'cpu');
    const run = host.edit(noiseImage(WIDTH, HEIGHT, 8), settings('make it red'));
    await expect(run).rejects.toBeInstanceOf(EngineCrashedError);
    await expect(run).rejects.toThrow(
      'The engine stopped during the edit (killed by SIGKILL); it restarts with the next edit',
    );

    watch.onSend = undefined;
    const small = noiseImage(5, 3, 9);
    const next = await host.edit(small, settings('make it red'));
    expect(Buffer.from(next.image.data).equals(fakeTint(small.data, [230, 30, 30], 5))).toBe(true);
  });

  it('a worker killed while the result is on its way fails the edit as a crash', async () => {
    const watch = newWatch();
    watch.onReceive = (message, handle) => {
      if (message.type === 'imagePiece' && message.offset === 0) process.kill(handle.pid!, 'SIGKILL');
    };
    host = new EngineHost({ launcher: watchingLauncher(watch) });
    await host.loadModel(fakeModel(), 'cpu');
    const run = host.edit(noiseImage(WIDTH, HEIGHT, 10), settings('make it blue'));
    await expect(run).rejects.toThrow(
      'The engine stopped during the edit (killed by SIGKILL); it restarts with the next edit',
    );
    expect(host.status().state).toBe('crashed');
  });

  it('a cancel while the source is on its way stops it there; the same worker runs the next edit', async () => {
    const watch = newWatch();
    const controller = new AbortController();
    watch.onSend = (message) => {
      if (message.type === 'imagePiece' && message.offset === IMAGE_PIECE_BYTES) controller.abort();
    };
    host = new EngineHost({ launcher: watchingLauncher(watch) });
    await host.loadModel(fakeModel(), 'cpu');
    const pid = host.pid;
    const run = host.edit(noiseImage(WIDTH, HEIGHT, 11), settings('make it red'), {
      signal: controller.signal,
    });
    await expect(run).rejects.toMatchObject({ name: CANCELLED_ERROR_NAME });
    watch.onSend = undefined;

    const source = noiseImage(WIDTH, HEIGHT, 12);
    const next = await host.edit(source, settings('make it blue'));
    expect(Buffer.from(next.image.data).equals(fakeTint(source.data, [30, 60, 230], 5))).toBe(true);
    expect(host.pid).toBe(pid);
    // Two pieces of the cancelled source, its cancel, then the next edit's pieces and message.
    const types = watch.sent.map((message) =>
      message.type === 'imagePiece' ? `piece ${message.jobId}` : message.type,
    );
    const cancelled = types.indexOf('cancel');
    expect(types.slice(1, cancelled)).toEqual(['piece e1', 'piece e1']);
    expect(types.slice(cancelled + 1).filter((type) => type === 'edit')).toHaveLength(1);
    expect(types.slice(0, cancelled)).not.toContain('edit');
  });
});
