/**
 * Errors that cross the contract. A handler failure reaches the renderer as `{ code, message }`
 * (never a stack or an internal object); the client rethrows it as a ContractError.
 */

export const ERROR_CODES = [
  /** The payload did not match the call's schema. */
  'bad-request',
  /** No such call. */
  'unknown-call',
  /** Browser mode: no or a wrong access token. */
  'unauthorized',
  /** A path the user did not choose, or a sender that is not our window. */
  'forbidden',
  /** No document, layer, message or job with that id. */
  'not-found',
  /** Not available in this mode (e.g. native dialogs in browser mode). */
  'unsupported',
  /** The state does not allow it now (e.g. no model loaded). */
  'conflict',
  /** Anything else: the handler ran and failed; the message says why. */
  'failed',
  /** The connection to the main side was lost. */
  'disconnected',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorPayload {
  code: ErrorCode;
  message: string;
}

export class ContractError extends Error {
  override name = 'ContractError';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }

  toPayload(): ErrorPayload {
    return { code: this.code, message: this.message };
  }

  static fromPayload(payload: unknown): ContractError {
    if (payload && typeof payload === 'object') {
      const { code, message } = payload as { code?: unknown; message?: unknown };
      const knownCode = (ERROR_CODES as readonly unknown[]).includes(code) ? (code as ErrorCode) : 'failed';
      return new ContractError(knownCode, typeof message === 'string' ? message : 'Unknown error');
    }
    return new ContractError('failed', String(payload));
  }
}

/** Result envelope used by both transports: handlers never throw across the boundary. */
export type CallResult = { ok: true; value: unknown } | { ok: false; error: ErrorPayload };
