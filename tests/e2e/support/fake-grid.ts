/**
 * A stand-in for the main side's grid.* and clip.* calls, spliced into one page's WebSocket with
 * Playwright's routeWebSocket: every other frame goes to the real server and back unchanged. It lets
 * the guidance explorer be driven in a real browser before the main side implements those calls.
 *
 * Cells are generated pictures (a gradient tinted per cell) that finish one after another on a
 * timer, with analytic CLIP numbers. grid.keep is a real re-run of the message with the cell's
 * guidance through the real server (so a real variant appears and undo removes it), not the cell's
 * own pixels: this fake cannot place pixels in the server's document.
 */
import type { Page, WebSocketRoute } from 'playwright-core';
import sharp from 'sharp';
import type { AppClient } from '../../../src/shared/contract/client';
import type { GridCellView, GridView, MessageView } from '../../../src/shared/contract/schemas';
import { WS_PATH } from '../../../src/shared/contract/channels';
import { decodeWire, encodeWire } from '../../../src/shared/contract/wire';

export interface FakeGrid {
  /** Every grid.* / clip.* call the page made, in order. */
  calls: { name: string; payload: Record<string, unknown> }[];
  /** The cell PNG the fake answers for (the same bytes grid.cellImage sends). */
  cellPng(gridId: string, cellIndex: number, maxSide?: number): Promise<Uint8Array>;
  /** Milliseconds between finished cells (raise it to catch a grid running). */
  cellDelayMs: number;
}

const PROCESSED = { width: 96, height: 64 };

/** A cell's picture: a horizontal gradient with a per-cell tint, so cells differ and resizing shows. */
async function cellPicture(cellIndex: number, maxSide?: number): Promise<Uint8Array> {
  const { width, height } = PROCESSED;
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const at = (y * width + x) * 3;
      data[at] = (x * 255) / (width - 1);
      data[at + 1] = (cellIndex * 60 + y * 2) % 256;
      data[at + 2] = 255 - ((cellIndex * 45) % 256);
    }
  let image = sharp(data, { raw: { width, height, channels: 3 } });
  if (maxSide !== undefined && Math.max(width, height) > maxSide)
    image = image.resize({ width: maxSide, height: maxSide, fit: 'inside' });
  return new Uint8Array(await image.png().toBuffer());
}

function makeGrid(gridId: string, message: MessageView, request: Record<string, unknown>): GridView {
  const textScales = request.textScales as number[];
  const imageScales = request.imageScales as number[];
  const cells: GridCellView[] = [];
  imageScales.forEach((imageGuidance, imageIndex) =>
    textScales.forEach((textGuidance, textIndex) =>
      cells.push({
        index: imageIndex * textScales.length + textIndex,
        textIndex,
        imageIndex,
        textGuidance,
        imageGuidance,
        state: 'pending',
        keepable: false,
        keptVariantId: null,
        metrics: null,
        durationMs: null,
      }),
    ),
  );
  return {
    gridId,
    messageId: message.id,
    state: 'running',
    error: null,
    instruction: message.instruction,
    steps: (request.steps as number | undefined) ?? message.settings.steps,
    seed: (request.seed as number | undefined) ?? message.settings.seed,
    scheduler: message.settings.scheduler,
    resolution: message.settings.resolution,
    textScales,
    imageScales,
    captionBefore: (request.captionBefore as string | null | undefined) ?? null,
    captionAfter: (request.captionAfter as string | null | undefined) ?? null,
    clipModel: 'tiny-clip',
    processedWidth: PROCESSED.width,
    processedHeight: PROCESSED.height,
    cells,
    createdAt: Date.now(),
  };
}

export async function routeFakeGrid(page: Page, api: AppClient): Promise<FakeGrid> {
  const grids = new Map<string, GridView>();
  const timers = new Map<string, ReturnType<typeof setInterval>>();
  const fake: FakeGrid = {
    calls: [],
    cellPng: (_gridId, cellIndex, maxSide) => cellPicture(cellIndex, maxSide),
    cellDelayMs: 250,
  };
  let nextGrid = 1;

  await page.routeWebSocket(
    (url) => url.pathname === WS_PATH,
    (ws: WebSocketRoute) => {
      const server = ws.connectToServer();
      const send = (message: unknown) => {
        const frame = encodeWire(message);
        ws.send(typeof frame === 'string' ? frame : Buffer.from(frame));
      };
      const emit = (grid: GridView) => send({ type: 'event', name: 'grid.updated', payload: { grid } });
      const answer = async (name: string, payload: Record<string, unknown>): Promise<unknown> => {
        switch (name) {
          case 'clip.status':
            return { state: 'ready', folder: '/models/tiny-clip', source: 'beside-model', message: null };
          case 'clip.useFolder':
          case 'clip.chooseFolder':
            return {
              state: 'ready',
              folder: (payload.path as string | null) ?? '/models/tiny-clip',
              source: payload.path ? 'chosen' : 'beside-model',
              message: null,
            };
          case 'grid.get':
            return {
              grid: [...grids.values()].filter((grid) => grid.messageId === payload.messageId).at(-1) ?? null,
            };
          case 'grid.start': {
            const doc = await api.call('document.get', {});
            const message = doc?.messages.find((entry) => entry.id === payload.messageId);
            if (!message) throw Object.assign(new Error('no such message'), { code: 'not-found' });
            const gridId = `fake-grid-${nextGrid++}`;
            let grid = makeGrid(gridId, message, payload);
            grids.set(gridId, grid);
            setTimeout(() => emit(grid), 0);
            const started = Date.now();
            const timer = setInterval(() => {
              const next = grid.cells.find((cell) => cell.state !== 'done');
              if (!next) return;
              const t = next.textIndex;
              const i = next.imageIndex;
              const cells = grid.cells.map((cell) =>
                cell === next
                  ? {
                      ...cell,
                      state: 'done' as const,
                      keepable: true,
                      durationMs: fake.cellDelayMs,
                      metrics: {
                        imageSimilarity: 0.92 - 0.06 * t + 0.04 * i,
                        directionalSimilarity: grid.captionBefore ? 0.05 + 0.04 * t - 0.01 * i : null,
                        clipT: grid.captionAfter ? 0.2 + 0.01 * t : null,
                      },
                    }
                  : cell,
              );
              const finished = cells.every((cell) => cell.state === 'done');
              grid = { ...grid, cells, state: finished ? 'done' : 'running' };
              grids.set(gridId, grid);
              const cellsDone = cells.filter((cell) => cell.state === 'done').length;
              // The next cell "runs" now: its live preview is a flat grey picture.
              const upcoming = cells.find((cell) => cell.state !== 'done');
              send({
                type: 'event',
                name: 'grid.progress',
                payload: {
                  gridId,
                  messageId: grid.messageId,
                  stepsDone: cellsDone * grid.steps,
                  totalSteps: cells.length * grid.steps,
                  cellsDone,
                  totalCells: cells.length,
                  elapsedMs: Date.now() - started,
                  cellIndex: upcoming?.index ?? next.index,
                  preview: upcoming
                    ? { width: 24, height: 16, channels: 3, data: new Uint8Array(24 * 16 * 3).fill(128) }
                    : null,
                },
              });
              emit(grid);
              if (finished) clearInterval(timer);
            }, fake.cellDelayMs);
            timers.set(gridId, timer);
            return { gridId };
          }
          case 'grid.cancel': {
            const grid = grids.get(payload.gridId as string);
            clearInterval(timers.get(payload.gridId as string));
            if (!grid || grid.state !== 'running') return { cancelled: false };
            const cancelled = { ...grid, state: 'cancelled' as const };
            grids.set(grid.gridId, cancelled);
            setTimeout(() => emit(cancelled), 0);
            return { cancelled: true };
          }
          case 'grid.cellImage': {
            const png = await cellPicture(payload.cellIndex as number, payload.maxSide as number | undefined);
            const meta = await sharp(png).metadata();
            return { width: meta.width, height: meta.height, png };
          }
          case 'grid.keep': {
            const grid = grids.get(payload.gridId as string)!;
            const cell = grid.cells[payload.cellIndex as number]!;
            const doc = await api.call('document.get', {});
            const message = doc!.messages.find((entry) => entry.id === grid.messageId)!;
            const before = message.variants.length;
            await api.call('edit.enqueue', {
              settings: {
                ...message.settings,
                textGuidance: cell.textGuidance,
                imageGuidance: cell.imageGuidance,
                seed: grid.seed,
                steps: grid.steps,
              },
              rerunOf: message.id,
            });
            for (;;) {
              const now = await api.call('document.get', {});
              const variants = now!.messages.find((entry) => entry.id === grid.messageId)!.variants;
              if (variants.length > before) {
                const kept = variants.at(-1)!.id;
                const updated = {
                  ...grid,
                  cells: grid.cells.map((entry) =>
                    entry === cell ? { ...entry, keptVariantId: kept } : entry,
                  ),
                };
                grids.set(grid.gridId, updated);
                setTimeout(() => emit(updated), 0);
                return now;
              }
              await new Promise((done) => setTimeout(done, 100));
            }
          }
          default:
            throw new Error(`the fake grid does not answer ${name}`);
        }
      };
      ws.onMessage((frame) => {
        const decoded = decodeWire(typeof frame === 'string' ? frame : new Uint8Array(frame));
        const message = decoded.ok ? (decoded.message as Record<string, unknown>) : null;
        const name = typeof message?.name === 'string' ? message.name : '';
        if (message?.type !== 'call' || !/^(grid|clip)\./.test(name)) {
          server.send(frame);
          return;
        }
        const payload = (message.payload ?? {}) as Record<string, unknown>;
        fake.calls.push({ name, payload });
        answer(name, payload).then(
          (value) => send({ type: 'result', id: message.id, ok: true, value }),
          (error: Error & { code?: string }) =>
            send({
              type: 'result',
              id: message.id,
              ok: false,
              error: { code: error.code ?? 'failed', message: error.message },
            }),
        );
      });
    },
  );
  return fake;
}
