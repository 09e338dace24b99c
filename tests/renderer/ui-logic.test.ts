import { describe, expect, it } from 'vitest';
import type { MessageView } from '../../src/shared/contract/schemas';
import {
  canDismiss,
  isLongInstruction,
  maskButtons,
  nextVariant,
  parseSliderValue,
  plural,
  staleCount,
  tokenNote,
} from '../../src/renderer/src/state/ui-logic';

describe('ui logic', () => {
  it('says "1 layer" and "2 layers"', () => {
    expect(plural(1, 'layer')).toBe('1 layer');
    expect(plural(0, 'layer')).toBe('0 layers');
    expect(plural(2, 'layer')).toBe('2 layers');
  });

  it('highlights only one of Paint and Erase', () => {
    expect(maskButtons('mask', false, true)).toEqual({ paint: true, erase: false });
    expect(maskButtons('mask', true, true)).toEqual({ paint: false, erase: true });
    expect(maskButtons('move', true, true)).toEqual({ paint: false, erase: false });
    expect(maskButtons('mask', true, false)).toEqual({ paint: false, erase: false });
  });

  it('collapses long instructions only', () => {
    expect(isLongInstruction('make it red')).toBe(false);
    expect(isLongInstruction('x'.repeat(181))).toBe(true);
    expect(isLongInstruction('a\nb\nc\nd')).toBe(true);
  });

  it('lets cancelled or failed messages without a result be dismissed', () => {
    const message = (status: MessageView['status'], variants: number) =>
      ({ status, variants: Array.from({ length: variants }, () => ({})) }) as unknown as MessageView;
    expect(canDismiss(message('cancelled', 0))).toBe(true);
    expect(canDismiss(message('failed', 0))).toBe(true);
    expect(canDismiss(message('failed', 1))).toBe(false);
    expect(canDismiss(message('done', 1))).toBe(false);
    expect(canDismiss(message('running', 0))).toBe(false);
  });

  it('words the token counter and names the words that will be cut', () => {
    expect(tokenNote('make it red', { tokens: 4, limit: 75, cutAt: null })).toEqual({
      label: '4 / 75 tokens',
      cut: null,
    });
    expect(tokenNote('a b c tail words', { tokens: 80, limit: 75, cutAt: 6 })).toEqual({
      label: '80 / 75 tokens',
      cut: 'tail words',
    });
    expect(tokenNote('x', { tokens: null, limit: 75, cutAt: null })).toBeNull();
  });

  it('parses typed slider values: clamped, on the step, commas accepted', () => {
    expect(parseSliderValue('7.5', 1, 20, 0.5)).toBe(7.5);
    expect(parseSliderValue('7,3', 1, 20, 0.5)).toBe(7.5);
    expect(parseSliderValue('99', 1, 20, 0.5)).toBe(20);
    expect(parseSliderValue('1.23', 1, 5, 0.05)).toBe(1.25);
    expect(parseSliderValue('40 %', 0, 100, 1)).toBe(40);
    expect(parseSliderValue('', 0, 100, 1)).toBeNull();
    expect(parseSliderValue('abc', 0, 100, 1)).toBeNull();
  });

  it('counts stale layers and cycles variants', () => {
    expect(staleCount([{ stale: true }, { stale: false }, { stale: true }])).toBe(2);
    expect(nextVariant(['a', 'b', 'c'], 'c')).toBe('a');
    expect(nextVariant(['a', 'b'], 'a')).toBe('b');
  });
});
