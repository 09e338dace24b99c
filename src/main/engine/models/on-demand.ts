import type { OnnxSession } from '../backend';

/**
 * A sub-model whose session can be released between uses and opened again when needed, so a tight
 * memory budget holds only the sessions of the stage that runs.
 */
export class OnDemandModel<T> {
  private current: { session: OnnxSession; model: T } | undefined;
  private earlierRunMs = 0;
  private opens = 0;

  constructor(
    private readonly open: () => Promise<OnnxSession>,
    private readonly wrap: (session: OnnxSession) => T,
    initial: OnnxSession,
  ) {
    this.current = { session: initial, model: wrap(initial) };
  }

  get loaded(): boolean {
    return this.current !== undefined;
  }

  /** Sessions opened after the first (each one a reload from disk). */
  get reopenCount(): number {
    return this.opens;
  }

  /** Milliseconds inside onnxruntime's run, over every session this model has had. */
  runMs(): number {
    return this.earlierRunMs + (this.current?.session.stats.runMs ?? 0);
  }

  /** Runs `task` with the model, opening its session first if released; releases it after unless `keep`. */
  async use<R>(keep: boolean, task: (model: T) => Promise<R>): Promise<R> {
    if (!this.current) {
      const session = await this.open();
      this.opens++;
      this.current = { session, model: this.wrap(session) };
    }
    try {
      return await task(this.current.model);
    } finally {
      if (!keep) await this.release();
    }
  }

  async release(): Promise<void> {
    const current = this.current;
    if (!current) return;
    this.current = undefined;
    this.earlierRunMs += current.session.stats.runMs;
    await current.session.dispose();
  }
}
