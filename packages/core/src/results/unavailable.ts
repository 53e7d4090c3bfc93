/**
 * Something the operation needs (the database, the broker) cannot be reached now, or did not answer in time: the
 * operation did nothing that committed, and the same request may succeed later. Adapters throw it for connection
 * failures and timeouts; the HTTP boundary answers it with 503 and `Retry-After` instead of a 500, and readiness
 * reports the process not ready meanwhile.
 */
export class UnavailableError extends Error {
  /** When to try again, in seconds. */
  readonly retryAfterSeconds: number;

  constructor(
    message: string,
    options: { readonly retryAfterSeconds?: number; readonly cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'UnavailableError';
    this.retryAfterSeconds = options.retryAfterSeconds ?? 1;
  }
}

/**
 * Whether an error is an {@link UnavailableError}, also one thrown by another copy of `@myelin/core` (an adapter
 * installed with its own), which `instanceof` would miss.
 */
export function isUnavailable(error: unknown): error is UnavailableError {
  return (
    error instanceof UnavailableError ||
    (error instanceof Error &&
      error.name === 'UnavailableError' &&
      typeof (error as { retryAfterSeconds?: unknown }).retryAfterSeconds === 'number')
  );
}
