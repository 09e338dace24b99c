/**
 * The size-proportional work of exporting, as plain functions over pixel arrays: the flattened
 * composite and the layered PSD (psd-writer.ts). They run in
 * the encode worker (encode-worker.ts), never on the backend's event loop; images travel to it as a
 * table of byte arrays and tasks refer to them by index, so one image used twice is sent once.
 */
import type { BlendMode } from '../../shared/document/records';
import { allocateWithHeadroom } from '../../shared/contract/wire';
import type { RgbImage } from '../../shared/engine-types';
import { blendInto } from './composite';
import { writePsd as writeLayeredPsd, type PsdWriterLayer } from './psd-writer';

/** One layer blended onto the composite: indices into the task's image table. */
export interface FlattenStep {
  pixels: number;
  mask: number | null;
  /** 0..255 */
  opacity: number;
  blendMode: BlendMode;
}

/** One PSD layer above the background, bottom first. */
export interface PsdLayerPlan {
  name: string;
  hidden: boolean;
  /** 0..255 */
  opacity: number;
  blendMode: BlendMode;
  pixels: number | null;
  mask: number | null;
}

export type EncodeTask =
  | { kind: 'flatten'; width: number; height: number; base: number; steps: FlattenStep[] }
  | {
      kind: 'psd';
      width: number;
      height: number;
      psb: boolean;
      baseName: string;
      base: number;
      steps: FlattenStep[];
      layers: PsdLayerPlan[];
    };

export type EncodeResult = { kind: 'flatten'; image: RgbImage } | { kind: 'psd'; bytes: Uint8Array };

function image(images: readonly (Uint8Array | undefined)[], index: number): Uint8Array {
  const data = images[index];
  if (!data) throw new RangeError(`image ${index} was not sent`);
  return data;
}

function checkLength(data: Uint8Array, width: number, height: number, channels: number, what: string): void {
  if (data.length !== width * height * channels) {
    throw new RangeError(
      `${what} has ${data.length} bytes, a ${width}×${height} image with ${channels} channel(s) needs ${width * height * channels}`,
    );
  }
}

/**
 * Rows `firstRow` .. `firstRow + rowCount − 1` of the base with every step blended on, in order
 * (composite.ts's formulas; each pixel is blended on its own, so a band equals that part of the
 * whole). `out` receives the band (RGB) when given.
 */
function flattenBand(
  width: number,
  firstRow: number,
  rowCount: number,
  base: Uint8Array,
  steps: readonly FlattenStep[],
  images: readonly (Uint8Array | undefined)[],
  out: Uint8Array = new Uint8Array(width * rowCount * 3),
): Uint8Array {
  const from = firstRow * width;
  const to = from + rowCount * width;
  const band: RgbImage = { width, height: rowCount, data: out.subarray(0, rowCount * width * 3) };
  band.data.set(base.subarray(from * 3, to * 3));
  for (const step of steps) {
    const mask = step.mask === null ? null : image(images, step.mask).subarray(from, to);
    blendInto(band, {
      pixels: { width, height: rowCount, data: image(images, step.pixels).subarray(from * 3, to * 3) },
      opacity: step.opacity,
      blendMode: step.blendMode,
      mask: mask === null ? null : { width, height: rowCount, data: mask },
    });
  }
  return band.data;
}

function checkSteps(
  width: number,
  height: number,
  steps: readonly FlattenStep[],
  images: readonly (Uint8Array | undefined)[],
): void {
  steps.forEach((step, i) => {
    checkLength(image(images, step.pixels), width, height, 3, `the pixels of step ${i}`);
    if (step.mask !== null) checkLength(image(images, step.mask), width, height, 1, `the mask of step ${i}`);
  });
}

/** The base with every step blended on, in order (composite.ts's formulas). */
export function flatten(
  width: number,
  height: number,
  base: Uint8Array,
  steps: readonly FlattenStep[],
  images: readonly (Uint8Array | undefined)[],
): RgbImage {
  checkLength(base, width, height, 3, 'the base');
  checkSteps(width, height, steps, images);
  return { width, height, data: flattenBand(width, 0, height, base, steps, images) };
}

/**
 * The layered file, written by psd-writer.ts straight from the RGB images (no RGBA copies). The
 * composite is not kept whole: the writer asks for it a band of rows at a time (twice, once to
 * measure and once to write), blended into one reused band buffer.
 */
function writePsd(
  task: Extract<EncodeTask, { kind: 'psd' }>,
  images: (Uint8Array | undefined)[],
): Uint8Array {
  const { width, height } = task;
  const base = image(images, task.base);
  checkLength(base, width, height, 3, 'the base');
  checkSteps(width, height, task.steps, images);
  let band = new Uint8Array(0);
  const composite = (firstRow: number, rowCount: number) => {
    if (band.length < width * rowCount * 3) band = new Uint8Array(width * rowCount * 3);
    return flattenBand(width, firstRow, rowCount, base, task.steps, images, band);
  };
  const bytes = writeLayeredPsd({
    width,
    height,
    psb: task.psb,
    background: { name: task.baseName, pixels: base },
    layers: task.layers.map((plan): PsdWriterLayer => ({
      name: plan.name,
      hidden: plan.hidden,
      opacity: plan.opacity,
      blendMode: plan.blendMode,
      pixels: plan.pixels === null ? null : image(images, plan.pixels),
      mask: plan.mask === null ? null : image(images, plan.mask),
    })),
    composite,
    // Room for the wire's header in front: browser mode sends the file as one frame, uncopied.
    allocate: allocateWithHeadroom,
  });
  // The images are the task's own copies: let them go before the result travels.
  images.fill(undefined);
  return bytes;
}

/** Runs a task; `transfer` lists the buffers of the result that can be moved rather than copied. */
export function runEncodeTask(
  task: EncodeTask,
  images: (Uint8Array | undefined)[],
): { result: EncodeResult; transfer: ArrayBuffer[] } {
  switch (task.kind) {
    case 'flatten': {
      const flat = flatten(task.width, task.height, image(images, task.base), task.steps, images);
      return { result: { kind: 'flatten', image: flat }, transfer: [flat.data.buffer as ArrayBuffer] };
    }
    case 'psd': {
      const bytes = writePsd(task, images);
      return { result: { kind: 'psd', bytes }, transfer: [bytes.buffer as ArrayBuffer] };
    }
  }
}
