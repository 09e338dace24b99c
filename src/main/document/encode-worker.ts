/**
 * The encode worker (a worker_threads Worker in the backend's process): receives the images of a
 * job one message at a time, then the task, and answers with its result, moving the result's
 * buffers back rather than copying them. Built as `document-worker.js` beside the backend bundle.
 */
import { parentPort } from 'node:worker_threads';
import type { EncoderRequest, EncoderReply } from './encoder';
import { runEncodeTask } from './encode-tasks';

const port = parentPort;
if (!port) throw new Error('encode-worker.ts runs as a worker thread');

// Runs at the process's priority: at a lower one, any busy program on the machine made exports
// twice as slow as the CLI's, while the event loop, which mostly sleeps, gets a core within a few
// ms of waking either way.

const jobs = new Map<number, Uint8Array[]>();

port.on('message', (message: EncoderRequest) => {
  if (message.type === 'image') {
    let images = jobs.get(message.job);
    if (!images) jobs.set(message.job, (images = []));
    images[message.index] = message.data;
    return;
  }
  const images = jobs.get(message.job) ?? [];
  jobs.delete(message.job);
  let reply: EncoderReply;
  let transfer: ArrayBuffer[] = [];
  try {
    const done = runEncodeTask(message.task, images);
    reply = { job: message.job, ok: true, result: done.result };
    transfer = done.transfer;
  } catch (error) {
    reply = {
      job: message.job,
      ok: false,
      error: { name: (error as Error).name, message: (error as Error).message ?? String(error) },
    };
  }
  port.postMessage(reply, transfer);
});
