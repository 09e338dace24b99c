/** Small decisions the components make, kept here so they can be tested without a DOM. */
import type { MessageView, TokenCount } from '../../../shared/contract/schemas';
import type { Tool } from './store';

/** "1 layer", "2 layers". */
export function plural(count: number, noun: string, nouns = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : nouns}`;
}

/** Which of the mask buttons shows as pressed: at most one of Paint and Erase. */
export function maskButtons(
  tool: Tool,
  erase: boolean,
  editable: boolean,
): { paint: boolean; erase: boolean } {
  const painting = tool === 'mask' && editable;
  return { paint: painting && !erase, erase: painting && erase };
}

/** Instructions longer than this show collapsed in the history, with "more". */
export const COLLAPSE_CHARS = 180;

export function isLongInstruction(text: string): boolean {
  return text.length > COLLAPSE_CHARS || text.split('\n').length > 3;
}

/** A history message that can be removed: it ended without any result. */
export function canDismiss(message: MessageView): boolean {
  return (message.status === 'cancelled' || message.status === 'failed') && message.variants.length === 0;
}

/** The counter under the box: "12 / 75 tokens", and which words the model will not see. */
export function tokenNote(
  text: string,
  count: TokenCount | null,
): { label: string; cut: string | null } | null {
  if (!count || count.tokens === null || !text.trim()) return null;
  const label = `${count.tokens} / ${count.limit} tokens`;
  if (count.cutAt === null) return { label, cut: null };
  const cut = text.slice(count.cutAt).trim();
  return { label, cut: cut.length > 60 ? `${cut.slice(0, 57)}…` : cut };
}

/** A typed slider value: a number clamped to the range and rounded to the step, or null if not a number. */
export function parseSliderValue(text: string, min: number, max: number, step: number): number | null {
  const cleaned = text.replace(',', '.').replace(/[^\d.+-]/g, '');
  const value = Number(cleaned);
  if (!/\d/.test(cleaned) || !Number.isFinite(value)) return null;
  const clamped = Math.min(max, Math.max(min, value));
  const stepped = Math.round((clamped - min) / step) * step + min;
  // Round away the float noise of the step arithmetic (0.05 steps give 1.2000000000000002).
  const decimals = (String(step).split('.')[1] ?? '').length;
  return Number(stepped.toFixed(decimals));
}

/** Layers whose result is out of date. */
export function staleCount(layers: { stale: boolean }[] | undefined): number {
  return layers?.filter((layer) => layer.stale).length ?? 0;
}

/** The next variant for the A/B flip (wraps around). */
export function nextVariant(ids: string[], current: string): string {
  const index = ids.indexOf(current);
  return ids[(index + 1) % ids.length] ?? current;
}
