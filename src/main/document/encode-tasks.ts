/**
 * The size-proportional work of exporting, as plain functions over pixel arrays: the flattened
 * composite and the layered PSD (ag-psd, which is synchronous). They run in
 * the encode worker (encode-worker.ts), never on the backend's event loop; images travel to it as a
 * table of byte arrays and tasks refer to them by index, so one image used twice is sent once.
 */
import { writePsdUint8Array, type BlendMode as PsdBlendMode, type Layer as PsdLayer } from 'ag-psd';
import type { BlendMode } from '../../shared/document/records';
import type { RgbImage } from '../../shared/engine-types';
import { blendInto, rgbToRgba } from './composite';

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

const PSD_BLEND_MODES: Record<BlendMode, PsdBlendMode> = {
  normal: 'normal',
  multiply: 'multiply',
  screen: 'screen',
};

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

/** The base with every step blended on, in order (composite.ts's formulas). */
export function flatten(
  width: number,
  height: number,
  base: Uint8Array,
  steps: readonly FlattenStep[],
  images: readonly (Uint8Array | undefined)[],
): RgbImage {
  checkLength(base, width, height, 3, 'the base');
  const out: RgbImage = { width, height, data: new Uint8Array(base) };
  for (const step of steps) {
    const mask = step.mask === null ? null : { width, height, data: image(images, step.mask) };
    blendInto(out, {
      pixels: { width, height, data: image(images, step.pixels) },
      opacity: step.opacity,
      blendMode: step.blendMode,
      mask,
    });
  }
  return out;
}

/** A grey mask as RGBA image data for ag-psd, which reads a mask's grey from the red channel. */
function grayToRgba(src: Uint8Array): Uint8ClampedArray {
  const out = new Uint8ClampedArray(src.length * 4);
  for (let p = 0, o = 0; p < src.length; p++, o += 4) {
    const v = src[p] as number;
    out[o] = v;
    out[o + 1] = v;
    out[o + 2] = v;
    out[o + 3] = 255;
  }
  return out;
}

/**
 * Each RGB image is let go as soon as its RGBA copy for ag-psd exists (the task's table holds the
 * only reference), so the worker holds about one extra image at a time rather than all of them.
 */
function writePsd(
  task: Extract<EncodeTask, { kind: 'psd' }>,
  images: (Uint8Array | undefined)[],
): Uint8Array {
  const { width, height } = task;
  const converted = new Map<number, Uint8ClampedArray>();
  const rgba = (index: number, what: string) => {
    let data = converted.get(index);
    if (!data) {
      const rgb = image(images, index);
      checkLength(rgb, width, height, 3, what);
      data = rgbToRgba({ width, height, data: rgb });
      converted.set(index, data);
      images[index] = undefined;
    }
    return { width, height, data };
  };
  const composite = {
    width,
    height,
    data: rgbToRgba(flatten(width, height, image(images, task.base), task.steps, images)),
  };
  const children: PsdLayer[] = [
    { name: task.baseName, top: 0, left: 0, imageData: rgba(task.base, 'the base') },
  ];
  for (const plan of task.layers) {
    const layer: PsdLayer = {
      name: plan.name,
      hidden: plan.hidden,
      opacity: plan.opacity / 255,
      blendMode: PSD_BLEND_MODES[plan.blendMode],
      top: 0,
      left: 0,
    };
    if (plan.pixels !== null) layer.imageData = rgba(plan.pixels, `layer “${plan.name}”`);
    if (plan.mask !== null) {
      const mask = image(images, plan.mask);
      checkLength(mask, width, height, 1, `the mask of “${plan.name}”`);
      layer.mask = { top: 0, left: 0, defaultColor: 0, imageData: { width, height, data: grayToRgba(mask) } };
    }
    children.push(layer);
  }
  const bytes = writePsdUint8Array(
    { width, height, children, imageData: composite },
    { generateThumbnail: false, psb: task.psb },
  );
  // ag-psd hands back a view of its growing buffer: copy out the used part so only that is kept.
  return bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
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
