import { describe, expect, it } from 'vitest';
import {
  blendInto,
  compositeLayers,
  invertMask,
  paintDabs,
  rgbToRgba,
  type CompositeLayer,
} from '../../src/main/document/composite';
import type { GrayImage } from '../../src/main/document/pixel-store';
import { opacityByte, type BlendMode } from '../../src/shared/document';
import type { RgbImage } from '../../src/shared/engine-types';

function rgb(width: number, height: number, pixels: number[][]): RgbImage {
  return { width, height, data: Uint8Array.from(pixels.flat()) };
}

function pixelsOf(image: RgbImage): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < image.data.length; i += 3) out.push(Array.from(image.data.subarray(i, i + 3)));
  return out;
}

// A 4×1 strip: below, layer, and a mask of 255 / 128 / 0 / 64.
const BELOW = [
  [200, 100, 50],
  [0, 255, 128],
  [30, 60, 90],
  [255, 255, 255],
];
const LAYER = [
  [100, 200, 250],
  [255, 0, 64],
  [220, 10, 90],
  [0, 128, 255],
];
const MASK: GrayImage = { width: 4, height: 1, data: Uint8Array.from([255, 128, 0, 64]) };

/*
 * Expected values, worked out by hand from out = below + (blend − below) × α, α = opacity × mask / 255²,
 * rounded to nearest; multiply = round(s·d/255), screen = 255 − round((255−s)(255−d)/255). E.g. pixel 0, red:
 *   normal 0.5 (byte 128):  200 + (100 − 200)·128/255 = 149.8 → 150
 *   multiply 1:             100·200/255 = 78.4 → 78;   at 0.5: 200 + (78 − 200)·128/255 = 138.8 → 139
 *   screen 1:               255 − 155·55/255 = 221.6 → 222; at 0.5: 200 + 22·128/255 = 211.0 → 211
 *   mask 64 on pixel 3 (normal 1): 255 + (0 − 255)·64/255 = 191;  at 0.5: α = 128·64/255² → 223
 */
const EXPECTED: Record<BlendMode, Record<'1' | '0.5', { plain: number[][]; masked: number[][] }>> = {
  normal: {
    '1': {
      plain: LAYER,
      masked: [
        [100, 200, 250],
        [128, 127, 96],
        [30, 60, 90],
        [191, 223, 255],
      ],
    },
    '0.5': {
      plain: [
        [150, 150, 150],
        [128, 127, 96],
        [125, 35, 90],
        [127, 191, 255],
      ],
      masked: [
        [150, 150, 150],
        [64, 191, 112],
        [30, 60, 90],
        [223, 239, 255],
      ],
    },
  },
  multiply: {
    '1': {
      plain: [
        [78, 78, 49],
        [0, 0, 32],
        [26, 2, 32],
        [0, 128, 255],
      ],
      masked: [
        [78, 78, 49],
        [0, 127, 80],
        [30, 60, 90],
        [191, 223, 255],
      ],
    },
    '0.5': {
      plain: [
        [139, 89, 49],
        [0, 127, 80],
        [28, 31, 61],
        [127, 191, 255],
      ],
      masked: [
        [139, 89, 49],
        [0, 191, 104],
        [30, 60, 90],
        [223, 239, 255],
      ],
    },
  },
  screen: {
    '1': {
      plain: [
        [222, 222, 251],
        [255, 255, 160],
        [224, 68, 148],
        [255, 255, 255],
      ],
      masked: [
        [222, 222, 251],
        [128, 255, 144],
        [30, 60, 90],
        [255, 255, 255],
      ],
    },
    '0.5': {
      plain: [
        [211, 161, 151],
        [128, 255, 144],
        [127, 64, 119],
        [255, 255, 255],
      ],
      masked: [
        [211, 161, 151],
        [64, 255, 136],
        [30, 60, 90],
        [255, 255, 255],
      ],
    },
  },
};

function composite(mode: BlendMode, opacity: number, mask: GrayImage | null): number[][] {
  const base = rgb(4, 1, BELOW);
  const out = compositeLayers(base, [
    { pixels: rgb(4, 1, LAYER), opacity: opacityByte(opacity), blendMode: mode, mask },
  ]);
  expect(pixelsOf(base)).toEqual(BELOW); // the base is copied, never changed
  return pixelsOf(out);
}

describe('compositing', () => {
  for (const mode of ['normal', 'multiply', 'screen'] as const) {
    it(`${mode} at opacity 1, 0.5 and 0, with and without a mask`, () => {
      for (const opacity of ['1', '0.5'] as const) {
        expect(composite(mode, Number(opacity), null), `${mode} ${opacity}`).toEqual(
          EXPECTED[mode][opacity].plain,
        );
        expect(composite(mode, Number(opacity), MASK), `${mode} ${opacity} masked`).toEqual(
          EXPECTED[mode][opacity].masked,
        );
      }
      expect(composite(mode, 0, null)).toEqual(BELOW);
      expect(composite(mode, 0, MASK)).toEqual(BELOW);
      // An all-255 mask is the same as none; an all-0 mask hides the layer.
      const full: GrayImage = { width: 4, height: 1, data: new Uint8Array(4).fill(255) };
      expect(composite(mode, 0.5, full)).toEqual(EXPECTED[mode]['0.5'].plain);
      expect(composite(mode, 1, { width: 4, height: 1, data: new Uint8Array(4) })).toEqual(BELOW);
    });
  }

  it('matches the rounded formula for every mode over a grid of values, opacities and mask values', () => {
    const values = Array.from({ length: 18 }, (_, i) => Math.min(255, i * 15)); // 0, 15, …, 255
    const n = values.length * values.length;
    const below = new Uint8Array(n * 3);
    const layer = new Uint8Array(n * 3);
    values.forEach((d, i) =>
      values.forEach((s, j) => {
        below.fill(d, (i * values.length + j) * 3, (i * values.length + j) * 3 + 3);
        layer.fill(s, (i * values.length + j) * 3, (i * values.length + j) * 3 + 3);
      }),
    );
    let checked = 0;
    for (const mode of ['normal', 'multiply', 'screen'] as const) {
      for (const opacity of [1, 64, 128, 200, 254, 255]) {
        for (const m of [1, 127, 128, 254, 255, -1]) {
          const mask: GrayImage | null =
            m < 0 ? null : { width: n, height: 1, data: new Uint8Array(n).fill(m) };
          const out = compositeLayers({ width: n, height: 1, data: below }, [
            { pixels: { width: n, height: 1, data: layer }, opacity, blendMode: mode, mask },
          ]);
          const alpha = (opacity * (m < 0 ? 255 : m)) / (255 * 255);
          for (let i = 0; i < n * 3; i++) {
            const d = below[i] as number;
            const s = layer[i] as number;
            const b =
              mode === 'normal'
                ? s
                : mode === 'multiply'
                  ? Math.round((s * d) / 255)
                  : 255 - Math.round(((255 - s) * (255 - d)) / 255);
            const want = Math.round(d + (b - d) * alpha);
            if (out.data[i] !== want) {
              expect.fail(
                `${mode} d=${d} s=${s} opacity=${opacity} mask=${m}: got ${out.data[i]}, want ${want}`,
              );
            }
            checked++;
          }
        }
      }
    }
    expect(checked).toBe(3 * 6 * 6 * n * 3);
  });

  it('blends layers in order, onto a copy', () => {
    const base = rgb(1, 1, [[100, 100, 100]]);
    const layers: CompositeLayer[] = [
      { pixels: rgb(1, 1, [[200, 0, 50]]), opacity: 255, blendMode: 'normal', mask: null },
      { pixels: rgb(1, 1, [[128, 128, 128]]), opacity: 255, blendMode: 'multiply', mask: null },
    ];
    // normal → (200, 0, 50); multiply by 128/255 → (100, 0, 25)
    expect(pixelsOf(compositeLayers(base, layers))).toEqual([[100, 0, 25]]);
    expect(pixelsOf(compositeLayers(base, [...layers].reverse()))).toEqual([[200, 0, 50]]);
    expect(pixelsOf(base)).toEqual([[100, 100, 100]]);
  });

  it('refuses layers and masks of another size', () => {
    const below = rgb(2, 1, [
      [0, 0, 0],
      [0, 0, 0],
    ]);
    expect(() =>
      blendInto(below, { pixels: rgb(1, 1, [[1, 2, 3]]), opacity: 255, blendMode: 'normal', mask: null }),
    ).toThrow(/layer is 1×1, the document 2×1/);
    expect(() =>
      blendInto(below, {
        pixels: rgb(2, 1, [
          [1, 2, 3],
          [1, 2, 3],
        ]),
        opacity: 255,
        blendMode: 'screen',
        mask: { width: 1, height: 2, data: new Uint8Array(2) },
      }),
    ).toThrow(/mask is 1×2, the document 2×1/);
  });

  it('rgbToRgba adds opaque alpha', () => {
    expect(
      Array.from(
        rgbToRgba(
          rgb(2, 1, [
            [1, 2, 3],
            [4, 5, 6],
          ]),
        ),
      ),
    ).toEqual([1, 2, 3, 255, 4, 5, 6, 255]);
  });
});

describe('masks', () => {
  it('invertMask: 255 − m, and no mask inverts to all 0', () => {
    const mask: GrayImage = { width: 2, height: 2, data: Uint8Array.from([0, 1, 128, 255]) };
    const inverted = invertMask(mask, 2, 2);
    expect(Array.from(inverted.data)).toEqual([255, 254, 127, 0]);
    expect(Array.from(mask.data)).toEqual([0, 1, 128, 255]);
    expect(Array.from(invertMask(inverted, 2, 2).data)).toEqual([0, 1, 128, 255]);
    expect(invertMask(null, 3, 1)).toEqual({ width: 3, height: 1, data: new Uint8Array(3) });
  });

  function at(mask: GrayImage, x: number, y: number): number {
    return mask.data[y * mask.width + x] as number;
  }

  function zeros(mask: GrayImage): string[] {
    const out: string[] = [];
    for (let y = 0; y < mask.height; y++)
      for (let x = 0; x < mask.width; x++) if (at(mask, x, y) === 0) out.push(`${x},${y}`);
    return out;
  }

  it('a hard dab sets every pixel whose centre is within the radius', () => {
    // Centre (5, 5), radius 2: the 4×4 pixels around it without the corners (centre distance 2.12).
    const erased = paintDabs(null, 10, 10, [{ x: 5, y: 5, radius: 2 }], 0);
    expect(zeros(erased)).toEqual([
      '4,3',
      '5,3',
      '3,4',
      '4,4',
      '5,4',
      '6,4',
      '3,5',
      '4,5',
      '5,5',
      '6,5',
      '4,6',
      '5,6',
    ]);
    expect(erased.data.filter((v) => v === 255)).toHaveLength(100 - 12);
    // Painting back (value 255) with radius 1 reveals the four centre pixels only; the input is kept.
    const revealed = paintDabs(erased, 10, 10, [{ x: 5, y: 5, radius: 1 }], 255);
    expect(zeros(revealed)).toEqual(['4,3', '5,3', '3,4', '6,4', '3,5', '6,5', '4,6', '5,6']);
    expect(zeros(erased)).toHaveLength(12);
    // An in-between value is set exactly.
    expect(at(paintDabs(null, 10, 10, [{ x: 5, y: 5, radius: 1 }], 128), 5, 5)).toBe(128);
  });

  it('soft dabs fall off linearly from the hard core to the radius', () => {
    // hardness 0, radius 4: t = 1 − d/4; value = round(255 − 255·t).
    const soft = paintDabs(null, 10, 10, [{ x: 5, y: 5, radius: 4, hardness: 0 }], 0);
    expect(at(soft, 4, 4)).toBe(45); // d = 0.707, t = 0.823 → 45.1
    expect(at(soft, 5, 5)).toBe(45);
    expect(at(soft, 7, 4)).toBe(163); // d = 2.550, t = 0.363 → 162.5
    expect(at(soft, 8, 5)).toBe(225); // d = 3.536, t = 0.116 → 225.4
    expect(at(soft, 9, 5)).toBe(255); // d = 4.53 > 4: untouched
    expect(at(soft, 1, 1)).toBe(255);
    // hardness 0.5: full strength up to d = 2, then t = 1 − (d − 2)/2.
    const half = paintDabs(null, 10, 10, [{ x: 5, y: 5, radius: 4, hardness: 0.5 }], 0);
    expect(at(half, 6, 5)).toBe(0); // d = 1.58
    expect(at(half, 7, 4)).toBe(70); // t = 0.725 → 70.1
    expect(at(half, 8, 5)).toBe(196); // t = 0.232 → 195.8
    // Soft painting towards 255 on a partly hidden mask.
    const start: GrayImage = { width: 10, height: 10, data: new Uint8Array(100).fill(100) };
    const up = paintDabs(start, 10, 10, [{ x: 5, y: 5, radius: 4, hardness: 0 }], 255);
    expect(at(up, 7, 4)).toBe(156); // 100 + 155·0.363 = 156.2
    expect(at(start, 7, 4)).toBe(100);
  });

  it('clips dabs at the edges and applies several in order', () => {
    const corner = paintDabs(null, 6, 4, [{ x: 0, y: 0, radius: 3 }], 0);
    expect(zeros(corner)).toEqual(['0,0', '1,0', '2,0', '0,1', '1,1', '2,1', '0,2', '1,2']);
    const twice = paintDabs(
      null,
      6,
      4,
      [
        { x: 1, y: 1, radius: 1 },
        { x: 5, y: 3, radius: 1 },
      ],
      0,
    );
    expect(zeros(twice)).toEqual(['0,0', '1,0', '0,1', '1,1', '4,2', '5,2', '4,3', '5,3']);
    const outside = paintDabs(null, 6, 4, [{ x: -10, y: 50, radius: 3 }], 0);
    expect(zeros(outside)).toEqual([]);
  });
});
