/**
 * Guards against sending the same instruction twice by accident (a double Ctrl+Enter, a double
 * click): an identical send within the window is held back once; sending it again makes it explicit.
 */
export const REPEAT_WINDOW_MS = 2000;

export class RepeatGuard {
  private last: { key: string; at: number; warned: boolean } | null = null;

  constructor(private readonly windowMs = REPEAT_WINDOW_MS) {}

  /** 'send' to go ahead, 'repeat' for an identical send inside the window that was not yet warned about. */
  check(key: string, now: number): 'send' | 'repeat' {
    const last = this.last;
    if (last && last.key === key && now - last.at < this.windowMs && !last.warned) {
      last.warned = true;
      return 'repeat';
    }
    this.last = { key, at: now, warned: false };
    return 'send';
  }

  reset(): void {
    this.last = null;
  }
}

/** What the box holds after a send failed: the sent text back, and whatever was typed since below it. */
export function restoredDraft(sent: string, typedSince: string): string {
  if (!typedSince.trim()) return sent;
  return `${sent}\n${typedSince}`;
}
