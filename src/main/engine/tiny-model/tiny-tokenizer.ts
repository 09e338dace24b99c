/**
 * A small CLIP-format BPE vocabulary: 256 byte characters (GPT-2 byte-to-unicode), the same with
 * `</w>`, one token per merge, then <|startoftext|> and <|endoftext|>. The merges are learned here by
 * plain BPE training on a short weighted word list, so every merge's parts already exist as tokens.
 */

export const START_TOKEN = '<|startoftext|>';
export const END_TOKEN = '<|endoftext|>';

/** GPT-2 / CLIP byte-to-unicode table, in the order CLIP's vocabulary lists it. */
export function byteToUnicodeOrder(): { byte: number; char: string }[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const set = new Set(printable);
  const result = printable.map((byte) => ({ byte, char: String.fromCharCode(byte) }));
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!set.has(b)) {
      result.push({ byte: b, char: String.fromCharCode(256 + n) });
      n++;
    }
  }
  return result;
}

/**
 * Words the merges are trained on, most important first. The first group (prompt words the tests and
 * demos use) gets a much larger weight so these words surely become single tokens.
 */
const PRIORITY_WORDS = [
  'a',
  'make',
  'it',
  'red',
  'the',
  'photo',
  'cat',
  'turn',
  'into',
  'add',
  'blue',
  'green',
  'dog',
  'of',
  'and',
  'to',
  'in',
  'with',
  'sky',
  'snow',
  'night',
  'sunset',
  'winter',
  'painting',
  'style',
];
const COMMON_WORDS = [
  'is',
  'on',
  'as',
  'at',
  'be',
  'he',
  'she',
  'his',
  'her',
  'this',
  'that',
  'for',
  'are',
  'was',
  'have',
  'black',
  'white',
  'yellow',
  'water',
  'fire',
  'tree',
  'house',
  'man',
  'woman',
  'hat',
  'car',
  'old',
  'day',
  'rain',
  'sun',
  'city',
  'beach',
  'forest',
  'color',
  'colour',
  'image',
  'picture',
  'change',
  'remove',
  'replace',
  'wear',
  'wearing',
  'look',
  'like',
  'van',
  'gogh',
  'cartoon',
  'anime',
  'oil',
];

export interface ClipVocabulary {
  vocab: Map<string, number>;
  merges: [string, string][];
}

/**
 * Builds the vocabulary with at most `maxMerges` merges (deterministic). `extraWords` are trained
 * between the priority and the common words (the demo model adds its colour words this way); without
 * them the vocabulary is the same as ever.
 */
export function buildClipVocabulary(maxMerges = 200, extraWords: readonly string[] = []): ClipVocabulary {
  const bytes = byteToUnicodeOrder();
  const tokens: string[] = bytes.map((b) => b.char);
  for (const b of bytes) tokens.push(`${b.char}</w>`);
  const known = new Set(tokens);

  const words: { symbols: string[]; weight: number }[] = [];
  PRIORITY_WORDS.forEach((word, i) => words.push({ symbols: split(word), weight: 100_000 - i * 100 }));
  extraWords.forEach((word, i) => words.push({ symbols: split(word), weight: 50_000 - i * 100 }));
  COMMON_WORDS.forEach((word, i) => words.push({ symbols: split(word), weight: 1000 - i }));

  const merges: [string, string][] = [];
  const rejected = new Set<string>();
  while (merges.length < maxMerges) {
    const counts = new Map<string, number>();
    for (const word of words) {
      for (let i = 0; i + 1 < word.symbols.length; i++) {
        const key = `${word.symbols[i]!} ${word.symbols[i + 1]!}`;
        if (rejected.has(key)) continue;
        counts.set(key, (counts.get(key) ?? 0) + word.weight);
      }
    }
    let best: string | undefined;
    let bestCount = 0;
    for (const [key, count] of counts) {
      if (count > bestCount || (count === bestCount && best !== undefined && key < best)) {
        best = key;
        bestCount = count;
      }
    }
    if (best === undefined) break;
    const [left, right] = best.split(' ') as [string, string];
    const joined = left + right;
    if (known.has(joined)) {
      // The same string was already made by another merge; a vocabulary cannot hold it twice.
      rejected.add(best);
      continue;
    }
    merges.push([left, right]);
    known.add(joined);
    tokens.push(joined);
    for (const word of words) word.symbols = applyMerge(word.symbols, left, right);
  }

  tokens.push(START_TOKEN, END_TOKEN);
  const vocab = new Map<string, number>();
  tokens.forEach((token, id) => vocab.set(token, id));
  return { vocab, merges };
}

function split(word: string): string[] {
  const chars = [...word];
  const last = chars.length - 1;
  return chars.map((c, i) => (i === last ? `${c}</w>` : c));
}

function applyMerge(symbols: string[], left: string, right: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < symbols.length; i++) {
    if (i + 1 < symbols.length && symbols[i] === left && symbols[i + 1] === right) {
      out.push(left + right);
      i++;
    } else {
      out.push(symbols[i]!);
    }
  }
  return out;
}

/** vocab.json text (token → id, in id order). */
export function vocabJson(vocabulary: ClipVocabulary): string {
  // Written by hand so the file lists ids in order (an object would put digit keys first).
  const entries = [...vocabulary.vocab].map(([token, id]) => `${JSON.stringify(token)}: ${id}`);
  return `{${entries.join(', ')}}`;
}

/** merges.txt text: a `#version: 0.2` line then one merge per line. */
export function mergesText(vocabulary: ClipVocabulary): string {
  return ['#version: 0.2', ...vocabulary.merges.map(([a, b]) => `${a} ${b}`)].join('\n') + '\n';
}
