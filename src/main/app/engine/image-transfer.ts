/**
 * Large images between the engine host and the engine worker, in pieces (protocol.ts's ImagePiece):
 *
 *   sender:   message with images → each image over IMAGE_PIECE_BYTES goes first as pieces, one
 *             per turn of the event loop → then the message, each such image replaced by its
 *             ImageInPieces reference
 *   receiver: pieces copied into one array allocated at the first piece → the message arrives
 *             (messages keep their order on the channel) → references replaced by the images
 *
 * so neither side's event loop copies a whole picture in one go, and the other side's pieces arrive
 * between its other work. Small images stay in their message. Both sides post every message through
 * one ImageSender, so the order they were posted in is the order they arrive in.
 *
 * Works over any ProcessHandle (a Node child process, an Electron utilityProcess): pieces are fresh
 * arrays, since structured clone copies the whole buffer behind a view.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { IMAGE_PIECE_BYTES, type ImageInPieces, type ImagePiece, type OnWire } from './protocol';

interface ImageLike {
  width: number;
  height: number;
  data: Uint8Array;
}

function isImage(value: object): value is ImageLike {
  const candidate = value as Partial<ImageLike>;
  return (
    typeof candidate.width === 'number' &&
    typeof candidate.height === 'number' &&
    candidate.data instanceof Uint8Array
  );
}

function isReference(value: object): value is ImageInPieces {
  return typeof (value as Partial<ImageInPieces>).imageInPieces === 'number';
}

/** Copies of the objects on the way to each value `replace` changes; everything else is shared. */
function mapImages(value: unknown, replace: (value: object) => object | undefined): unknown {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return value;
  const replaced = replace(value);
  if (replaced) return replaced;
  if (Array.isArray(value)) return value.map((item: unknown) => mapImages(item, replace));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = mapImages(item, replace);
  return out;
}

/** Thrown by ImageSender.post when its `stop` said to stop before the message was sent. */
export class TransferStoppedError extends Error {
  override name = 'TransferStoppedError';
}

/** Sends messages in the order posted, their large images in pieces ahead of them. */
export class ImageSender<Message extends object> {
  private tail: Promise<unknown> = Promise.resolve();
  private nextTransferId = 1;

  constructor(private readonly send: (message: OnWire<Message> | ImagePiece) => void) {}

  /**
   * Sends `message` once everything posted before it is sent. Resolves when it went out; rejects with
   * TransferStoppedError (and sends nothing more of it) when `stop` answers true between pieces.
   */
  post(message: Message, stop: () => boolean = () => false): Promise<void> {
    const run = this.tail.then(() => this.transfer(message, stop));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async transfer(message: Message, stop: () => boolean): Promise<void> {
    if (stop()) throw new TransferStoppedError('stopped before it was sent');
    const jobId = 'jobId' in message && typeof message.jobId === 'string' ? message.jobId : '';
    const large: { transferId: number; data: Uint8Array }[] = [];
    const wire = mapImages(message, (value) => {
      if (!isImage(value) || value.data.byteLength <= IMAGE_PIECE_BYTES) return undefined;
      const transferId = this.nextTransferId++;
      large.push({ transferId, data: value.data });
      const reference: ImageInPieces = {
        imageInPieces: transferId,
        width: value.width,
        height: value.height,
      };
      return reference;
    }) as OnWire<Message>;
    for (const { transferId, data } of large) {
      for (let offset = 0; offset < data.byteLength; offset += IMAGE_PIECE_BYTES) {
        // A turn before each piece: the first lets the caller's turn end, the rest let others in.
        await nextTurn();
        if (stop()) throw new TransferStoppedError('stopped while its images were being sent');
        const end = Math.min(data.byteLength, offset + IMAGE_PIECE_BYTES);
        this.send({
          type: 'imagePiece',
          jobId,
          transferId,
          bytes: data.byteLength,
          offset,
          data: data.slice(offset, end),
        });
      }
    }
    this.send(wire);
  }
}

interface Assembly {
  jobId: string;
  data: Uint8Array;
  received: number;
  /** Why the pieces cannot make the image (out of order, too long), or null. */
  broken: string | null;
}

/** Puts images sent in pieces back together and into the messages that refer to them. */
export class ImageAssembler {
  private readonly assemblies = new Map<number, Assembly>();
  /** Jobs whose images are no longer wanted: their late pieces are ignored. */
  private readonly dropped = new Set<string>();

  accept(piece: ImagePiece): void {
    if (this.dropped.has(piece.jobId)) return;
    let assembly = this.assemblies.get(piece.transferId);
    if (!assembly) {
      assembly = { jobId: piece.jobId, data: new Uint8Array(piece.bytes), received: 0, broken: null };
      this.assemblies.set(piece.transferId, assembly);
    }
    if (assembly.broken) return;
    if (
      piece.offset !== assembly.received ||
      piece.offset + piece.data.byteLength > assembly.data.byteLength
    ) {
      assembly.broken = `piece at ${piece.offset} (${piece.data.byteLength} bytes) does not follow ${assembly.received} of ${assembly.data.byteLength} bytes`;
      return;
    }
    assembly.data.set(piece.data, piece.offset);
    assembly.received += piece.data.byteLength;
  }

  /** `message` with each reference replaced by its image; throws when an image is not whole. */
  unpack<Message>(message: OnWire<Message>): Message {
    return mapImages(message, (value) => {
      if (!isReference(value)) return undefined;
      const assembly = this.assemblies.get(value.imageInPieces);
      this.assemblies.delete(value.imageInPieces);
      const problem = !assembly
        ? 'none of it arrived'
        : (assembly.broken ??
          (assembly.received < assembly.data.byteLength
            ? `${assembly.received} of ${assembly.data.byteLength} bytes arrived`
            : null));
      if (problem || !assembly) {
        throw new Error(`An image sent in pieces between the app and the engine is incomplete: ${problem}`);
      }
      const image: ImageLike = { width: value.width, height: value.height, data: assembly.data };
      return image;
    }) as Message;
  }

  /** Forgets a job's partial images (its pieces come before its last message, so none follow). */
  discard(jobId: string): void {
    for (const [transferId, assembly] of this.assemblies) {
      if (assembly.jobId === jobId) this.assemblies.delete(transferId);
    }
  }

  /** Forgets a job's partial images and ignores its pieces from now on (a job cancelled on its way). */
  drop(jobId: string): void {
    this.dropped.add(jobId);
    this.discard(jobId);
  }

  /** Images being put together (for tests: nothing is left behind). */
  get pending(): number {
    return this.assemblies.size;
  }
}
