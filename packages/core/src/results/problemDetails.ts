/**
 * A problem with one field of a message, as found by validation.
 * `pointer` is an RFC 6901 JSON Pointer into the message (the form RFC 9457's own example uses);
 * `field` is the same path written the way people read it (`pizzas[0].size`).
 */
export interface FieldError {
  readonly field: string;
  readonly pointer: string;
  readonly detail: string;
}

/**
 * RFC 9457 problem details: the one shape every expected failure takes, from handler to HTTP response.
 * Extension members beyond the standard ones are allowed, as the RFC allows them.
 */
export interface ProblemDetails {
  /** A URI naming the kind of problem; `about:blank` when the status says it all (RFC 9457 §4.2.1). */
  readonly type: string;
  /** A short summary of the kind of problem; for `about:blank`, the HTTP reason phrase. */
  readonly title: string;
  readonly status: number;
  /** What went wrong this time, for a person to read. */
  readonly detail?: string;
  /** A URI naming this occurrence of the problem. */
  readonly instance?: string;
  /** Field-level problems, present on validation failures. */
  readonly errors?: readonly FieldError[];
  readonly [extension: string]: unknown;
}

/** The reason phrases of the statuses Myelin's helpers produce (RFC 9110 §15). */
export const statusTitles: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Renders a path from a schema issue as `items[0].name`. */
export function formatFieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** Renders a path as an RFC 6901 JSON Pointer fragment: `#/items/0/name`. */
export function formatJsonPointer(path: readonly PropertyKey[]): string {
  return `#${path.map((key) => `/${String(key).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('')}`;
}

/** Options for a problem beyond its status and detail text. */
export interface ProblemOptions {
  /** A URI naming the kind of problem; defaults to `about:blank`. */
  readonly type?: string;
  /** Defaults to the status's reason phrase (or, with a custom `type`, should summarise it). */
  readonly title?: string;
  readonly instance?: string;
  readonly errors?: readonly FieldError[];
  /** Extension members, merged into the problem. */
  readonly extensions?: Readonly<Record<string, unknown>>;
}

/**
 * Problem details (RFC 9457) for a status, with its defaults: `about:blank`, the status's reason phrase (or
 * 'Client Error' / 'Server Error'). The one builder: handlers' results and the HTTP layer's own answers agree.
 * Extensions follow the standard members and never replace them (§3.2).
 */
export function problemDetails(
  status: number,
  detail?: string,
  options: ProblemOptions = {},
): ProblemDetails {
  const details: Record<string, unknown> = {
    type: options.type ?? 'about:blank',
    title: options.title ?? statusTitles[status] ?? (status >= 500 ? 'Server Error' : 'Client Error'),
    status,
  };
  if (detail !== undefined) details.detail = detail;
  if (options.instance !== undefined) details.instance = options.instance;
  if (options.errors !== undefined) details.errors = options.errors;
  for (const [key, value] of Object.entries(options.extensions ?? {})) {
    if (!(key in details)) details[key] = value;
  }
  return details as unknown as ProblemDetails;
}
