/**
 * Benchmark sets for `cli eval`: JSON lines
 *   {"image": path, "instruction": text, "caption_before"?: text, "caption_after"?: text, "target"?: path}
 * with paths relative to the set file's folder (or absolute).
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';

export class EvalSetError extends Error {
  override name = 'EvalSetError';
}

export interface EvalLine {
  /** 1-based line number in the file. */
  line: number;
  image: string;
  instruction: string;
  captionBefore?: string;
  captionAfter?: string;
  target?: string;
}

function optionalText(value: unknown, key: string, where: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string')
    throw new EvalSetError(`${where}: "${key}" must be text, got ${JSON.stringify(value)}`);
  return value === '' ? undefined : value;
}

export function parseEvalSet(text: string, setPath: string): EvalLine[] {
  const base = dirname(resolve(setPath));
  const place = (path: string) => (isAbsolute(path) ? path : resolve(base, path));
  const out: EvalLine[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    if (raw.trim() === '') return;
    const where = `${setPath} line ${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      throw new EvalSetError(`${where} is not valid JSON: ${(error as Error).message}`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new EvalSetError(`${where} must be a JSON object`);
    }
    const o = value as Record<string, unknown>;
    const image = optionalText(o.image, 'image', where);
    const instruction = optionalText(o.instruction, 'instruction', where);
    if (!image) throw new EvalSetError(`${where} has no "image"`);
    if (!instruction) throw new EvalSetError(`${where} has no "instruction"`);
    const captionBefore = optionalText(o.caption_before, 'caption_before', where);
    const captionAfter = optionalText(o.caption_after, 'caption_after', where);
    const target = optionalText(o.target, 'target', where);
    out.push({
      line: i + 1,
      image: place(image),
      instruction,
      ...(captionBefore ? { captionBefore } : {}),
      ...(captionAfter ? { captionAfter } : {}),
      ...(target ? { target: place(target) } : {}),
    });
  });
  if (out.length === 0) throw new EvalSetError(`${setPath} has no lines`);
  return out;
}

export async function readEvalSet(path: string): Promise<EvalLine[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new EvalSetError(`Cannot read the set ${path}: ${(error as Error).message}`);
  }
  return parseEvalSet(text, path);
}
