/** Events from the handlers to every connected renderer (Electron windows, browser tabs). */
import type { EventName } from '../../shared/contract/channels';
import { EVENTS, type EventPayload } from '../../shared/contract/schemas';

export type EventSink = (name: EventName, payload: unknown) => void;

export interface EventBusOptions {
  /** Check every payload against the contract (tests, development): a wrong shape is a bug. */
  validate?: boolean;
}

export class EventBus {
  private readonly sinks = new Set<EventSink>();

  constructor(private readonly options: EventBusOptions = {}) {}

  emit<E extends EventName>(name: E, payload: EventPayload<E>): void {
    if (this.options.validate) {
      const checked = EVENTS[name].safeParse(payload);
      if (!checked.success) {
        console.error(`Event ${name} does not match the contract:`, checked.error.issues.slice(0, 3));
        throw new Error(`Event ${name} does not match the contract`);
      }
    }
    for (const sink of [...this.sinks]) {
      try {
        sink(name, payload);
      } catch (error) {
        console.error(`event sink failed for ${name}:`, error);
      }
    }
  }

  subscribe(sink: EventSink): () => void {
    this.sinks.add(sink);
    return () => this.sinks.delete(sink);
  }
}
