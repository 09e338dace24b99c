/**
 * The main side's entry for every call, whatever the transport: checks the name, validates the
 * payload against the contract's schema, runs the handler, and turns any failure into an error
 * envelope. It never throws, so a malformed or hostile payload cannot crash the main process.
 */
import { z } from 'zod';
import { isCallName, type CallName } from '../../shared/contract/channels';
import { ContractError, type CallResult } from '../../shared/contract/errors';
import { CALLS, type CallRequest, type CallResponse } from '../../shared/contract/schemas';

export type Handler<N extends CallName> = (
  request: z.output<(typeof CALLS)[N]['request']>,
) => Promise<CallResponse<N>> | CallResponse<N>;
export type Handlers = { [N in CallName]: Handler<N> };

export interface Dispatcher {
  dispatch(name: unknown, payload: unknown): Promise<CallResult>;
}

export interface DispatcherOptions {
  /** Validate responses too (tests, development): a handler returning the wrong shape is a bug. */
  checkResponses?: boolean;
  onError?: (name: string, error: unknown) => void;
}

/** A short, safe description of why a payload was refused (no echo of huge values). */
export function describeZodError(error: z.ZodError): string {
  const issues = error.issues.slice(0, 3).map((issue) => {
    const where = issue.path.length ? issue.path.map(String).join('.') : 'payload';
    return `${where}: ${issue.message.slice(0, 200)}`;
  });
  const more = error.issues.length > 3 ? ` (and ${error.issues.length - 3} more)` : '';
  return `Invalid request: ${issues.join('; ')}${more}`;
}

export function toErrorPayload(error: unknown): ContractError {
  if (error instanceof ContractError) return error;
  if (error instanceof z.ZodError) return new ContractError('bad-request', describeZodError(error));
  const message = error instanceof Error ? error.message : String(error);
  return new ContractError('failed', message.slice(0, 2000) || 'The operation failed');
}

export function createDispatcher(handlers: Handlers, options: DispatcherOptions = {}): Dispatcher {
  return {
    async dispatch(name, payload) {
      if (!isCallName(name)) {
        const shown = typeof name === 'string' ? `'${name.slice(0, 80)}'` : typeof name;
        return { ok: false, error: new ContractError('unknown-call', `No call named ${shown}`).toPayload() };
      }
      const schema = CALLS[name];
      const parsed = schema.request.safeParse(payload ?? {});
      if (!parsed.success) {
        return {
          ok: false,
          error: new ContractError('bad-request', describeZodError(parsed.error)).toPayload(),
        };
      }
      try {
        const handler = handlers[name] as (request: unknown) => unknown;
        const value = await handler(parsed.data);
        if (options.checkResponses) {
          const checked = schema.response.safeParse(value);
          if (!checked.success) {
            throw new ContractError(
              'failed',
              `Handler for ${name} answered outside the contract: ${describeZodError(checked.error)}`,
            );
          }
        }
        return { ok: true, value: value === undefined ? null : value };
      } catch (error) {
        options.onError?.(name, error);
        return { ok: false, error: toErrorPayload(error).toPayload() };
      }
    },
  };
}

export type { CallRequest };
