/**
 * A layered 8-bit RGB PSD/PSB writer with bounded memory, after Adobe's "Photoshop File Formats
 * Specification". Channels are read straight from RGB-interleaved (and grey mask) arrays; every row
 * of every channel is PackBits-compressed (RLE), as Photoshop writes them.
 *
 * Two passes: the first only measures every row's compressed length (keeping the small per-row
 * tables, which the file stores anyway), which gives every section's exact length; the output is
 * then allocated once at its exact size and the second pass compresses the rows straight into it.
 * Nothing else proportional to the file's size is held. The composite can be given as rows on
 * demand, so it need not exist as a whole image either (it is then asked for twice, once per pass).
 *
 * Layout: header; empty colour mode data and image resources; the layer and mask section (layer
 * records, then each layer's channel data, then an empty global layer mask info); the composite as
 * the image data section. PSB (version 2) differs in the widths of some length fields only.
 */
import type { BlendMode } from '../../shared/document/records';

export interface PsdWriterLayer {
  name: string;
  hidden: boolean;
  /** 0..255 */
  opacity: number;
  blendMode: BlendMode;
  /** RGB interleaved, document size; null: a layer without pixels. */
  pixels: Uint8Array | null;
  /** Grey (1 byte a pixel), document size: a user mask covering the document, default colour 0. */
  mask: Uint8Array | null;
}

/** `rowCount` rows of the composite from `firstRow` on, RGB interleaved (the array may be reused). */
export type CompositeRows = (firstRow: number, rowCount: number) => Uint8Array;

export interface PsdWriterInput {
  width: number;
  height: number;
  /** Large document format (version 2): needed past 30 000 pixels a side. */
  psb: boolean;
  /** The opaque bottom layer (RGB interleaved), written as Photoshop's background layer. */
  background: { name: string; pixels: Uint8Array };
  /** Above the background, bottom first. */
  layers: readonly PsdWriterLayer[];
  /** The flattened picture shown by readers that do not composite layers: RGB interleaved, or rows. */
  composite: Uint8Array | CompositeRows;
  /** Makes the zeroed array the file is written into (default: one of exactly the file's size). */
  allocate?: (size: number) => Uint8Array;
}

const BLEND_KEYS: Record<BlendMode, string> = { normal: 'norm', multiply: 'mul ', screen: 'scrn' };

const PSD_MAX_SIDE = 30_000;
const PSB_MAX_SIDE = 300_000;
/** Layer flags: bit 1 hidden; bit 3 says bit 4 is meaningful (Photoshop 5 and later). */
const FLAG_HIDDEN = 0x02;
const FLAG_BIT4_MEANINGFUL = 0x08;
const COMPRESSION_RAW = 0;
const COMPRESSION_RLE = 1;
/** Rows of the composite asked for at a time: about this many bytes. */
const COMPOSITE_BAND_BYTES = 1 << 20;

/** Where a channel's samples are: sample x of row y is `data[offset + (y * width + x) * stride]`. */
interface ChannelSource {
  data: Uint8Array;
  offset: number;
  stride: number;
  /** Every row is the same `width` samples from `offset` (a constant channel). */
  sameRow: boolean;
}

interface PlannedChannel {
  id: number;
  /** null: no pixels (an empty layer's raw channel: the compression field only). */
  source: ChannelSource | null;
  /** Compressed length of each row (filled by the measuring pass). */
  rowLengths: Uint32Array;
  /** Bytes in the file: compression field, row length table and rows. */
  length: number;
}

interface PlannedLayer {
  name: string;
  top: number;
  left: number;
  bottom: number;
  right: number;
  blendKey: string;
  opacity: number;
  flags: number;
  hasMask: boolean;
  channels: PlannedChannel[];
  extraLength: number;
}

/**
 * PackBits over `count` samples `src[start + k·stride]`: a byte n in 0..127 is followed by n + 1
 * literal bytes; a byte 257 − n (n in 2..128) by one byte repeated n times. Runs of two or more start
 * a repeat when no literal is open; an open literal stops at a run of three. With `out` null it only
 * measures; either way it returns the compressed length, so both passes agree by construction.
 */
export function packBitsRow(
  src: Uint8Array,
  start: number,
  stride: number,
  count: number,
  out: Uint8Array | null,
  at: number,
): number {
  let written = 0;
  let i = 0;
  let p = start;
  while (i < count) {
    const value = src[p] as number;
    let run = 1;
    let q = p + stride;
    while (i + run < count && run < 128 && src[q] === value) {
      run++;
      q += stride;
    }
    if (run >= 2) {
      if (out !== null) {
        out[at + written] = 257 - run;
        out[at + written + 1] = value;
      }
      written += 2;
      i += run;
      p = q;
      continue;
    }
    // A literal: from here up to 128 samples, stopping where a run of three begins.
    const header = at + written;
    let o = header + 1;
    if (out !== null) out[o++] = value;
    const literalStart = i;
    i++;
    p += stride;
    while (i < count && i - literalStart < 128) {
      const a = src[p] as number;
      if (i + 2 < count && a === src[p + stride] && a === src[p + 2 * stride]) break;
      if (out !== null) out[o++] = a;
      i++;
      p += stride;
    }
    const n = i - literalStart;
    if (out !== null) out[header] = n - 1;
    written += 1 + n;
  }
  return written;
}

/** A name as a Pascal string's bytes: printable ASCII kept, anything else '?', at most 255. */
function pascalBytes(name: string): Uint8Array {
  const text = name.slice(0, 255);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    bytes[i] = code >= 0x20 && code < 0x7f ? code : 0x3f;
  }
  return bytes;
}

const pad = (length: number, multiple: number) => Math.ceil(length / multiple) * multiple;

/** The 'luni' (Unicode layer name) block's content: count, UTF-16BE, padded to 4. */
function unicodeNameLength(name: string): number {
  return pad(4 + 2 * name.length, 4);
}

function checkInput(input: PsdWriterInput): void {
  const { width, height, psb } = input;
  const maxSide = psb ? PSB_MAX_SIDE : PSD_MAX_SIDE;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`a PSD needs a positive whole size, not ${width}×${height}`);
  }
  if (width > maxSide || height > maxSide) {
    throw new RangeError(
      `${width}×${height} is past the ${psb ? 'PSB' : 'PSD'} limit of ${maxSide} pixels a side`,
    );
  }
  const rgbLength = width * height * 3;
  const check = (data: Uint8Array, length: number, what: string) => {
    if (data.length !== length) {
      throw new RangeError(`${what} has ${data.length} bytes, a ${width}×${height} image needs ${length}`);
    }
  };
  check(input.background.pixels, rgbLength, `the background “${input.background.name}”`);
  for (const layer of input.layers) {
    if (layer.pixels) check(layer.pixels, rgbLength, `layer “${layer.name}”`);
    if (layer.mask) check(layer.mask, width * height, `the mask of “${layer.name}”`);
  }
  if (typeof input.composite !== 'function') check(input.composite, rgbLength, 'the composite');
  if (input.layers.length + 1 > 0x7fff) {
    throw new RangeError(`a PSD holds at most ${0x7fff} layers, not ${input.layers.length + 1}`);
  }
}

/**
 * Measures every row of a channel into its table, and so the channel's length in the file.
 * `rowFieldBytes` is 2 (PSD) or 4 (PSB).
 */
function measureChannel(channel: PlannedChannel, width: number, height: number, rowFieldBytes: number): void {
  const source = channel.source;
  if (source === null) {
    channel.length = 2;
    return;
  }
  let total = 0;
  if (source.sameRow) {
    const length = packBitsRow(source.data, source.offset, source.stride, width, null, 0);
    channel.rowLengths.fill(length);
    total = length * height;
  } else {
    const rowStep = width * source.stride;
    for (let y = 0, start = source.offset; y < height; y++, start += rowStep) {
      const length = packBitsRow(source.data, start, source.stride, width, null, 0);
      channel.rowLengths[y] = length;
      total += length;
    }
  }
  channel.length = 2 + rowFieldBytes * height + total;
}

/** A cursor over the output, writing big-endian fields. */
class Cursor {
  pos = 0;
  constructor(readonly out: Uint8Array) {}

  u8(value: number): void {
    this.out[this.pos++] = value;
  }

  u16(value: number): void {
    this.out[this.pos++] = (value >>> 8) & 0xff;
    this.out[this.pos++] = value & 0xff;
  }

  u32(value: number): void {
    this.out[this.pos++] = (value >>> 24) & 0xff;
    this.out[this.pos++] = (value >>> 16) & 0xff;
    this.out[this.pos++] = (value >>> 8) & 0xff;
    this.out[this.pos++] = value & 0xff;
  }

  i32(value: number): void {
    this.u32(value >>> 0);
  }

  /** A length field of 4 bytes, or 8 where `wide` (PSB). */
  length(value: number, wide: boolean): void {
    if (wide) this.u32(Math.floor(value / 2 ** 32));
    else if (value > 0xffffffff) throw new RangeError(`${value} bytes do not fit a PSD length field`);
    this.u32(value >>> 0);
  }

  rowLength(value: number, wide: boolean): void {
    if (wide) this.u32(value);
    else this.u16(value);
  }

  ascii(text: string): void {
    for (let i = 0; i < text.length; i++) this.out[this.pos++] = text.charCodeAt(i);
  }

  zeros(count: number): void {
    this.out.fill(0, this.pos, this.pos + count);
    this.pos += count;
  }

  /** `rowLengths.length` rows of a channel, each PackBits-compressed, the table already written. */
  rows(source: ChannelSource, width: number, rowLengths: Uint32Array): void {
    const rowStep = source.sameRow ? 0 : width * source.stride;
    for (let y = 0, start = source.offset; y < rowLengths.length; y++, start += rowStep) {
      const length = packBitsRow(source.data, start, source.stride, width, this.out, this.pos);
      if (length !== rowLengths[y]) {
        throw new Error(`PSD writer: row ${y} packed to ${length} bytes, measured ${rowLengths[y]}`);
      }
      this.pos += length;
    }
  }
}

/** Bands of whole rows, about COMPOSITE_BAND_BYTES each: [firstRow, rowCount]. */
function* bands(width: number, height: number): Generator<[number, number]> {
  const rows = Math.max(1, Math.floor(COMPOSITE_BAND_BYTES / (width * 3)));
  for (let y = 0; y < height; y += rows) yield [y, Math.min(rows, height - y)];
}

function compositeRows(input: PsdWriterInput): CompositeRows {
  const composite = input.composite;
  if (typeof composite === 'function') return composite;
  const rowBytes = input.width * 3;
  return (firstRow, rowCount) => composite.subarray(firstRow * rowBytes, (firstRow + rowCount) * rowBytes);
}

function checkBand(band: Uint8Array, width: number, rowCount: number, firstRow: number): void {
  if (band.length !== width * rowCount * 3) {
    throw new RangeError(
      `the composite gave ${band.length} bytes for rows ${firstRow}..${firstRow + rowCount - 1}, ${width * rowCount * 3} expected`,
    );
  }
}

/** The document as a PSD (or PSB) file, in one array of exactly its size. */
export function writePsd(input: PsdWriterInput): Uint8Array {
  checkInput(input);
  const { width, height, psb } = input;
  const rowFieldBytes = psb ? 4 : 2;
  const lengthFieldBytes = psb ? 8 : 4;
  const channelSource = (data: Uint8Array, offset: number, stride: number): ChannelSource => ({
    data,
    offset,
    stride,
    sameRow: false,
  });
  const plannedChannel = (id: number, source: ChannelSource | null): PlannedChannel => ({
    id,
    source,
    rowLengths: new Uint32Array(source === null ? 0 : height),
    length: 0,
  });
  const rgbChannels = (pixels: Uint8Array) =>
    [0, 1, 2].map((c) => plannedChannel(c, channelSource(pixels, c, 3)));
  // Every layer above the background is opaque; its transparency channel is all 255 (a few bytes a row).
  const opaqueRow = new Uint8Array(width).fill(255);
  const opaque: ChannelSource = { data: opaqueRow, offset: 0, stride: 1, sameRow: true };

  const layers: PlannedLayer[] = [];
  const planLayer = (
    name: string,
    pixels: Uint8Array | null,
    options: {
      background: boolean;
      hidden: boolean;
      opacity: number;
      blendMode: BlendMode;
      mask: Uint8Array | null;
    },
  ) => {
    const channels: PlannedChannel[] = [];
    if (pixels === null) {
      for (const id of [-1, 0, 1, 2]) channels.push(plannedChannel(id, null));
    } else {
      if (!options.background) channels.push(plannedChannel(-1, opaque));
      channels.push(...rgbChannels(pixels));
    }
    if (options.mask !== null) channels.push(plannedChannel(-2, channelSource(options.mask, 0, 1)));
    // Mask data (its length, then 20 bytes when there is a mask), blending ranges (length 0), the
    // Pascal name padded to 4, the 'luni' block (signature, key, length, content).
    const extraLength =
      4 +
      (options.mask !== null ? 20 : 0) +
      4 +
      pad(1 + pascalBytes(name).length, 4) +
      12 +
      unicodeNameLength(name);
    layers.push({
      name,
      top: 0,
      left: 0,
      bottom: pixels === null ? 0 : height,
      right: pixels === null ? 0 : width,
      blendKey: BLEND_KEYS[options.blendMode],
      opacity: Math.max(0, Math.min(255, Math.round(options.opacity))),
      flags: FLAG_BIT4_MEANINGFUL | (options.hidden ? FLAG_HIDDEN : 0),
      hasMask: options.mask !== null,
      channels,
      extraLength,
    });
  };
  planLayer(input.background.name, input.background.pixels, {
    background: true,
    hidden: false,
    opacity: 255,
    blendMode: 'normal',
    mask: null,
  });
  for (const layer of input.layers) {
    planLayer(layer.name, layer.pixels, {
      background: false,
      hidden: layer.hidden,
      opacity: layer.opacity,
      blendMode: layer.blendMode,
      mask: layer.mask,
    });
  }

  // Pass 1: every row's packed length, hence every section's length.
  let layerInfoContent = 2; // the layer count
  for (const layer of layers) {
    // Bounds, channel count, each channel's id and length, '8BIM' and blend key, opacity, clipping,
    // flags and filler, the extra data's length and the extra data; then the channels' data.
    layerInfoContent += 16 + 2 + layer.channels.length * (2 + lengthFieldBytes) + 12 + 4 + layer.extraLength;
    for (const channel of layer.channels) {
      measureChannel(channel, width, height, rowFieldBytes);
      layerInfoContent += channel.length;
    }
  }
  const layerInfoLength = pad(layerInfoContent, 4);
  const layerAndMaskLength = lengthFieldBytes + layerInfoLength + 4;

  const rows = compositeRows(input);
  const compositeLengths = new Uint32Array(3 * height);
  let compositeData = 0;
  for (const [firstRow, rowCount] of bands(width, height)) {
    const band = rows(firstRow, rowCount);
    checkBand(band, width, rowCount, firstRow);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < rowCount; y++) {
        const length = packBitsRow(band, y * width * 3 + c, 3, width, null, 0);
        compositeLengths[c * height + firstRow + y] = length;
        compositeData += length;
      }
    }
  }
  const imageDataLength = 2 + 3 * height * rowFieldBytes + compositeData;
  const total = 26 + 4 + 4 + lengthFieldBytes + layerAndMaskLength + imageDataLength;

  // Pass 2: the file, written once into an array of exactly its size.
  if (!psb && layerAndMaskLength > 0xffffffff) {
    throw new RangeError(
      `the layers take ${layerAndMaskLength} bytes, past what a PSD can hold: write a PSB`,
    );
  }
  const cursor = new Cursor(input.allocate ? input.allocate(total) : new Uint8Array(total));
  cursor.ascii('8BPS');
  cursor.u16(psb ? 2 : 1);
  cursor.zeros(6);
  cursor.u16(3); // channels
  cursor.u32(height);
  cursor.u32(width);
  cursor.u16(8); // bits per channel
  cursor.u16(3); // RGB
  cursor.u32(0); // colour mode data
  cursor.u32(0); // image resources

  cursor.length(layerAndMaskLength, psb);
  cursor.length(layerInfoLength, psb);
  const layerInfoStart = cursor.pos;
  cursor.u16(layers.length); // positive: the composite has no alpha channel
  for (const layer of layers) {
    cursor.i32(layer.top);
    cursor.i32(layer.left);
    cursor.i32(layer.bottom);
    cursor.i32(layer.right);
    cursor.u16(layer.channels.length);
    for (const channel of layer.channels) {
      cursor.u16(channel.id & 0xffff);
      cursor.length(channel.length, psb);
    }
    cursor.ascii('8BIM');
    cursor.ascii(layer.blendKey);
    cursor.u8(layer.opacity);
    cursor.u8(0); // clipping: base
    cursor.u8(layer.flags);
    cursor.u8(0); // filler
    cursor.u32(layer.extraLength);
    const extraStart = cursor.pos;
    if (layer.hasMask) {
      cursor.u32(20);
      cursor.i32(0);
      cursor.i32(0);
      cursor.i32(height);
      cursor.i32(width);
      cursor.u8(0); // default colour
      cursor.u8(0); // flags: position relative to the document, enabled
      cursor.zeros(2);
    } else {
      cursor.u32(0);
    }
    cursor.u32(0); // blending ranges: none
    const pascal = pascalBytes(layer.name);
    const pascalStart = cursor.pos;
    cursor.u8(pascal.length);
    cursor.out.set(pascal, cursor.pos);
    cursor.pos += pascal.length;
    cursor.zeros(pad(cursor.pos - pascalStart, 4) - (cursor.pos - pascalStart));
    cursor.ascii('8BIM');
    cursor.ascii('luni');
    const unicodeLength = unicodeNameLength(layer.name);
    cursor.u32(unicodeLength);
    cursor.u32(layer.name.length);
    for (let i = 0; i < layer.name.length; i++) cursor.u16(layer.name.charCodeAt(i));
    cursor.zeros(unicodeLength - 4 - 2 * layer.name.length);
    if (cursor.pos - extraStart !== layer.extraLength) {
      throw new Error(
        `PSD writer: layer “${layer.name}” extra data is ${cursor.pos - extraStart} bytes, planned ${layer.extraLength}`,
      );
    }
  }
  for (const layer of layers) {
    for (const channel of layer.channels) {
      if (channel.source === null) {
        cursor.u16(COMPRESSION_RAW);
        continue;
      }
      cursor.u16(COMPRESSION_RLE);
      for (const length of channel.rowLengths) cursor.rowLength(length, psb);
      cursor.rows(channel.source, width, channel.rowLengths);
    }
  }
  const layerInfoPadding = layerInfoStart + layerInfoLength - cursor.pos;
  if (layerInfoPadding < 0 || layerInfoPadding > 3) {
    throw new Error(
      `PSD writer: layer info is ${cursor.pos - layerInfoStart} bytes, planned ${layerInfoContent}`,
    );
  }
  cursor.zeros(layerInfoPadding);
  cursor.u32(0); // global layer mask info

  cursor.u16(COMPRESSION_RLE);
  for (const length of compositeLengths) cursor.rowLength(length, psb);
  // The file holds all rows of red, then green, then blue: each channel has its own write position,
  // known from the measured lengths, and each band's rows go to theirs.
  const channelAt = [cursor.pos, 0, 0];
  for (let c = 1; c < 3; c++) {
    let previous = 0;
    for (let y = 0; y < height; y++) previous += compositeLengths[(c - 1) * height + y] as number;
    channelAt[c] = (channelAt[c - 1] as number) + previous;
  }
  for (const [firstRow, rowCount] of bands(width, height)) {
    const band = rows(firstRow, rowCount);
    checkBand(band, width, rowCount, firstRow);
    for (let c = 0; c < 3; c++) {
      let at = channelAt[c] as number;
      for (let y = 0; y < rowCount; y++) {
        const length = packBitsRow(band, y * width * 3 + c, 3, width, cursor.out, at);
        const measured = compositeLengths[c * height + firstRow + y];
        if (length !== measured) {
          throw new Error(
            `PSD writer: composite row ${firstRow + y} changed between passes (${length} bytes, measured ${measured})`,
          );
        }
        at += length;
      }
      channelAt[c] = at;
    }
  }
  if (channelAt[2] !== total) throw new Error(`PSD writer: wrote ${channelAt[2]} bytes, planned ${total}`);
  return cursor.out;
}
