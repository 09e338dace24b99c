import { CANCELLED_ERROR_NAME } from '../../shared/engine-types';

export class EditCancelledError extends Error {
  override name = CANCELLED_ERROR_NAME;
  constructor(message = 'The edit was cancelled') {
    super(message);
  }
}

export class InvalidSettingsError extends Error {
  override name = 'InvalidSettingsError';
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new EditCancelledError();
}
