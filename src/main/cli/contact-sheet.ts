/**
 * A guidance grid as one labelled picture: text guidance s_T across the top, image guidance s_I down
 * the left side, each cell's pixels unchanged at its processing size, and up to three lines of CLIP
 * metrics under each cell. The labels are SVG text rendered by sharp (librsvg, the system's fonts).
 */
import type { RgbImage } from '../../shared/engine-types';
import { encodePng } from '../engine/image-io';
import sharp from '../native/sharp';

export interface SheetCell {
  textIndex: number;
  imageIndex: number;
  image: RgbImage;
  /** Lines printed under the cell (metrics); none without a CLIP model. */
  lines: string[];
}

export interface SheetInput {
  title: string;
  textScales: readonly number[];
  imageScales: readonly number[];
  cellWidth: number;
  cellHeight: number;
  /** Metric lines under every cell (0 without metrics). */
  linesPerCell: number;
  cells: readonly SheetCell[];
}

export interface SheetRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface SheetLayout {
  width: number;
  height: number;
  fontSize: number;
  /** Where the cell of (imageIndex, textIndex) is drawn: cellRect(imageIndex, textIndex). */
  cellRect(imageIndex: number, textIndex: number): SheetRect;
  titleY: number;
  columnTitleY: number;
  columnLabelY: number;
  rowTitleX: number;
  rowLabelX: number;
  columnWidth: number;
  rowHeight: number;
  lineHeight: number;
}

/** Positions of everything on the sheet; the font grows with the cells (12 to 28 px). */
export function sheetLayout(
  input: Pick<SheetInput, 'textScales' | 'imageScales' | 'cellWidth' | 'cellHeight' | 'linesPerCell'>,
): SheetLayout {
  const fontSize = Math.min(28, Math.max(12, Math.round(input.cellWidth / 16)));
  const gap = Math.round(fontSize / 2);
  const lineHeight = Math.round(fontSize * 1.3);
  const band = Math.round(fontSize * 1.6);
  // Room for "directional 0.1234" under narrow cells.
  const columnWidth = Math.max(input.cellWidth, input.linesPerCell > 0 ? fontSize * 10 : 0);
  const metricsHeight = input.linesPerCell > 0 ? gap + input.linesPerCell * lineHeight : 0;
  const rowHeight = input.cellHeight + metricsHeight + gap;
  const left = band + fontSize * 4 + gap;
  const top = 3 * band + gap;
  const cellRect = (imageIndex: number, textIndex: number): SheetRect => ({
    x: left + textIndex * (columnWidth + gap),
    y: top + imageIndex * rowHeight,
    width: input.cellWidth,
    height: input.cellHeight,
  });
  return {
    width: left + input.textScales.length * (columnWidth + gap),
    height: top + input.imageScales.length * rowHeight,
    fontSize,
    cellRect,
    titleY: Math.round(band * 0.75),
    columnTitleY: Math.round(band * 1.75),
    columnLabelY: Math.round(band * 2.75),
    // Rotated a quarter turn clockwise, the title's glyphs rise to the right of this baseline.
    rowTitleX: Math.round(fontSize * 0.35),
    rowLabelX: band + gap,
    columnWidth,
    rowHeight,
    lineHeight,
  };
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A guidance scale as a label: 7.5, 1, 1.25 (no float noise such as 1.2000000000000002). */
export function scaleLabel(value: number): string {
  return String(Number(value.toPrecision(6)));
}

/** The sheet as SVG text over a white background (the cells are composited over it). */
function labelsSvg(input: SheetInput, layout: SheetLayout): string {
  const { fontSize } = layout;
  const text = (x: number, y: number, body: string, extra = '') =>
    `<text x="${x}" y="${y}"${extra}>${escapeXml(body)}</text>`;
  const parts: string[] = [];
  parts.push(text(layout.rowLabelX, layout.titleY, input.title, ' font-weight="bold"'));
  const first = layout.cellRect(0, 0);
  const last = layout.cellRect(0, input.textScales.length - 1);
  parts.push(
    text(
      Math.round((first.x + last.x + last.width) / 2),
      layout.columnTitleY,
      'text guidance s_T →',
      ' text-anchor="middle"',
    ),
  );
  input.textScales.forEach((scale, t) => {
    const rect = layout.cellRect(0, t);
    parts.push(
      text(
        Math.round(rect.x + rect.width / 2),
        layout.columnLabelY,
        scaleLabel(scale),
        ' text-anchor="middle"',
      ),
    );
  });
  const bottom = layout.cellRect(input.imageScales.length - 1, 0);
  const middle = Math.round((first.y + bottom.y + bottom.height) / 2);
  parts.push(
    text(
      layout.rowTitleX,
      middle,
      'image guidance s_I →',
      ` text-anchor="middle" transform="rotate(90 ${layout.rowTitleX} ${middle})"`,
    ),
  );
  input.imageScales.forEach((scale, i) => {
    const rect = layout.cellRect(i, 0);
    parts.push(
      text(layout.rowLabelX, Math.round(rect.y + rect.height / 2 + fontSize / 3), scaleLabel(scale)),
    );
  });
  for (const cell of input.cells) {
    const rect = layout.cellRect(cell.imageIndex, cell.textIndex);
    cell.lines.forEach((line, k) => {
      const y = rect.y + rect.height + Math.round(fontSize / 2) + (k + 1) * layout.lineHeight - 4;
      parts.push(text(rect.x, y, line, ` font-size="${Math.round(fontSize * 0.85)}"`));
    });
  }
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${layout.width}" height="${layout.height}" ` +
    `font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="${fontSize}" fill="#202020">` +
    `<rect width="100%" height="100%" fill="#ffffff"/>${parts.join('')}</svg>`
  );
}

/** The contact sheet as a PNG (with `textChunks` as PNG text), and where each cell is on it. */
export async function renderContactSheet(
  input: SheetInput,
  textChunks?: Record<string, string>,
): Promise<{ png: Buffer; layout: SheetLayout }> {
  const layout = sheetLayout(input);
  for (const cell of input.cells) {
    if (cell.image.width !== input.cellWidth || cell.image.height !== input.cellHeight) {
      throw new RangeError(
        `cell ${cell.imageIndex},${cell.textIndex} is ${cell.image.width}×${cell.image.height}, expected ${input.cellWidth}×${input.cellHeight}`,
      );
    }
  }
  const { data, info } = await sharp(Buffer.from(labelsSvg(input, layout)))
    .composite(
      input.cells.map((cell) => {
        const rect = layout.cellRect(cell.imageIndex, cell.textIndex);
        return {
          input: Buffer.from(cell.image.data.buffer, cell.image.data.byteOffset, cell.image.data.byteLength),
          raw: { width: cell.image.width, height: cell.image.height, channels: 3 as const },
          left: rect.x,
          top: rect.y,
        };
      }),
    )
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.width !== layout.width || info.height !== layout.height || info.channels !== 3) {
    throw new Error(`the sheet rendered at ${info.width}×${info.height}×${info.channels}`);
  }
  const png = await encodePng(
    { width: info.width, height: info.height, data: new Uint8Array(data) },
    textChunks,
  );
  return { png, layout };
}
