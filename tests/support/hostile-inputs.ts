/**
 * Crafted inputs for the reliability tests and the liveness benchmark: projects with many layers,
 * projects changed after they were written (a zip bomb entry, more layers than the limit), and raw
 * WebSocket frames sent past the client library.
 */
import { strFromU8, strToU8, unzipSync, zipSync, type Zippable } from 'fflate';
import WebSocket from 'ws';
import { encodeProject } from '../../src/main/document/project-file';
import { PixelStore, sha256Hex } from '../../src/main/document/pixel-store';
import type { DocumentRecord, Layer } from '../../src/shared/document';

/** The parts of a project's `project.json` that the crafted inputs change. */
export type Manifest = {
  document: { layers: { id: string; request: Record<string, unknown> }[] } & Record<string, unknown>;
  pixels: Record<
    string,
    { file: string; bytes: number; sha256: string; width: number; height: number; kind: string }
  >;
};

export type ZipLevel = 0 | 6 | 9;

/** A project of `layers` edit layers that all share one small picture (a small file, many records). */
export async function manyLayerProject(layers: number): Promise<Uint8Array> {
  const store = new PixelStore();
  const side = 64;
  const pixels = store.putRgb({ width: side, height: side, data: new Uint8Array(side * side * 3).fill(90) });
  const request = {
    instruction: 'make it red',
    steps: 20,
    textGuidance: 7.5,
    imageGuidance: 1.5,
    seed: 1,
    scheduler: 'euler-ancestral' as const,
    resolution: '512' as const,
    model: { id: 'hostile-input', version: 'hostile-input' },
    placement: 'delta' as const,
  };
  const record: Record<string, Layer> = {};
  const order: string[] = [];
  for (let i = 0; i < layers; i++) {
    const id = `L${i}`;
    order.push(id);
    record[id] = {
      id,
      kind: 'edit',
      name: `Layer ${i}`,
      visible: true,
      opacity: 1,
      blendMode: 'normal',
      mask: null,
      request,
      variants: [
        {
          id: 'v1',
          request,
          pixels,
          result: pixels,
          source: pixels,
          sourceParts: ['base'],
          processedWidth: side,
          processedHeight: side,
          createdAt: 1,
          durationMs: 1,
        },
      ],
      activeVariantId: 'v1',
      failure: null,
      status: { state: 'fresh', reason: null },
      createdAt: 1,
    };
  }
  const doc: DocumentRecord = {
    id: 'doc-hostile-input',
    width: side,
    height: side,
    createdAt: 1,
    base: { id: 'base', name: 'base.png', pixels, origin: { fileName: null, format: 'png', notices: [] } },
    layers: record,
    order,
  };
  return encodeProject(doc, store, { savedAt: 1 });
}

/** The project's entries changed by `edit`, zipped again (valid CRCs, entries deflated at `level`). */
export function rezip(
  project: Uint8Array,
  edit: (entries: Record<string, Uint8Array>, manifest: Manifest) => void,
  level: ZipLevel = 0,
): Uint8Array {
  const entries = unzipSync(project);
  const manifest = JSON.parse(strFromU8(entries['project.json']!)) as Manifest;
  edit(entries, manifest);
  entries['project.json'] = strToU8(JSON.stringify(manifest));
  return zipSync(entries as Zippable, { level });
}

/** The project with its first PNG entry replaced by 64 MiB of zeros (deflates to ~64 KB), checksums matching. */
export function withZipBomb(project: Uint8Array, level: ZipLevel = 9): Uint8Array {
  return rezip(
    project,
    (entries, manifest) => {
      const entry = Object.values(manifest.pixels)[0]!;
      const bomb = new Uint8Array(64 * 1024 * 1024);
      entries[entry.file] = bomb;
      entry.bytes = bomb.length;
      entry.sha256 = sha256Hex(bomb);
    },
    level,
  );
}

/** The project with `count` copies of its first layer in its manifest (ids X0, X1, …). */
export function withLayerCount(project: Uint8Array, count: number, level: ZipLevel = 0): Uint8Array {
  return rezip(
    project,
    (_entries, manifest) => {
      const template = manifest.document.layers[0]!;
      manifest.document.layers = Array.from({ length: count }, (_, i) => ({ ...template, id: `X${i}` }));
    },
    level,
  );
}

/**
 * Sends one frame (or several messages, such as the pieces of one) on a connection of its own; the
 * first call's answer, or the close code.
 */
export function rawFrame(
  port: number,
  token: string,
  frame: string | Uint8Array | (string | Uint8Array)[],
): Promise<string> {
  return new Promise((answered) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api?token=${token}`);
    ws.on('open', () => {
      for (const message of Array.isArray(frame) ? frame : [frame]) ws.send(message);
    });
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? '' : data.toString();
      if (!text.includes('"result"')) return;
      answered(text);
      ws.close();
    });
    ws.on('close', (code) => answered(`closed ${code}`));
    ws.on('error', () => undefined);
  });
}
