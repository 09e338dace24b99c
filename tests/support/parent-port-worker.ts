/**
 * The engine worker as Electron's utilityProcess runs it: it talks through `process.parentPort`
 * (postMessage out, 'message' events with `{ data }` in), here carried over the Node IPC channel
 * of a forked child so tests can drive it with the Node launcher (`entry`).
 */
const nodeSend = process.send!.bind(process);
const parentPort = {
  postMessage: (message: unknown) => nodeSend(message as never),
  on: (_event: 'message', listener: (event: { data: unknown }) => void) =>
    process.on('message', (data) => listener({ data })),
};
Object.assign(process, { parentPort });
void import('../../src/main/app/engine/worker');
