import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClipTokenizer } from '../src/main/engine/tokenizer';

const CLIP_VOCAB_GZ = resolve(
  __dirname,
  '..',
  '..',
  'shared',
  'data',
  'clip-bpe',
  'bpe_simple_vocab_16e6.txt.gz',
);
const HAVE_CLIP_VOCAB = existsSync(CLIP_VOCAB_GZ);

const tempDirs: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

/** GPT-2/CLIP byte → printable unicode character table, in CLIP's order. */
function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let i = 33; i <= 126; i++) bs.push(i);
  for (let i = 161; i <= 172; i++) bs.push(i);
  for (let i = 174; i <= 255; i++) bs.push(i);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  return cs.map((c) => String.fromCodePoint(c));
}

interface ConfigOptions {
  padToken?: unknown;
  maxLength?: number;
}

function writeConfigs(dir: string, opts: ConfigOptions = {}): void {
  const pad = opts.padToken ?? '<|endoftext|>';
  writeFileSync(
    join(dir, 'special_tokens_map.json'),
    JSON.stringify({
      bos_token: {
        content: '<|startoftext|>',
        lstrip: false,
        normalized: true,
        rstrip: false,
        single_word: false,
      },
      eos_token: {
        content: '<|endoftext|>',
        lstrip: false,
        normalized: true,
        rstrip: false,
        single_word: false,
      },
      pad_token: pad,
      unk_token: {
        content: '<|endoftext|>',
        lstrip: false,
        normalized: true,
        rstrip: false,
        single_word: false,
      },
    }),
  );
  writeFileSync(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({
      add_prefix_space: false,
      bos_token: {
        __type: 'AddedToken',
        content: '<|startoftext|>',
        lstrip: false,
        normalized: true,
        rstrip: false,
        single_word: false,
      },
      do_lower_case: true,
      eos_token: {
        __type: 'AddedToken',
        content: '<|endoftext|>',
        lstrip: false,
        normalized: true,
        rstrip: false,
        single_word: false,
      },
      errors: 'replace',
      model_max_length: opts.maxLength ?? 77,
      pad_token: pad,
      tokenizer_class: 'CLIPTokenizer',
      unk_token: {
        __type: 'AddedToken',
        content: '<|endoftext|>',
        lstrip: false,
        normalized: true,
        rstrip: false,
        single_word: false,
      },
    }),
  );
}

/** vocab.json + merges.txt built from OpenAI's bpe_simple_vocab_16e6.txt.gz the way CLIP's SimpleTokenizer does. */
function writeRealClipFolder(dir: string, opts: ConfigOptions = {}): void {
  const lines = gunzipSync(readFileSync(CLIP_VOCAB_GZ)).toString('utf8').split('\n');
  const merges = lines.slice(1, 49152 - 256 - 2 + 1);
  const byteChars = bytesToUnicode();
  const vocabList = [...byteChars, ...byteChars.map((c) => c + '</w>')];
  for (const m of merges) vocabList.push(m.split(' ').join(''));
  vocabList.push('<|startoftext|>', '<|endoftext|>');
  const vocab: Record<string, number> = {};
  vocabList.forEach((t, i) => {
    vocab[t] = i;
  });
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify(vocab));
  writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\n' + merges.join('\n') + '\n');
  writeConfigs(dir, opts);
}

/** A tiny vocabulary: all bytes (plain and word-final) plus a few merges spelling "cat" and "photo". */
function writeSmallFolder(dir: string, opts: ConfigOptions = {}): Record<string, number> {
  const byteChars = bytesToUnicode();
  const vocabList = [...byteChars, ...byteChars.map((c) => c + '</w>')];
  const merges: [string, string][] = [
    ['c', 'a'],
    ['ca', 't</w>'],
    ['p', 'h'],
    ['o', 't'],
    ['ph', 'ot'],
    ['phot', 'o</w>'],
  ];
  for (const [a, b] of merges) vocabList.push(a + b);
  vocabList.push('<|startoftext|>', '<|endoftext|>');
  const vocab: Record<string, number> = {};
  vocabList.forEach((t, i) => {
    vocab[t] = i;
  });
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify(vocab));
  writeFileSync(
    join(dir, 'merges.txt'),
    '#version: 0.2\n' + merges.map((m) => m.join(' ')).join('\n') + '\n',
  );
  writeConfigs(dir, opts);
  return vocab;
}

function expectPadded(ids: Int32Array, head: number[], pad: number, length = 77): void {
  expect(ids).toBeInstanceOf(Int32Array);
  expect(ids.length).toBe(length);
  expect(Array.from(ids.slice(0, head.length))).toEqual(head);
  for (let i = head.length; i < length; i++) expect(ids[i]).toBe(pad);
}

describe('ClipTokenizer with a small hand-built vocabulary', () => {
  let dir: string;
  let vocab: Record<string, number>;
  beforeAll(() => {
    dir = tempDir('tok-small-');
    vocab = writeSmallFolder(dir);
  });

  it('merges words, adds bos/eos and pads to 77', async () => {
    const tok = await ClipTokenizer.fromFolder(dir);
    expect(tok.maxLength).toBe(77);
    expect(tok.bosTokenId).toBe(vocab['<|startoftext|>']);
    expect(tok.eosTokenId).toBe(vocab['<|endoftext|>']);
    expect(tok.padTokenId).toBe(vocab['<|endoftext|>']);
    const ids = tok.encode('cat photo');
    expectPadded(
      ids,
      [tok.bosTokenId, vocab['cat</w>']!, vocab['photo</w>']!, tok.eosTokenId],
      tok.padTokenId,
    );
  });

  it('splits unknown words into byte tokens with the last one word-final', async () => {
    const tok = await ClipTokenizer.fromFolder(dir);
    const ids = tok.encode('dog!');
    // "dog" is a letter run, "!" a separate punctuation run: d o g</w> !</w>
    expectPadded(
      ids,
      [tok.bosTokenId, vocab['d']!, vocab['o']!, vocab['g</w>']!, vocab['!</w>']!, tok.eosTokenId],
      tok.padTokenId,
    );
  });

  it('is case and whitespace insensitive', async () => {
    const tok = await ClipTokenizer.fromFolder(dir);
    expect(Array.from(tok.encode('  CAT   Photo\n'))).toEqual(Array.from(tok.encode('cat photo')));
    expect(Array.from(tok.encode('\tCaT\r\n\n PHOTO  '))).toEqual(Array.from(tok.encode('cat photo')));
  });

  it('empty prompt gives bos, eos, padding', async () => {
    const tok = await ClipTokenizer.fromFolder(dir);
    expectPadded(tok.encode(''), [tok.bosTokenId, tok.eosTokenId], tok.padTokenId);
    expectPadded(tok.encode('   \n '), [tok.bosTokenId, tok.eosTokenId], tok.padTokenId);
  });

  it('truncates long prompts keeping eos last', async () => {
    const tok = await ClipTokenizer.fromFolder(dir);
    const ids = tok.encode(Array(200).fill('cat').join(' '));
    expect(ids.length).toBe(77);
    expect(ids[0]).toBe(tok.bosTokenId);
    expect(ids[76]).toBe(tok.eosTokenId);
    for (let i = 1; i < 76; i++) expect(ids[i]).toBe(vocab['cat</w>']);
  });

  it('honours pad_token "!" and model_max_length from tokenizer_config.json', async () => {
    const d = tempDir('tok-small-pad-');
    const v = writeSmallFolder(d, { padToken: '!', maxLength: 16 });
    const tok = await ClipTokenizer.fromFolder(d);
    expect(tok.padTokenId).toBe(v['!']);
    expect(tok.padTokenId).toBe(0);
    expect(tok.maxLength).toBe(16);
    expectPadded(tok.encode('cat'), [tok.bosTokenId, v['cat</w>']!, tok.eosTokenId], 0, 16);
  });

  it('uses tokenizer.json when present', async () => {
    const d = tempDir('tok-json-');
    const v = writeSmallFolder(d);
    // A tokenizer.json that differs observably: no lowercase normalizer.
    const json = {
      version: '1.0',
      added_tokens: [
        {
          id: v['<|startoftext|>'],
          content: '<|startoftext|>',
          single_word: false,
          lstrip: false,
          rstrip: false,
          normalized: true,
          special: true,
        },
        {
          id: v['<|endoftext|>'],
          content: '<|endoftext|>',
          single_word: false,
          lstrip: false,
          rstrip: false,
          normalized: true,
          special: true,
        },
      ],
      normalizer: {
        type: 'Sequence',
        normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }],
      },
      pre_tokenizer: {
        type: 'Sequence',
        pretokenizers: [
          {
            type: 'Split',
            pattern: { Regex: '[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+' },
            behavior: 'Removed',
            invert: true,
          },
          { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
        ],
      },
      post_processor: null,
      decoder: null,
      model: {
        type: 'BPE',
        unk_token: '<|endoftext|>',
        end_of_word_suffix: '</w>',
        vocab: v,
        merges: JSON.parse(
          JSON.stringify(readFileSync(join(d, 'merges.txt'), 'utf8').split('\n').slice(1).filter(Boolean)),
        ),
      },
    };
    writeFileSync(join(d, 'tokenizer.json'), JSON.stringify(json));
    unlinkSync(join(d, 'vocab.json'));
    unlinkSync(join(d, 'merges.txt'));
    const tok = await ClipTokenizer.fromFolder(d);
    expectPadded(tok.encode('cat'), [tok.bosTokenId, v['cat</w>']!, tok.eosTokenId], tok.padTokenId);
    // Upper case is not lowered by this tokenizer.json, so "CAT" falls apart into bytes.
    expectPadded(
      tok.encode('CAT'),
      [tok.bosTokenId, v['C']!, v['A']!, v['T</w>']!, tok.eosTokenId],
      tok.padTokenId,
    );
  });

  describe('errors name the file and the problem', () => {
    it('missing vocab.json', async () => {
      const d = tempDir('tok-err-');
      writeSmallFolder(d);
      unlinkSync(join(d, 'vocab.json'));
      await expect(ClipTokenizer.fromFolder(d)).rejects.toThrow(/vocab\.json is missing/);
    });
    it('missing merges.txt', async () => {
      const d = tempDir('tok-err-');
      writeSmallFolder(d);
      unlinkSync(join(d, 'merges.txt'));
      await expect(ClipTokenizer.fromFolder(d)).rejects.toThrow(/merges\.txt is missing/);
    });
    it('missing tokenizer_config.json', async () => {
      const d = tempDir('tok-err-');
      writeSmallFolder(d);
      unlinkSync(join(d, 'tokenizer_config.json'));
      await expect(ClipTokenizer.fromFolder(d)).rejects.toThrow(/tokenizer_config\.json is missing/);
    });
    it('missing folder', async () => {
      await expect(ClipTokenizer.fromFolder(join(tmpdir(), 'no-such-tokenizer-dir-xyz'))).rejects.toThrow(
        /tokenizer_config\.json is missing/,
      );
    });
    it('corrupt vocab.json', async () => {
      const d = tempDir('tok-err-');
      writeSmallFolder(d);
      writeFileSync(join(d, 'vocab.json'), '{"a": 0, "b": ');
      await expect(ClipTokenizer.fromFolder(d)).rejects.toThrow(/vocab\.json is not valid JSON/);
    });
    it('vocab.json with a non-integer id', async () => {
      const d = tempDir('tok-err-');
      writeSmallFolder(d);
      writeFileSync(join(d, 'vocab.json'), '{"a": "zero"}');
      await expect(ClipTokenizer.fromFolder(d)).rejects.toThrow(/vocab\.json: token "a" has id "zero"/);
    });
    it('corrupt merges.txt', async () => {
      const d = tempDir('tok-err-');
      writeSmallFolder(d);
      writeFileSync(join(d, 'merges.txt'), '#version: 0.2\nc a\nthis line is broken\n');
      await expect(ClipTokenizer.fromFolder(d)).rejects.toThrow(/merges\.txt line 3 is malformed/);
    });
    it('merges.txt not matching vocab.json', async () => {
      const d = tempDir('tok-err-');
      writeSmallFolder(d);
      writeFileSync(join(d, 'merges.txt'), '#version: 0.2\nx y\n');
      await expect(ClipTokenizer.fromFolder(d)).rejects.toThrow(
        /merges\.txt: merge "x y" produces "xy", which vocab\.json lacks/,
      );
    });
    it('corrupt tokenizer_config.json', async () => {
      const d = tempDir('tok-err-');
      writeSmallFolder(d);
      writeFileSync(join(d, 'tokenizer_config.json'), 'not json');
      await expect(ClipTokenizer.fromFolder(d)).rejects.toThrow(/tokenizer_config\.json is not valid JSON/);
    });
    it('corrupt tokenizer.json', async () => {
      const d = tempDir('tok-err-');
      writeSmallFolder(d);
      writeFileSync(join(d, 'tokenizer.json'), '[1,2');
      await expect(ClipTokenizer.fromFolder(d)).rejects.toThrow(/tokenizer\.json is not valid JSON/);
    });
    it('pad token not in the vocabulary', async () => {
      const d = tempDir('tok-err-');
      writeSmallFolder(d, { padToken: '<pad>' });
      await expect(ClipTokenizer.fromFolder(d)).rejects.toThrow(
        /tokenizer_config\.json: the pad token "<pad>" is not in the vocabulary/,
      );
    });
  });
});

describe.skipIf(!HAVE_CLIP_VOCAB)(
  `ClipTokenizer with the real CLIP vocabulary (skipped: ${CLIP_VOCAB_GZ} absent, CI clones may lack ../shared)`,
  () => {
    let dir: string;
    let tok: ClipTokenizer;
    beforeAll(async () => {
      dir = tempDir('tok-clip-');
      writeRealClipFolder(dir);
      tok = await ClipTokenizer.fromFolder(dir);
    });

    it('has the SD 1.5 special ids', () => {
      expect(tok.bosTokenId).toBe(49406);
      expect(tok.eosTokenId).toBe(49407);
      expect(tok.padTokenId).toBe(49407);
      expect(tok.maxLength).toBe(77);
    });

    it('"a photo of a cat"', () => {
      expectPadded(tok.encode('a photo of a cat'), [49406, 320, 1125, 539, 320, 2368, 49407], 49407);
    });

    it('is case and whitespace insensitive', () => {
      const ref = Array.from(tok.encode('a photo of a cat'));
      expect(Array.from(tok.encode('  A   Photo of\tA CAT\n'))).toEqual(ref);
      expect(Array.from(tok.encode('  A   Photo\n'))).toEqual(Array.from(tok.encode('a photo')));
    });

    it('truncates a very long prompt to 77 with eos last', () => {
      const ids = tok.encode(Array(300).fill('make it look like a watercolor painting').join(', '));
      expect(ids.length).toBe(77);
      expect(ids[0]).toBe(49406);
      expect(ids[76]).toBe(49407);
      expect(Array.from(ids.slice(1, 76)).includes(49407)).toBe(false);
    });

    it('empty prompt → bos, eos, padding', () => {
      expectPadded(tok.encode(''), [49406, 49407], 49407);
    });

    it('honours pad_token "!" (id 0)', async () => {
      const d = tempDir('tok-clip-pad-');
      writeRealClipFolder(d, { padToken: '!' });
      const t = await ClipTokenizer.fromFolder(d);
      expect(t.padTokenId).toBe(0);
      expectPadded(t.encode('a photo of a cat'), [49406, 320, 1125, 539, 320, 2368, 49407], 0);
    });

    it('splits punctuation, digits and contractions like CLIP', () => {
      const v = JSON.parse(readFileSync(join(dir, 'vocab.json'), 'utf8')) as Record<string, number>;
      const id = (t: string): number => {
        const x = v[t];
        if (x === undefined) throw new Error(`no ${t}`);
        return x;
      };
      const ids = Array.from(tok.encode("Turn it into a dog's portrait, 1920s!"));
      const body = ids.slice(1, ids.indexOf(49407));
      // CLIP's regex: contractions split off, each digit a token of its own, punctuation runs apart.
      expect(body).toEqual([
        id('turn</w>'),
        id('it</w>'),
        id('into</w>'),
        id('a</w>'),
        id('dog</w>'),
        id("'s</w>"),
        id('portrait</w>'),
        id(',</w>'),
        id('1</w>'),
        id('9</w>'),
        id('2</w>'),
        id('0</w>'),
        id('s</w>'),
        id('!</w>'),
      ]);
      expect(id('1</w>')).toBe(272);
    });
  },
);
