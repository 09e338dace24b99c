import { describe, expect, it } from 'vitest';
import { EngineCrashedError, EngineHost, type WorkerHandle } from '../../src/main/app/engine-host';
import { createChildHandle } from '../../src/main/app/engine/child-handle';
import { FakeChild } from '../support/fake-child';

function electronStyleHandle(child: FakeChild): WorkerHandle {
  return createChildHandle(child, {
    send: (running, message) => running.sent.push(message),
    kill: (running) => running.kills++,
    // Electron's utilityProcess 'error' event: (type, location, report).
    describeError: (type, location) => `${String(type)} at ${String(location)}`,
  });
}

describe('worker handle over a child process', () => {
  it("treats a utilityProcess 'error' (fatal V8 error) as the exit, once, and stops sending", () => {
    const child = new FakeChild();
    const handle = electronStyleHandle(child);
    const reasons: string[] = [];
    handle.onExit((reason) => reasons.push(reason));
    handle.send({ type: 'shutdown' });
    // Without a listener EventEmitter throws on 'error': the handle must have one.
    expect(() => child.emit('error', 'FatalError', 'v8::Heap::Allocate', '{}')).not.toThrow();
    child.emit('exit', 133);
    expect(reasons).toEqual(['FatalError at v8::Heap::Allocate']);
    // The handle made sure the child is gone, once; afterwards nothing reaches it.
    expect(child.kills).toBe(1);
    handle.send({ type: 'shutdown' });
    handle.kill();
    expect(child.sent).toEqual([{ type: 'shutdown' }]);
    expect(child.kills).toBe(1);
    const late: string[] = [];
    handle.onExit((reason) => late.push(reason));
    expect(late).toEqual(['FatalError at v8::Heap::Allocate']);
  });

  it('reports a plain exit with its code or signal, and forwards messages', () => {
    const child = new FakeChild();
    const handle = electronStyleHandle(child);
    const messages: unknown[] = [];
    handle.onMessage((message) => messages.push(message));
    child.emit('message', { type: 'ready', pid: 4242 });
    const reasons: string[] = [];
    handle.onExit((reason) => reasons.push(reason));
    child.emit('exit', null, 'SIGKILL');
    child.emit('error', 'FatalError', 'later', '');
    expect(messages).toEqual([{ type: 'ready', pid: 4242 }]);
    expect(reasons).toEqual(['killed by SIGKILL']);
    expect(handle.pid).toBe(4242);
  });

  it('an engine whose process dies of a fatal error fails the start with a readable reason', async () => {
    const child = new FakeChild();
    const host = new EngineHost({ launcher: () => electronStyleHandle(child) });
    const load = host.loadModel('/nowhere', 'cpu');
    await Promise.resolve();
    child.emit('error', 'FatalError', 'OOM', '');
    await expect(load).rejects.toThrow(EngineCrashedError);
    await expect(load).rejects.toThrow('FatalError at OOM');
    expect(host.status().state).toBe('crashed');
    await host.dispose();
  });
});
