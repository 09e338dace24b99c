/** A stand-in for a child process (Node ChildProcess or Electron UtilityProcess): an EventEmitter that records what it was sent. */
import { EventEmitter } from 'node:events';

export class FakeChild extends EventEmitter {
  readonly sent: unknown[] = [];
  kills = 0;
  constructor(readonly pid: number | undefined = 4242) {
    super();
  }
}
