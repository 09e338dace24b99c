import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  JsonLimitError,
  JsonSyntaxError,
  parseJsonInSteps,
  SLICE_BYTES,
} from '../../src/main/util/json-in-steps';

const encoder = new TextEncoder();
const turn = () => Promise.resolve();
/** Every text goes through the incremental parser, in slices of a few bytes. */
const stepped = { oneGoBytes: 0, sliceBytes: 5 };

describe('parseJsonInSteps', () => {
  it('gives what JSON.parse gives, in one go and in slices (multi-byte characters cut between slices)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), fc.integer({ min: 1, max: 9 }), async (value, sliceBytes) => {
        const text = JSON.stringify(value, null, 1);
        const bytes = encoder.encode(text);
        const expected: unknown = JSON.parse(text);
        expect(await parseJsonInSteps(bytes, turn)).toEqual(expected);
        expect(await parseJsonInSteps(bytes, turn, { oneGoBytes: 0, sliceBytes })).toEqual(expected);
      }),
      { numRuns: 300 },
    );
    const text = '{"name":"Ébène — 写真 📷","n":[1.5e3,-0,true,null]}';
    expect(await parseJsonInSteps(encoder.encode(text), turn, stepped)).toEqual(JSON.parse(text));
  });

  it('gives the event loop a turn between slices of a large text', async () => {
    const layers = Array.from({ length: 30_000 }, (_, i) => ({
      id: `layer-${i}`,
      name: 'make it red '.repeat(4),
    }));
    const bytes = encoder.encode(JSON.stringify({ layers }));
    expect(bytes.length).toBeGreaterThan(2 * 1024 * 1024);
    let turns = 0;
    const parsed = (await parseJsonInSteps(bytes, () => {
      turns++;
      return Promise.resolve();
    })) as { layers: { id: string }[] };
    expect(turns).toBe(Math.ceil(bytes.length / SLICE_BYTES) - 1);
    expect(parsed.layers).toHaveLength(30_000);
    expect(parsed.layers[29_999]!.id).toBe('layer-29999');
  });

  it('refuses what JSON.parse refuses, with a JsonSyntaxError, on both paths', async () => {
    const bad = ['{"a":1', '{"a":1}}', '{"a":1} x', '[1,]', '', '{"a":01}', "{'a':1}", 'nul'];
    for (const text of bad) {
      expect(() => JSON.parse(text)).toThrow(SyntaxError);
      await expect(parseJsonInSteps(encoder.encode(text), turn), text).rejects.toBeInstanceOf(
        JsonSyntaxError,
      );
      await expect(parseJsonInSteps(encoder.encode(text), turn, stepped), text).rejects.toBeInstanceOf(
        JsonSyntaxError,
      );
    }
  });

  it('refuses invalid UTF-8 on both paths', async () => {
    const bytes = new Uint8Array([...encoder.encode('{"a":"'), 0xc3, 0x28, ...encoder.encode('"}')]);
    for (const options of [{}, stepped]) {
      await expect(parseJsonInSteps(bytes, turn, options)).rejects.toThrow('not valid UTF-8');
    }
  });

  it('keeps "__proto__" a plain key, as JSON.parse does', async () => {
    const text = '{"__proto__":{"polluted":1},"a":{"__proto__":[]}}';
    const parsed = (await parseJsonInSteps(encoder.encode(text), turn, stepped)) as Record<string, unknown>;
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    expect(Object.hasOwn(parsed, '__proto__')).toBe(true);
    expect((parsed as { polluted?: unknown }).polluted).toBeUndefined();
    expect(parsed).toEqual(JSON.parse(text));
  });

  it('refuses, before parsing them, lists and objects over the item limit and nesting over the depth limit', async () => {
    const limits = { ...stepped, maxItems: 5, maxDepth: 3 };
    // Commas inside strings are not items; five items and three levels are allowed.
    const ok = '{"a":[1,2,3,4,"x,y,z,,,,"],"b":{"c":[],"d":2,"e":3,"f":4},"g":"\\\\","h":1,"i":2}';
    expect(await parseJsonInSteps(encoder.encode(ok), turn, limits)).toEqual(JSON.parse(ok));
    for (const [text, message] of [
      ['[1,2,3,4,5,6]', 'more than 5 items'],
      ['{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6}', 'more than 5 items'],
      ['[[[[1]]]]', 'more than 3 levels deep'],
    ] as const) {
      expect(() => JSON.parse(text)).not.toThrow();
      const refused = parseJsonInSteps(encoder.encode(text), turn, limits);
      await expect(refused).rejects.toBeInstanceOf(JsonLimitError);
      await expect(refused).rejects.toThrow(message);
    }
    // Texts parsed in one go are JSON.parse's to judge.
    expect(await parseJsonInSteps(encoder.encode('[1,2,3,4,5,6]'), turn, { maxItems: 5 })).toHaveLength(6);
  });

  it('stops at the first item over the limit: the rest of a huge list is never parsed', async () => {
    const bytes = encoder.encode(JSON.stringify({ list: new Array<number>(3_000_000).fill(7) }));
    let turns = 0;
    const parsing = parseJsonInSteps(
      bytes,
      () => {
        turns++;
        return Promise.resolve();
      },
      { maxItems: 100_000 },
    );
    await expect(parsing).rejects.toThrow('a list or object holds more than 100,000 items');
    // The 100,000th comma is at byte 200,008 ('{"list":[' then "7," each): the slices up to it,
    // not the 6 MB text's hundreds.
    expect(turns).toBe(Math.floor(200_008 / SLICE_BYTES));
  });
});
