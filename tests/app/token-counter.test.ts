/**
 * The instruction's token count against the text encoder's window, with a model folder's own CLIP
 * tokenizer (the tiny model's vocabulary), and where the first word that does not fit starts.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TokenCounter } from '../../src/main/app/token-counter';
import {
  buildClipVocabulary,
  END_TOKEN,
  mergesText,
  START_TOKEN,
  vocabJson,
} from '../../src/main/engine/tiny-model/tiny-tokenizer';
import { ClipTokenizer } from '../../src/main/engine/tokenizer';

let modelDir: string;
let tokenizer: ClipTokenizer;

beforeAll(async () => {
  modelDir = mkdtempSync(join(tmpdir(), 'token-counter-'));
  const dir = join(modelDir, 'tokenizer');
  mkdirSync(dir);
  const vocabulary = buildClipVocabulary();
  writeFileSync(join(dir, 'vocab.json'), vocabJson(vocabulary));
  writeFileSync(join(dir, 'merges.txt'), mergesText(vocabulary));
  writeFileSync(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({ model_max_length: 77, bos_token: START_TOKEN, eos_token: END_TOKEN }),
  );
  tokenizer = await ClipTokenizer.fromFolder(dir);
});

describe('token counter', () => {
  it('counts a short instruction that fits', async () => {
    const counter = new TokenCounter(() => modelDir);
    const text = 'make it red';
    const count = await counter.count(text);
    expect(count).toEqual({ tokens: tokenizer.tokenIds(text).length, limit: 75, cutAt: null });
    expect(count.tokens).toBeGreaterThanOrEqual(3);
  });

  it('finds the first word the encoder will not see', async () => {
    const counter = new TokenCounter(() => modelDir);
    const words = Array.from({ length: 120 }, (_, i) => ['red', 'sky', 'snow', 'night'][i % 4]);
    const text = `turn ${words.join(' ')} please`;
    const count = await counter.count(text);
    expect(count.tokens).toBe(tokenizer.tokenIds(text).length);
    expect(count.tokens).toBeGreaterThan(75);
    const cutAt = count.cutAt!;
    expect(cutAt).toBeGreaterThan(0);
    // A word boundary: the words before it fit in 75 tokens, with the next word they do not.
    expect(text[cutAt - 1]).toBe(' ');
    expect(tokenizer.tokenIds(text.slice(0, cutAt)).length).toBeLessThanOrEqual(75);
    const nextEnd = text.indexOf(' ', cutAt);
    expect(tokenizer.tokenIds(text.slice(0, nextEnd === -1 ? text.length : nextEnd)).length).toBeGreaterThan(
      75,
    );
    // And what the encoder gets (start, 75 tokens, end) begins with exactly those words' tokens.
    const kept = tokenizer.tokenIds(text.slice(0, cutAt));
    expect([...tokenizer.encode(text).slice(1, 1 + kept.length)]).toEqual(kept);
  });

  it('answers without a count when there is no model or its tokenizer does not load', async () => {
    expect(await new TokenCounter(() => null).count('make it red')).toEqual({
      tokens: null,
      limit: 75,
      cutAt: null,
    });
    const broken = mkdtempSync(join(tmpdir(), 'token-counter-broken-'));
    expect((await new TokenCounter(() => broken).count('make it red')).tokens).toBeNull();
  });
});
