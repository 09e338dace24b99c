import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { downloadModel, isWantedFile, type HubApi, type HubFile } from '../../src/main/app/model-download';

function repoFiles(): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);
  files.set(
    'model_index.json',
    new TextEncoder().encode('{"_class_name":"StableDiffusionInstructPix2PixPipeline"}'),
  );
  files.set('unet/model.onnx', bytes(300_000, 1));
  files.set('text_encoder/model.onnx', bytes(5000, 2));
  files.set('vae_encoder/model.onnx', bytes(4000, 3));
  files.set('vae_decoder/model.onnx', bytes(4000, 4));
  files.set('tokenizer/vocab.json', new TextEncoder().encode('{}'));
  files.set('README.md', new TextEncoder().encode('# readme'));
  files.set('safety_checker/model.onnx', bytes(1000, 5));
  return files;
}

/** A Hub in memory; `failAfter` bytes into a file, the stream errors (a dropped connection). */
function fakeHub(
  files: Map<string, Uint8Array>,
  options: { failAfter?: number; corrupt?: string } = {},
): HubApi & { opened: { path: string; offset: number }[] } {
  const opened: { path: string; offset: number }[] = [];
  return {
    opened,
    async *list() {
      for (const [path, data] of files) {
        const entry: HubFile =
          data.length > 10_000
            ? { path, size: data.length, sha256: createHash('sha256').update(data).digest('hex') }
            : {
                path,
                size: data.length,
                gitOid: createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex'),
              };
        yield entry;
      }
    },
    async open(_repo, path, _revision, offset) {
      opened.push({ path, offset });
      let data = files.get(path)!.slice(offset);
      if (options.corrupt === path) data = data.map((b) => b ^ 1);
      let sent = 0;
      return new ReadableStream<Uint8Array>({
        pull(controller) {
          if (options.failAfter !== undefined && sent >= options.failAfter) {
            controller.error(new Error('connection reset'));
            return;
          }
          const chunk = data.slice(sent, sent + 50_000);
          sent += chunk.length;
          if (chunk.length === 0) controller.close();
          else controller.enqueue(chunk);
        },
      });
    },
  };
}

describe('model download', () => {
  it('fetches only what the engine reads, verifies and resumes after an interruption', async () => {
    const files = repoFiles();
    const dir = join(mkdtempSync(join(tmpdir(), 'dl-')), 'model');
    expect(isWantedFile('README.md')).toBe(false);
    expect(isWantedFile('safety_checker/model.onnx')).toBe(false);

    await expect(
      downloadModel({
        repo: 'a/b',
        dir,
        hub: fakeHub(files, { failAfter: 100_000 }),
        freeBytes: async () => 1e12,
      }),
    ).rejects.toThrow('connection reset');
    const partial = statSync(join(dir, 'unet/model.onnx.part')).size;
    expect(partial).toBeGreaterThanOrEqual(100_000);

    const hub = fakeHub(files);
    const states: string[] = [];
    await downloadModel({
      repo: 'a/b',
      dir,
      hub,
      freeBytes: async () => 1e12,
      onProgress: (p) => states.push(p.state),
    });
    expect(hub.opened.find((entry) => entry.path === 'unet/model.onnx')?.offset).toBe(partial);
    expect(readFileSync(join(dir, 'unet/model.onnx'))).toEqual(Buffer.from(files.get('unet/model.onnx')!));
    expect(existsSync(join(dir, 'README.md'))).toBe(false);
    expect(existsSync(join(dir, 'unet/model.onnx.part'))).toBe(false);
    expect(states.at(-1)).toBe('done');
  });

  it('refuses a corrupt file, and a download that does not fit on the disk', async () => {
    const files = repoFiles();
    const dir = join(mkdtempSync(join(tmpdir(), 'dl-')), 'model');
    await expect(
      downloadModel({
        repo: 'a/b',
        dir,
        hub: fakeHub(files, { corrupt: 'unet/model.onnx' }),
        freeBytes: async () => 1e12,
      }),
    ).rejects.toThrow('checksum mismatch');
    expect(existsSync(join(dir, 'unet/model.onnx'))).toBe(false);
    await expect(
      downloadModel({ repo: 'a/b', dir, hub: fakeHub(files), freeBytes: async () => 1000, marginBytes: 0 }),
    ).rejects.toThrow('Not enough free disk space');
  });

  it('refuses a repository that is not an InstructPix2Pix export', async () => {
    const files = new Map([['README.md', new Uint8Array([1])]]);
    const dir = join(mkdtempSync(join(tmpdir(), 'dl-')), 'model');
    await expect(
      downloadModel({ repo: 'a/b', dir, hub: fakeHub(files), freeBytes: async () => 1e12 }),
    ).rejects.toThrow('does not look like');
  });
});

describe('download errors in plain words', () => {
  it('says plainly when the network is unreachable (a real refused connection)', async () => {
    const { explainDownloadError } = await import('../../src/main/app/model-download');
    // A port nothing listens on: taken, then released.
    const { createServer } = await import('node:net');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const error = await fetch(`http://127.0.0.1:${port}/api/models`).then(
      () => null,
      (failure: unknown) => failure,
    );
    expect(error).not.toBeNull();
    const text = explainDownloadError(error);
    expect(text).toMatch(/^Cannot reach huggingface\.co: this computer seems to be offline/);
    expect(text).toContain('ECONNREFUSED');
    // Other failures keep their own message.
    expect(explainDownloadError(new Error('unet/model.onnx: checksum mismatch'))).toBe(
      'unet/model.onnx: checksum mismatch',
    );
  });
});
