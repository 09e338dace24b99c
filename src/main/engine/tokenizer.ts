/**
 * CLIP BPE tokenizer for a Stable Diffusion model folder's `tokenizer/` directory, built on
 * `@huggingface/tokenizers`. Uses `tokenizer.json` when present; otherwise builds the equivalent
 * CLIP tokenizer definition in memory from `vocab.json` + `merges.txt`.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';

export class TokenizerLoadError extends Error {
  override name = 'TokenizerLoadError';
}

/** CLIP's pre-tokenization pattern (special tokens, contractions, letter runs, single digits, other runs). */
const CLIP_SPLIT_PATTERN =
  "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

const DEFAULT_MAX_LENGTH = 77;
const DEFAULT_BOS = '<|startoftext|>';
const DEFAULT_EOS = '<|endoftext|>';

type JsonObject = Record<string, unknown>;

async function readTextFile(dir: string, name: string): Promise<string | undefined> {
  const path = join(dir, name);
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'EISDIR') throw new TokenizerLoadError(`${path} is a directory, expected a file`);
    throw new TokenizerLoadError(`Cannot read ${path}: ${(err as Error).message}`);
  }
}

async function requireTextFile(dir: string, name: string, why: string): Promise<string> {
  const text = await readTextFile(dir, name);
  if (text === undefined) throw new TokenizerLoadError(`${join(dir, name)} is missing (${why})`);
  return text;
}

function parseJsonObject(dir: string, name: string, text: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new TokenizerLoadError(`${join(dir, name)} is not valid JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TokenizerLoadError(`${join(dir, name)} must contain a JSON object`);
  }
  return value as JsonObject;
}

/** Token entries in tokenizer_config.json are either strings or `{ content: string, ... }` objects. */
function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object' && typeof (value as JsonObject).content === 'string') {
    return (value as JsonObject).content as string;
  }
  return undefined;
}

function parseVocab(dir: string, text: string): Record<string, number> {
  const obj = parseJsonObject(dir, 'vocab.json', text);
  const entries = Object.entries(obj);
  if (entries.length === 0) throw new TokenizerLoadError(`${join(dir, 'vocab.json')} is empty (no tokens)`);
  const seen = new Set<number>();
  for (const [token, id] of entries) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new TokenizerLoadError(
        `${join(dir, 'vocab.json')}: token ${JSON.stringify(token)} has id ${JSON.stringify(id)}, expected a non-negative integer`,
      );
    }
    if (seen.has(id)) {
      throw new TokenizerLoadError(`${join(dir, 'vocab.json')}: id ${id} is used by more than one token`);
    }
    seen.add(id);
  }
  return obj as Record<string, number>;
}

function parseMerges(dir: string, text: string): [string, string][] {
  const merges: [string, string][] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line === '' || (i === 0 && line.startsWith('#version'))) continue;
    const parts = line.split(' ');
    const [a, b] = parts;
    if (parts.length !== 2 || !a || !b) {
      throw new TokenizerLoadError(
        `${join(dir, 'merges.txt')} line ${i + 1} is malformed: expected two space-separated tokens, got ${JSON.stringify(line.slice(0, 80))}`,
      );
    }
    merges.push([a, b]);
  }
  if (merges.length === 0) throw new TokenizerLoadError(`${join(dir, 'merges.txt')} contains no merges`);
  return merges;
}

function specialTokenId(dir: string, vocab: Record<string, number>, token: string, role: string): number {
  const id = Object.prototype.hasOwnProperty.call(vocab, token) ? vocab[token] : undefined;
  if (id === undefined) {
    throw new TokenizerLoadError(
      `${join(dir, 'vocab.json')} lacks the ${role} token ${JSON.stringify(token)}`,
    );
  }
  return id;
}

/** The CLIP tokenizer definition (tokenizer.json shape) for a vocabulary and merge list. */
function buildClipDefinition(
  dir: string,
  vocab: Record<string, number>,
  merges: [string, string][],
  bos: string,
  eos: string,
  unk: string,
): JsonObject {
  const bosId = specialTokenId(dir, vocab, bos, 'bos');
  const eosId = specialTokenId(dir, vocab, eos, 'eos');
  const specials = [...new Set([bos, eos])];
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((content) => ({
      id: vocab[content],
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: true,
      special: true,
    })),
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'NFC' },
        { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' },
        { type: 'Lowercase' },
      ],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: CLIP_SPLIT_PATTERN }, behavior: 'Removed', invert: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: 'RobertaProcessing',
      sep: [eos, eosId],
      cls: [bos, bosId],
      trim_offsets: false,
      add_prefix_space: false,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: Object.prototype.hasOwnProperty.call(vocab, unk) ? unk : null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
}

export class ClipTokenizer {
  readonly maxLength: number;
  readonly padTokenId: number;
  readonly bosTokenId: number;
  readonly eosTokenId: number;

  private constructor(
    private readonly tokenizer: Tokenizer,
    ids: { maxLength: number; pad: number; bos: number; eos: number },
  ) {
    this.maxLength = ids.maxLength;
    this.padTokenId = ids.pad;
    this.bosTokenId = ids.bos;
    this.eosTokenId = ids.eos;
  }

  static async fromFolder(tokenizerDir: string): Promise<ClipTokenizer> {
    const configText = await requireTextFile(
      tokenizerDir,
      'tokenizer_config.json',
      'needed for the special tokens',
    );
    const config = parseJsonObject(tokenizerDir, 'tokenizer_config.json', configText);
    const mapText = await readTextFile(tokenizerDir, 'special_tokens_map.json');
    const specialMap =
      mapText === undefined ? {} : parseJsonObject(tokenizerDir, 'special_tokens_map.json', mapText);

    const pick = (key: string): string | undefined =>
      tokenContent(config[key]) ?? tokenContent(specialMap[key]);
    const bos = pick('bos_token') ?? DEFAULT_BOS;
    const eos = pick('eos_token') ?? DEFAULT_EOS;
    const unk = pick('unk_token') ?? eos;
    const padFromConfig = config.pad_token !== undefined && config.pad_token !== null;
    const pad = pick('pad_token') ?? eos;
    if (padFromConfig && tokenContent(config.pad_token) === undefined) {
      throw new TokenizerLoadError(
        `${join(tokenizerDir, 'tokenizer_config.json')}: pad_token must be a string or {"content": ...}, got ${JSON.stringify(config.pad_token)}`,
      );
    }

    let maxLength = DEFAULT_MAX_LENGTH;
    const mml = config.model_max_length;
    if (mml !== undefined && mml !== null) {
      // Some exports write a huge sentinel (1e30) meaning "unset"; CLIP's text encoder takes 77.
      if (typeof mml === 'number' && Number.isInteger(mml) && mml >= 2 && mml <= 4096) maxLength = mml;
      else if (!(typeof mml === 'number' && mml > 4096)) {
        throw new TokenizerLoadError(
          `${join(tokenizerDir, 'tokenizer_config.json')}: model_max_length ${JSON.stringify(mml)} is not a usable length`,
        );
      }
    }

    let definition: JsonObject;
    const jsonText = await readTextFile(tokenizerDir, 'tokenizer.json');
    if (jsonText !== undefined) {
      definition = parseJsonObject(tokenizerDir, 'tokenizer.json', jsonText);
      const model = definition.model;
      if (model === null || typeof model !== 'object' || typeof (model as JsonObject).vocab !== 'object') {
        throw new TokenizerLoadError(`${join(tokenizerDir, 'tokenizer.json')} has no "model" with a "vocab"`);
      }
      // The library requires these keys to be present (null is allowed).
      for (const key of ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder']) {
        if (!(key in definition)) definition[key] = null;
      }
      if (!Array.isArray(definition.added_tokens)) definition.added_tokens = [];
    } else {
      const why = 'needed when tokenizer.json is absent';
      const vocab = parseVocab(tokenizerDir, await requireTextFile(tokenizerDir, 'vocab.json', why));
      const merges = parseMerges(tokenizerDir, await requireTextFile(tokenizerDir, 'merges.txt', why));
      for (const [a, b] of merges) {
        if (!Object.prototype.hasOwnProperty.call(vocab, a + b)) {
          throw new TokenizerLoadError(
            `${join(tokenizerDir, 'merges.txt')}: merge "${a} ${b}" produces ${JSON.stringify(a + b)}, which vocab.json lacks (files do not match)`,
          );
        }
      }
      definition = buildClipDefinition(tokenizerDir, vocab, merges, bos, eos, unk);
    }

    let tokenizer: Tokenizer;
    try {
      // Only the plain string tokens are passed on: the library needs nothing else from the config.
      tokenizer = new Tokenizer(definition, {
        bos_token: bos,
        eos_token: eos,
        unk_token: unk,
        pad_token: pad,
      });
    } catch (err) {
      const source = jsonText !== undefined ? 'tokenizer.json' : 'vocab.json + merges.txt';
      throw new TokenizerLoadError(
        `${join(tokenizerDir, source)}: cannot build the tokenizer: ${(err as Error).message}`,
      );
    }

    const idOf = (token: string, role: string, file: string): number => {
      const id = tokenizer.token_to_id(token);
      if (id === undefined) {
        throw new TokenizerLoadError(
          `${join(tokenizerDir, file)}: the ${role} token ${JSON.stringify(token)} is not in the vocabulary`,
        );
      }
      return id;
    };
    const vocabFile = jsonText !== undefined ? 'tokenizer.json' : 'vocab.json';
    return new ClipTokenizer(tokenizer, {
      maxLength,
      bos: idOf(bos, 'bos', vocabFile),
      eos: idOf(eos, 'eos', vocabFile),
      pad: idOf(pad, 'pad', padFromConfig ? 'tokenizer_config.json' : vocabFile),
    });
  }

  /** Token ids without bos/eos, after CLIP's normalisation (NFC, whitespace collapse, lowercase). */
  tokenIds(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  /** Exactly `maxLength` ids: bos, the prompt's tokens (truncated), eos, then padding. */
  encode(text: string): Int32Array {
    const out = new Int32Array(this.maxLength).fill(this.padTokenId);
    const body = this.tokenIds(text);
    const n = Math.min(body.length, this.maxLength - 2);
    out[0] = this.bosTokenId;
    for (let i = 0; i < n; i++) out[i + 1] = body[i] ?? this.padTokenId;
    out[n + 1] = this.eosTokenId;
    return out;
  }
}
