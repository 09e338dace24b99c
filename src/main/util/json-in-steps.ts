/**
 * JSON text parsed without holding the event loop for long. Up to ONE_GO_BYTES, JSON.parse (a
 * megabyte takes it about 10 ms); above, an incremental parser (@streamparser/json) fed a slice at a
 * time with a turn of the event loop between slices, so a project whose manifest is tens of
 * megabytes (hostile, or a very long history) costs other calls at most one slice's wait. The
 * incremental parser is several times slower than JSON.parse, which is why small texts skip it.
 *
 * Each slice's shape is scanned before the parser sees it: how deep lists and objects nest and how
 * many items one holds. A list of millions of items makes the parser grow one array again and again,
 * and each growth holds the event loop longer (15 million numbers: over a second for one step), so
 * the text is refused at the first item past the limit, before any of that.
 */
import { JSONParser } from '@streamparser/json';

/** Texts up to this size are parsed in one go. */
export const ONE_GO_BYTES = 1024 * 1024;
/** Bytes parsed between turns of the event loop. */
export const SLICE_BYTES = 16 * 1024;

export interface JsonInStepsOptions {
  oneGoBytes?: number;
  sliceBytes?: number;
  /** Items in one list or object (texts parsed in steps). */
  maxItems?: number;
  /** Lists and objects inside one another (texts parsed in steps). */
  maxDepth?: number;
}

export class JsonSyntaxError extends SyntaxError {
  override name = 'JsonSyntaxError';
}

/** Well-formed so far, but over a size limit: refused without parsing further. */
export class JsonLimitError extends RangeError {
  override name = 'JsonLimitError';
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;

/** Counts items per open list/object across slices; strings are skipped (escapes included). */
class ShapeScanner {
  private inString = false;
  private escaped = false;
  /** Commas seen in each open list or object, outermost first. */
  private readonly commas: number[] = [];

  constructor(
    private readonly maxItems: number,
    private readonly maxDepth: number,
  ) {}

  scan(bytes: Uint8Array): void {
    const commas = this.commas;
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i] as number;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === BACKSLASH) this.escaped = true;
        else if (c === QUOTE) this.inString = false;
      } else if (c === QUOTE) {
        this.inString = true;
      } else if (c === 0x5b || c === 0x7b) {
        if (commas.push(0) > this.maxDepth)
          throw new JsonLimitError(`lists and objects nest more than ${this.maxDepth} levels deep`);
      } else if (c === 0x5d || c === 0x7d) {
        commas.pop();
      } else if (c === COMMA && commas.length > 0) {
        const top = commas.length - 1;
        // n commas separate n + 1 items.
        if (++(commas[top] as number) >= this.maxItems)
          throw new JsonLimitError(
            `a list or object holds more than ${this.maxItems.toLocaleString('en')} items`,
          );
      }
    }
  }
}

/**
 * Parses UTF-8 JSON bytes (invalid UTF-8 is refused, as JSON.parse of a fatal decode would).
 * `nextTurn` gives the event loop a turn. Errors: JsonSyntaxError naming what was wrong, or
 * JsonLimitError for a text parsed in steps that nests too deep or holds too many items in one place.
 */
export async function parseJsonInSteps(
  bytes: Uint8Array,
  nextTurn: () => Promise<unknown>,
  {
    oneGoBytes = ONE_GO_BYTES,
    sliceBytes = SLICE_BYTES,
    maxItems = Number.POSITIVE_INFINITY,
    maxDepth = 1000,
  }: JsonInStepsOptions = {},
): Promise<unknown> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const decode = (slice: Uint8Array, more: boolean): string => {
    try {
      return decoder.decode(slice, { stream: more });
    } catch {
      throw new JsonSyntaxError('the text is not valid UTF-8');
    }
  };
  if (bytes.length <= oneGoBytes) {
    const text = decode(bytes, false);
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new JsonSyntaxError((error as Error).message);
    }
  }

  let root: unknown;
  let found = false;
  const shape = new ShapeScanner(maxItems, maxDepth);
  // Only the whole document is wanted: no values are handed out (nor kept) along the way.
  const parser = new JSONParser({ paths: ['$'], keepStack: false, separator: undefined });
  parser.onValue = ({ value, stack }) => {
    if (stack.length === 0) {
      root = value;
      found = true;
    }
  };
  try {
    for (let from = 0; from < bytes.length; from += sliceBytes) {
      const to = Math.min(bytes.length, from + sliceBytes);
      const slice = bytes.subarray(from, to);
      shape.scan(slice);
      const text = decode(slice, to < bytes.length);
      if (text.length > 0) parser.write(text);
      if (to < bytes.length) await nextTurn();
    }
    if (!parser.isEnded) parser.end();
  } catch (error) {
    if (error instanceof JsonSyntaxError || error instanceof JsonLimitError) throw error;
    throw new JsonSyntaxError((error as Error).message);
  }
  if (!found) throw new JsonSyntaxError('Unexpected end of JSON input');
  return root;
}
