/**
 * The renderer's workflow logic against a fake main side: what is typed is never lost, a double
 * send queues once, unsaved work is asked about before it is replaced, saving shows as busy, and a
 * re-run keeps the seed. Runs the real actions/store modules (no DOM: the few DOM calls are stubbed).
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AppClient } from '../../src/shared/contract/client';
import type { CallName } from '../../src/shared/contract/channels';
import type { DocumentView, MessageView } from '../../src/shared/contract/schemas';
import {
  confirmReplace,
  openBytes,
  openFromDialog,
  resetRepeatGuard,
  saveProject,
  sendInstruction,
  setClient,
  startRerun,
  stopRerun,
} from '../../src/renderer/src/state/actions';
import { RepeatGuard, restoredDraft } from '../../src/renderer/src/state/send-guard';
import { defaultDraft, getState, setState } from '../../src/renderer/src/state/store';
import { answerUnsaved, shouldWarnBeforeUnload } from '../../src/renderer/src/state/unsaved';

interface Call {
  name: CallName;
  request: unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** A client whose calls wait until the test answers them. */
function fakeClient(): AppClient & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    mode: 'browser',
    calls,
    call: ((name: CallName, request: unknown) =>
      new Promise<unknown>((resolve, reject) =>
        calls.push({ name, request, resolve, reject }),
      )) as AppClient['call'],
    on: () => () => undefined,
    onConnectionChange: () => () => undefined,
    close: () => undefined,
  };
}

function docView(patch: Partial<DocumentView> = {}): DocumentView {
  return {
    id: 'doc1',
    revision: 1,
    name: 'photo.png',
    path: null,
    dirty: false,
    width: 4,
    height: 4,
    layers: [],
    messages: [],
    canUndo: false,
    canRedo: false,
    undoLabel: null,
    redoLabel: null,
    ...patch,
  };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

let client: ReturnType<typeof fakeClient>;

beforeAll(() => {
  // The browser-mode download: an anchor clicked once.
  const clicked: string[] = [];
  Object.assign(globalThis, {
    document: {
      createElement: () => ({
        click() {
          clicked.push((this as { download?: string }).download ?? '');
        },
        remove() {},
      }),
      body: { appendChild() {} },
    },
    downloadsClicked: clicked,
  });
});

beforeEach(() => {
  client = fakeClient();
  setClient(client);
  resetRepeatGuard();
  setState({
    connected: true,
    doc: docView(),
    model: {
      state: 'ready',
      dir: '/m',
      message: null,
      provider: 'cpu',
      providerNotice: null,
      flavor: null,
      precision: null,
    },
    info: { name: 'x', version: '0', mode: 'browser', platform: 'linux', nativeDialogs: false },
    draft: { ...defaultDraft(), instruction: 'make it red' },
    rerunOf: null,
    busy: null,
    unsavedPrompt: null,
  });
});

afterEach(() => {
  for (const call of client.calls) call.reject(new Error('test over'));
});

describe('sending an instruction', () => {
  it('clears the box at the moment of sending, so text typed meanwhile stays', async () => {
    const sent = sendInstruction();
    // The reply has not come yet; the box is already empty and the user types the next one.
    expect(getState().draft.instruction).toBe('');
    expect(client.calls.map((c) => c.name)).toEqual(['edit.enqueue']);
    expect((client.calls[0]?.request as { settings: { instruction: string } }).settings.instruction).toBe(
      'make it red',
    );
    setState((s) => ({ draft: { ...s.draft, instruction: 'make it night' } }));
    client.calls[0]?.resolve({ jobId: 'j1', messageId: 'm1' });
    expect(await sent).toBe(true);
    expect(getState().draft.instruction).toBe('make it night');
  });

  it('gives the text back when the send fails, keeping what was typed since', async () => {
    const sent = sendInstruction();
    setState((s) => ({ draft: { ...s.draft, instruction: 'then blue' } }));
    client.calls[0]?.reject(new Error('the engine is gone'));
    expect(await sent).toBe(false);
    expect(getState().draft.instruction).toBe('make it red\nthen blue');
    expect(getState().toasts.at(-1)?.text).toContain('the engine is gone');
  });

  it('queues a double Ctrl+Enter once', async () => {
    const first = sendInstruction();
    const second = sendInstruction();
    expect(await second).toBe(false);
    expect(client.calls).toHaveLength(1);
    client.calls[0]?.resolve({ jobId: 'j1', messageId: 'm1' });
    expect(await first).toBe(true);
  });

  it('holds back the same instruction typed again at once, and sends it when sent again', async () => {
    const first = sendInstruction();
    client.calls[0]?.resolve({ jobId: 'j1', messageId: 'm1' });
    await first;
    setState((s) => ({ draft: { ...s.draft, instruction: 'make it red' } }));
    expect(await sendInstruction()).toBe(false);
    expect(client.calls).toHaveLength(1);
    // Held back, not lost: the text is still in the box, and a toast says why.
    expect(getState().draft.instruction).toBe('make it red');
    expect(getState().toasts.at(-1)?.text).toMatch(/just sent/);
    const explicit = sendInstruction();
    expect(client.calls).toHaveLength(2);
    client.calls[1]?.resolve({ jobId: 'j2', messageId: 'm2' });
    expect(await explicit).toBe(true);
  });

  it('RepeatGuard lets a different instruction or a later one through', () => {
    const guard = new RepeatGuard(2000);
    expect(guard.check('a', 0)).toBe('send');
    expect(guard.check('b', 10)).toBe('send');
    expect(guard.check('b', 20)).toBe('repeat');
    expect(guard.check('b', 30)).toBe('send');
    expect(guard.check('c', 40)).toBe('send');
    expect(guard.check('c', 2040)).toBe('send');
    expect(restoredDraft('a', '  ')).toBe('a');
  });
});

describe('unsaved work', () => {
  it('opens at once when nothing is unsaved', async () => {
    const opening = openBytes('next.png', new Uint8Array([1]));
    await tick();
    expect(getState().unsavedPrompt).toBeNull();
    expect(client.calls.map((c) => c.name)).toEqual(['document.openBytes']);
    client.calls[0]?.resolve(docView({ id: 'doc2', name: 'next.png' }));
    await opening;
  });

  it('asks before replacing it; cancel keeps the document', async () => {
    setState({ doc: docView({ dirty: true }) });
    expect(shouldWarnBeforeUnload()).toBe(true);
    const opening = openBytes('next.png', new Uint8Array([1]));
    await tick();
    expect(getState().unsavedPrompt?.action).toBe('opening next.png');
    expect(client.calls).toHaveLength(0);
    answerUnsaved('cancel');
    await opening;
    expect(client.calls).toHaveLength(0);
    expect(getState().doc?.id).toBe('doc1');
    expect(getState().unsavedPrompt).toBeNull();
  });

  it('discard opens the next picture', async () => {
    setState({ doc: docView({ dirty: true }) });
    const opening = openBytes('next.png', new Uint8Array([1]));
    await tick();
    answerUnsaved('discard');
    await tick();
    expect(client.calls.map((c) => c.name)).toEqual(['document.openBytes']);
    client.calls[0]?.resolve(docView({ id: 'doc2', name: 'next.png' }));
    await opening;
    expect(getState().doc?.id).toBe('doc2');
  });

  it('discarded work is not offered back as an autosave', async () => {
    setState({ doc: docView({ id: 'doc-discarded', dirty: true }) });
    const opening = openBytes('next.png', new Uint8Array([1]));
    await tick();
    answerUnsaved('discard');
    await tick();
    client.calls[0]?.resolve(docView({ id: 'doc-next', name: 'next.png' }));
    await opening;
    const list = client.calls.find((c) => c.name === 'recovery.list')!;
    const entry = (id: string, documentId: string) => ({
      id,
      name: documentId,
      projectPath: null,
      savedAt: 1,
      layers: 2,
      documentId,
    });
    list.resolve([entry('recovery-1', 'doc-discarded'), entry('recovery-2', 'doc-other')]);
    await tick();
    const discard = client.calls.find((c) => c.name === 'recovery.discard')!;
    expect(discard.request).toEqual({ id: 'recovery-1' });
    discard.resolve({ discarded: true });
    await tick();
    expect(getState().recoveries.map((r) => r.id)).toEqual(['recovery-2']);
  });

  it('save saves (showing it as busy) and then opens; a failed save opens nothing', async () => {
    setState({ doc: docView({ dirty: true }) });
    const opening = openBytes('next.png', new Uint8Array([1]));
    await tick();
    answerUnsaved('save');
    await tick();
    expect(client.calls.map((c) => c.name)).toEqual(['project.saveBytes']);
    expect(getState().busy).toBe('Saving the project…');
    client.calls[0]?.resolve({
      name: 'photo.iedit',
      mime: 'application/octet-stream',
      bytes: new Uint8Array(3),
    });
    await tick();
    expect((globalThis as unknown as { downloadsClicked: string[] }).downloadsClicked.at(-1)).toBe(
      'photo.iedit',
    );
    expect(client.calls.map((c) => c.name)).toEqual(['project.saveBytes', 'document.openBytes']);
    client.calls[1]?.resolve(docView({ id: 'doc2' }));
    await opening;
    expect(getState().busy).toBeNull();

    setState({ doc: docView({ dirty: true }) });
    const failing = confirmReplace('opening x');
    await tick();
    answerUnsaved('save');
    await tick();
    client.calls.filter((c) => c.name === 'project.saveBytes')[1]?.reject(new Error('disk full'));
    expect(await failing).toBe(false);
  });

  it('Electron: asks before the open dialog; save goes through project.save', async () => {
    setState({
      doc: docView({ dirty: true }),
      info: { name: 'x', version: '0', mode: 'electron', platform: 'linux', nativeDialogs: true },
    });
    const cancelled = openFromDialog();
    await tick();
    expect(getState().unsavedPrompt?.action).toBe('opening another picture');
    answerUnsaved('cancel');
    await cancelled;
    expect(client.calls).toHaveLength(0);

    const saving = openFromDialog();
    await tick();
    answerUnsaved('save');
    await tick();
    expect(client.calls.map((c) => c.name)).toEqual(['project.save']);
    client.calls[0]?.resolve({ path: '/home/ann/photo.iedit' });
    await tick();
    expect(client.calls.map((c) => c.name)).toEqual(['project.save', 'document.openDialog']);
    client.calls[1]?.resolve(null);
    await saving;

    // A save dialog the user cancelled: nothing is replaced.
    const refused = openFromDialog();
    await tick();
    answerUnsaved('save');
    await tick();
    client.calls[2]?.resolve({ path: null });
    await refused;
    expect(client.calls.map((c) => c.name)).toEqual(['project.save', 'document.openDialog', 'project.save']);
  });

  it('does not warn on leaving in Electron, when saved, or with the server gone', () => {
    setState({ doc: docView({ dirty: false }) });
    expect(shouldWarnBeforeUnload()).toBe(false);
    setState({ doc: docView({ dirty: true }), connected: false });
    expect(shouldWarnBeforeUnload()).toBe(false);
    setState({ connected: true });
    setState({
      doc: docView({ dirty: true }),
      info: { name: 'x', version: '0', mode: 'electron', platform: 'linux', nativeDialogs: true },
    });
    expect(shouldWarnBeforeUnload()).toBe(false);
  });

  it('a second save while one runs waits for it instead of writing twice', async () => {
    const first = saveProject();
    const second = saveProject();
    expect(client.calls).toHaveLength(1);
    client.calls[0]?.resolve({ name: 'p.iedit', mime: 'application/octet-stream', bytes: new Uint8Array(1) });
    expect(await first).toBe(true);
    expect(await second).toBe(true);
  });
});

describe('re-run with…', () => {
  const message: MessageView = {
    id: 'm1',
    instruction: 'make it red',
    settings: {
      instruction: 'make it red',
      steps: 12,
      textGuidance: 9,
      imageGuidance: 1.2,
      seed: 4242,
      scheduler: 'ddim',
      resolution: 'native',
      karrasSigmas: true,
    },
    status: 'done',
    error: null,
    jobId: null,
    layerId: 'm1',
    variants: [],
    pickedVariantId: null,
    createdAt: 0,
  };

  it('keeps the seed (and every other setting) by default', async () => {
    startRerun(message);
    const { draft, rerunOf } = getState();
    expect(rerunOf).toBe('m1');
    expect(draft).toMatchObject({
      seed: 4242,
      steps: 12,
      textGuidance: 9,
      scheduler: 'ddim',
      karrasSigmas: true,
    });
    setState((s) => ({ draft: { ...s.draft, textGuidance: 12 } }));
    const sent = sendInstruction();
    const request = client.calls[0]?.request as { settings: Record<string, unknown>; rerunOf: string };
    expect(request.rerunOf).toBe('m1');
    expect(request.settings).toMatchObject({
      seed: 4242,
      textGuidance: 12,
      resolution: 'native',
      karrasSigmas: true,
    });
    // The re-run's seed does not stick to the next new instruction.
    expect(getState().draft.seed).toBeNull();
    client.calls[0]?.resolve({ jobId: 'j1', messageId: 'm1' });
    await sent;
  });

  it('gives back the seed chosen before the re-run when it is left', () => {
    setState((s) => ({ draft: { ...s.draft, seed: 77 } }));
    startRerun(message);
    expect(getState().draft.seed).toBe(4242);
    stopRerun();
    expect(getState().draft.seed).toBe(77);
    expect(getState().rerunOf).toBeNull();
  });
});
