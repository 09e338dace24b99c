/**
 * Counts an instruction's tokens with the active model's own CLIP tokenizer, so the input box can
 * say when words fall past the text encoder's window (77 tokens with start and end). The tokenizer
 * is plain JavaScript (no onnxruntime): the main side loads it from the model folder once per folder.
 */
import { join } from 'node:path';
import type { TokenCount } from '../../shared/contract/schemas';
import { ClipTokenizer } from '../engine/tokenizer';

/** CLIP's window less the start and end tokens, used when no tokenizer is available. */
const CLIP_TEXT_TOKENS = 75;

/** The text's tokens, and where a cut falls: found per word (CLIP tokenizes words independently). */
export function countTokens(
  tokenizer: Pick<ClipTokenizer, 'tokenIds' | 'maxLength'>,
  text: string,
): TokenCount {
  const limit = tokenizer.maxLength - 2;
  const tokens = tokenizer.tokenIds(text).length;
  if (tokens <= limit) return { tokens, limit, cutAt: null };
  // Word starts; the cut falls at the first word whose end no longer fits.
  const starts: number[] = [];
  for (const match of text.matchAll(/\S+/g)) starts.push(match.index);
  let low = 0;
  let high = starts.length;
  // Invariant: the first `low` words fit; the first `high` words do not (when high < length or all).
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    const end = mid < starts.length ? starts[mid]! : text.length;
    if (tokenizer.tokenIds(text.slice(0, end)).length <= limit) low = mid;
    else high = mid - 1;
  }
  return { tokens, limit, cutAt: starts[low] ?? text.length };
}

export class TokenCounter {
  private loaded: { dir: string; tokenizer: Promise<ClipTokenizer> } | null = null;

  /** `modelDir` gives the folder of the model in use (null when none). */
  constructor(private readonly modelDir: () => string | null) {}

  async count(text: string): Promise<TokenCount> {
    const dir = this.modelDir();
    if (!dir) return { tokens: null, limit: CLIP_TEXT_TOKENS, cutAt: null };
    let loaded = this.loaded;
    if (loaded?.dir !== dir) {
      const tokenizer = ClipTokenizer.fromFolder(join(dir, 'tokenizer'));
      loaded = this.loaded = { dir, tokenizer };
      // A folder whose tokenizer does not load is tried again next time (it may be fixed meanwhile).
      tokenizer.catch(() => {
        if (this.loaded?.tokenizer === tokenizer) this.loaded = null;
      });
    }
    try {
      return countTokens(await loaded.tokenizer, text);
    } catch {
      return { tokens: null, limit: CLIP_TEXT_TOKENS, cutAt: null };
    }
  }
}
