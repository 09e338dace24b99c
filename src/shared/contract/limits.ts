/**
 * Every size limit of the app, in one place (plain constants, no zod): the contract's schemas, the
 * WebSocket wire, image import, project loading, engine settings and the UI all read them here.
 */
export const LIMITS = {
  /** One limit for the prompt box, the contract, project files and the engine's settings check. */
  instructionChars: 2000,
  nameChars: 256,
  pathChars: 4096,
  idChars: 64,
  /** An image or project the renderer hands over (drop, paste, file input). */
  uploadBytes: 512 * 1024 * 1024,
  /** A mask the renderer painted: one byte per pixel. */
  maskPixels: 16384 * 16384,
  /** A document's (and so every layer's) side: import, project loading and every call agree. */
  imageSide: 16384,
  /** A document's pixels (width × height). */
  documentPixels: 100_000_000,
  /** Edit layers in one document (the layers panel, project files, staleness all stay fast). */
  layers: 1000,
  /**
   * Project files: items in one list or object of project.json. A manifest of `layers` layers with
   * dozens of variants each stays far below; a hostile list of millions is refused before parsing.
   */
  manifestItems: 250_000,
  maxSteps: 150,
  maxGuidance: 50,
  maxSeed: 0xffffffff,
  /** Scales on each axis of a guidance grid (the default grid is 5 × 5). */
  gridScalesPerAxis: 8,
  /** Browser mode: a text frame, or a binary frame's JSON header. */
  wireJsonBytes: 4 * 1024 * 1024,
  /** Browser mode: one frame, header and bytes (the largest upload plus its header). */
  wireFrameBytes: 512 * 1024 * 1024 + 4 * 1024 * 1024,
  /**
   * Browser mode: the most bytes of a frame one WebSocket message carries; a larger frame travels
   * as pieces of this size (wire.ts). `ws` buffers, joins and unmasks each received message in one
   * go on the server's event loop: 64 MiB held it 0.3–0.7 s on the shared test machine, a 4 MiB
   * piece ~20–40 ms (mostly first writes to new memory). The same size as the largest text frame.
   */
  wirePieceBytes: 4 * 1024 * 1024,
  /** Browser mode: arrays and objects nested in one message. */
  wireDepth: 64,
} as const;
