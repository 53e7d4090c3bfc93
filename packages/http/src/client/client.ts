// The typed client: calls an API through the same route declarations the server reads, so a call's input and its
// result are the message's payload and result types. Only the global `fetch`, `Headers` and `URLSearchParams`,
// so it runs in a browser as well as in Node.
import { type ProblemDetails, type SuccessStatus, statusTitles } from '@myelin/core';
import { type AnyRoute, hasBody, type InputOf, type OutputOf, pathParams, positionHeader } from './route.ts';

export interface ClientOptions {
  /** Where the API lives; the routes' paths are appended to it (`https://shop.example/api` + `/orders`). */
  readonly baseUrl: string;
  /** Defaults to the global `fetch` (looked up at each call, so a test can replace it). */
  readonly fetch?: typeof fetch;
  /**
   * The bearer token (the raw JWT; the client adds `Bearer`), or a function asked before every call, so a
   * refreshed token is used as soon as there is one. No token (or `undefined`) calls anonymously.
   */
  readonly token?: string | undefined | (() => string | undefined | Promise<string | undefined>);
  /** Headers sent with every call. */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Options of one call. The values may be `undefined` (meaning "not given") so that a previous result's fields can
 * be passed on as they are: `{ minPosition: written.position, ifNoneMatch: read.etag }`.
 */
export interface CallOptions {
  /** `Idempotency-Key`: a retried command with the same key and body is answered once, then replayed. */
  readonly idempotencyKey?: string | undefined;
  /**
   * `If-Match`: the version the write expects, as a result's `etag` gave it (`"3"`) or bare (`3`). A route with an
   * `ifMatch` field takes it from the input instead; give one or the other.
   */
  readonly ifMatch?: string | number | undefined;
  /**
   * `If-None-Match`: the `etag` of a copy already held. When it is still current the server answers 304, and the
   * call's result type includes {@link NotModified}, which it does not otherwise.
   */
  readonly ifNoneMatch?: string | undefined;
  /** A query reads at least this far in the log: pass a write's `position` to read your own writes. */
  readonly minPosition?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Headers for this call; they win over every other (including those the options above set). */
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

/** A call that succeeded: the route's result, and what the response's headers said about it. */
export interface ClientSuccess<TData> {
  readonly ok: true;
  readonly status: SuccessStatus;
  /** The result; `undefined` when the server answered 204 (no content). */
  readonly data: TData;
  /** On 201: where the created resource lives (the `Location` header, as the server wrote it). */
  readonly location?: string;
  /** On a write: its log position. Pass it to a query as `minPosition` to read your own write. */
  readonly position?: string;
  /** The resource's version (the `ETag` header, quotes and all), for `ifMatch` and `ifNoneMatch`. */
  readonly etag?: string;
}

/** A call the server refused or failed: RFC 9457 problem details, as core's `Failure`. */
export interface ClientFailure {
  readonly ok: false;
  readonly status: number;
  readonly problem: ProblemDetails;
}

/**
 * 304: the copy named by `ifNoneMatch` is current. A success, but without data, so a caller that asked for it
 * must tell it apart (on `status` or `notModified`) before reading `data`.
 */
export interface NotModified {
  readonly ok: true;
  readonly status: 304;
  readonly notModified: true;
  readonly etag?: string;
}

/** What a call answers: success with data, or failure with problem details; narrow on `ok`. */
export type ClientResult<TData> = ClientSuccess<TData> | ClientFailure;

/** A call's result given its options: {@link NotModified} is possible only when `ifNoneMatch` may be sent. */
export type CallResult<TData, TOptions> =
  | ClientResult<TData>
  // Distributes over a union of options, so `cond ? { ifNoneMatch } : {}` still counts as asking.
  | (TOptions extends unknown ? ('ifNoneMatch' extends keyof TOptions ? NotModified : never) : never);

/** What a call sends: the route's message fields but those the server fills in. */
export type ClientInput<TRoute> = InputOf<TRoute>;

type RequiredKeys<T> = { [K in keyof T]-?: Record<never, never> extends Pick<T, K> ? never : K }[keyof T];

/** The client's method for a route; its input may be left out when none of its fields is required. */
export type ClientMethod<TRoute> = [RequiredKeys<ClientInput<TRoute>>] extends [never]
  ? <const TOptions extends CallOptions = Record<never, never>>(
      input?: ClientInput<TRoute>,
      options?: TOptions,
    ) => Promise<CallResult<OutputOf<TRoute>, TOptions>>
  : <const TOptions extends CallOptions = Record<never, never>>(
      input: ClientInput<TRoute>,
      options?: TOptions,
    ) => Promise<CallResult<OutputOf<TRoute>, TOptions>>;

/** One method per route of the API, under the route's name. */
export type Client<TRoutes> = { readonly [K in keyof TRoutes]: ClientMethod<TRoutes[K]> };

/**
 * A typed client for an API declared with `routes`: each route becomes a method taking the message's fields
 * (but those the server fills in itself) and answering the route's result or a problem. Network failures reject;
 * every HTTP answer resolves.
 * @example
 * const client = createClient(api, { baseUrl: 'https://shop.example', token: () => session.token });
 * const placed = await client.placeOrder({ pizzas: ['margherita'] }, { idempotencyKey: crypto.randomUUID() });
 * if (placed.ok) console.log(placed.data.id, placed.location);
 * else console.error(placed.problem.detail);
 */
export function createClient<const TRoutes extends Readonly<Record<string, AnyRoute>>>(
  api: TRoutes,
  options: ClientOptions,
): Client<TRoutes> {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const client: Record<string, unknown> = {};
  for (const [name, route] of Object.entries(api)) {
    client[name] = (input: Readonly<Record<string, unknown>> | undefined, call: CallOptions | undefined) =>
      send(baseUrl, options, route, input ?? {}, call ?? {});
  }
  return Object.freeze(client) as Client<TRoutes>;
}

async function send(
  baseUrl: string,
  options: ClientOptions,
  route: AnyRoute,
  input: Readonly<Record<string, unknown>>,
  call: CallOptions,
): Promise<ClientResult<unknown> | NotModified> {
  const fields: Record<string, unknown> = { ...input };

  const path = route.path.replaceAll(/\{([^}]*)\}/g, (_, name: string) => {
    const value = fields[name];
    if (value === undefined || value === null) {
      throw new TypeError(`${route.method} ${route.path} needs '${name}' for its path`);
    }
    return encodeURIComponent(text(value, name));
  });
  // The server takes these from the path; sending them twice would only invite disagreement.
  for (const name of pathParams(route.path)) delete fields[name];

  let ifMatch = call.ifMatch;
  const versionField = route.options.ifMatch;
  if (versionField !== undefined && versionField in fields) {
    const version = fields[versionField];
    delete fields[versionField];
    if (version !== undefined) {
      if (typeof version !== 'string' && typeof version !== 'number') {
        throw new TypeError(`'${versionField}' is sent as If-Match, so it is a string or a number`);
      }
      if (ifMatch !== undefined && entityTag(ifMatch) !== entityTag(version)) {
        throw new TypeError(
          `If-Match given twice, as '${versionField}' and as the ifMatch option, differently`,
        );
      }
      ifMatch = version;
    }
  }

  const headers = new Headers({ accept: 'application/json, application/problem+json' });
  for (const [name, value] of Object.entries(options.headers ?? {})) headers.set(name, value);
  const token = typeof options.token === 'function' ? await options.token() : options.token;
  if (token !== undefined && token !== '') headers.set('authorization', `Bearer ${token}`);
  if (call.idempotencyKey !== undefined) headers.set('idempotency-key', call.idempotencyKey);
  if (ifMatch !== undefined) headers.set('if-match', entityTag(ifMatch));
  if (call.ifNoneMatch !== undefined) headers.set('if-none-match', entityTag(call.ifNoneMatch));
  if (call.minPosition !== undefined) headers.set(positionHeader, call.minPosition);

  let url = baseUrl + path;
  let body: string | undefined;
  if (hasBody(route.method)) {
    // Always a body, even `{}`: the server refuses a JSON content type with nothing in it.
    body = JSON.stringify(fields);
    headers.set('content-type', 'application/json');
  } else {
    url += queryString(fields);
  }
  for (const [name, value] of Object.entries(call.headers ?? {})) headers.set(name, value);

  // Called as a plain function: a browser's `fetch` refuses to run as a method of another object.
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const response = await fetchImpl(url, {
    method: route.method,
    headers,
    ...(body === undefined ? {} : { body }),
    ...(call.signal === undefined ? {} : { signal: call.signal }),
  });

  const etag = response.headers.get('etag') ?? undefined;
  if (response.status === 304) {
    return { ok: true, status: 304, notModified: true, ...(etag === undefined ? {} : { etag }) };
  }
  const content = await response.text();
  if (!response.ok) return { ok: false, status: response.status, problem: problemOf(response, content) };

  let data: unknown;
  if (content !== '') {
    try {
      data = JSON.parse(content);
    } catch (error) {
      // A success the client cannot read is not the server's answer to the question, so it is not a result.
      throw new TypeError(`${route.method} ${url} answered ${response.status} with a body that is not JSON`, {
        cause: error,
      });
    }
  }
  const location = response.headers.get('location') ?? undefined;
  const position = response.headers.get(positionHeader) ?? undefined;
  return {
    ok: true,
    // The server answers only the statuses core's successes carry; anything else passed through a proxy.
    status: response.status as SuccessStatus,
    data,
    ...(location === undefined ? {} : { location }),
    ...(position === undefined ? {} : { position }),
    ...(etag === undefined ? {} : { etag }),
  };
}

/** The fields as a query string: arrays as repeated keys, `undefined` and `null` left out, scalars as text. */
function queryString(fields: Readonly<Record<string, unknown>>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== undefined && item !== null) params.append(name, text(item, name));
    }
  }
  const query = params.toString();
  return query === '' ? '' : `?${query}`;
}

/** A value as the text the server converts back (by the message's schema). */
function text(value: unknown, name: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  // As JSON writes a date, so a field reads the same from a query string as from a body.
  if (value instanceof Date) return value.toISOString();
  throw new TypeError(
    `'${name}' is sent in the URL, which holds text, numbers and booleans, not ${typeof value}`,
  );
}

/** `3` or `abc` → `"3"`, `"abc"`; an entity tag already quoted (or weak, or a list, or `*`) is sent as it is. */
function entityTag(version: string | number): string {
  const value = String(version).trim();
  return value === '*' || value.includes('"') ? value : `"${value}"`;
}

/** The problem a failed response describes; a body that is not problem details is wrapped in one. */
function problemOf(response: Response, content: string): ProblemDetails {
  const title = statusTitles[response.status] ?? (response.statusText || `HTTP ${response.status}`);
  if (/[/+]json\b/i.test(response.headers.get('content-type') ?? '')) {
    try {
      const parsed: unknown = JSON.parse(content);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
        const problem = parsed as Record<string, unknown>;
        // Fills in the members RFC 9457 lets a server leave out, so a caller can rely on them.
        return {
          ...problem,
          type: typeof problem.type === 'string' ? problem.type : 'about:blank',
          title: typeof problem.title === 'string' ? problem.title : title,
          status: typeof problem.status === 'number' ? problem.status : response.status,
        };
      }
    } catch {
      // Not JSON after all (a proxy's error page sent as JSON): described as text below.
    }
  }
  return {
    type: 'about:blank',
    title,
    status: response.status,
    ...(content === '' ? {} : { detail: content }),
  };
}
