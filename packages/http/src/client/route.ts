// Routes: which message an HTTP request becomes, declared once and read by the server (to route, validate and
// answer), by the OpenAPI generator and by the typed client. Nothing here imports Fastify or Node, so the same
// declarations load in a browser.
import type {
  MessageDefinition,
  PayloadInputOf,
  PayloadOf,
  Principal,
  RequestDefinition,
  ResultOf,
  SuccessStatus,
} from '@myelin/core';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Response header: the log position of a command's write. Request header: a query reads at least that far. */
export const positionHeader = 'myelin-position';
/** The id tying a request to everything it caused, echoed on every response. */
export const correlationHeader = 'x-correlation-id';

/** The names in a path template: `/orders/{id}/items/{item}` → `'id' | 'item'`. */
export type PathParams<TPath extends string> = TPath extends `${string}{${infer Param}}${infer Rest}`
  ? Param | PathParams<Rest>
  : never;

/** What the server knows of a request when it fills in fields the caller does not send. */
export interface RequestParts {
  readonly params: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string | readonly string[]>>;
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** The authenticated caller, if any. */
  readonly principal: Principal | undefined;
}

/** The data a request's result carries when it succeeds. */
export type DataOf<TDefinition> = TDefinition extends RequestDefinition<infer TResult> ? TResult : never;

export interface RouteOptions<TDefinition extends RequestDefinition, TFilled> {
  /** A name for the operation (OpenAPI's `operationId`); defaults to the route's key in {@link routes}. */
  readonly operationId?: string;
  readonly summary?: string;
  /** Defaults to the message's description. */
  readonly description?: string;
  readonly tags?: readonly string[];
  /**
   * Fields of the message the server fills in, never the caller: the principal's id, a header. They win over
   * anything the request says, and the typed client does not ask for them.
   * @example with: ({ principal }) => ({ driverId: principal?.subject ?? '' })
   */
  readonly with?: (request: RequestParts) => TFilled;
  /**
   * The version of a single resource in this route's successful result: sent as a strong `ETag`, and compared
   * with `If-None-Match` (304 when it matches).
   */
  readonly etag?: (data: DataOf<TDefinition>) => string | number | undefined;
  /**
   * The message field that receives the version an `If-Match` header names (`"3"` → 3), so the handler can refuse
   * a stale write with `preconditionFailed` (412). Without the header the field is left out.
   */
  readonly ifMatch?: keyof PayloadOf<TDefinition> & string;
  /** Failure statuses the handler can answer with, beyond those every route documents (400, 401, 403, 500). */
  readonly problems?: readonly number[];
  /** The status of a success, for the documentation; defaults to 201 for POST, 204 for DELETE, 200 otherwise. */
  readonly status?: SuccessStatus;
}

/** A route: a method and path bound to a command or query. */
export interface Route<
  TMethod extends HttpMethod = HttpMethod,
  TPath extends string = string,
  TDefinition extends RequestDefinition = RequestDefinition,
  TFilled = unknown,
> {
  readonly method: TMethod;
  readonly path: TPath;
  readonly message: TDefinition;
  readonly options: RouteOptions<TDefinition, TFilled>;
}

/** Any route, whatever its types. */
export type AnyRoute = Route<HttpMethod, string, RequestDefinition, any>;

/** Fails to compile when a path names a parameter the message has no field for. */
type CheckedPath<TPath extends string, TDefinition> = [PathParams<TPath>] extends [
  keyof PayloadOf<TDefinition>,
]
  ? TPath
  : `path parameter '${Exclude<PathParams<TPath>, keyof PayloadOf<TDefinition>> & string}' is not a field of the message`;

function declare<const TMethod extends HttpMethod>(method: TMethod) {
  return <
    const TPath extends string,
    TDefinition extends MessageDefinition<'command' | 'query', string, any, any>,
    TFilled extends Partial<PayloadOf<TDefinition>> = Record<never, never>,
  >(
    path: CheckedPath<TPath, TDefinition>,
    message: TDefinition,
    options: RouteOptions<TDefinition, TFilled> = {},
  ): Route<TMethod, TPath, TDefinition, NoInfer<TFilled>> => {
    if (!path.startsWith('/')) throw new TypeError(`A route's path starts with '/': '${path}'`);
    const fields = message.jsonSchema()?.properties as Record<string, unknown> | undefined;
    for (const param of pathParams(path)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(param)) {
        throw new TypeError(`Path parameter '{${param}}' in '${path}' is not a plain name`);
      }
      if (fields !== undefined && !(param in fields)) {
        throw new TypeError(`Path parameter '{${param}}' in '${path}' is not a field of ${message.type}`);
      }
    }
    return { method, path: path as TPath, message, options } as Route<
      TMethod,
      TPath,
      TDefinition,
      NoInfer<TFilled>
    >;
  };
}

/** `GET path` → the query (or command) `message`, built from the path and the query string. */
export const get = declare('GET');
/** `POST path` → `message`, built from the path and the JSON body. */
export const post = declare('POST');
/** `PUT path` → `message`, built from the path and the JSON body. */
export const put = declare('PUT');
/** `PATCH path` → `message`, built from the path and the JSON body. */
export const patch = declare('PATCH');
/** `DELETE path` → `message`, built from the path and the query string. */
export const del = declare('DELETE');

/**
 * An API: routes by name. The names become OpenAPI operation ids and the typed client's methods.
 * @example
 * export const api = routes({
 *   placeOrder: post('/api/orders', PlaceOrder),
 *   getOrder: get('/api/orders/{id}', GetOrder, { etag: (order) => order.version, problems: [404] }),
 * });
 */
export function routes<const TRoutes extends Readonly<Record<string, AnyRoute>>>(api: TRoutes): TRoutes {
  const seen = new Map<string, string>();
  for (const [name, route] of Object.entries(api)) {
    const key = `${route.method} ${route.path.replaceAll(/\{[^}]*\}/g, '{}')}`;
    const other = seen.get(key);
    if (other !== undefined) {
      throw new TypeError(`Routes '${other}' and '${name}' both answer ${route.method} ${route.path}`);
    }
    seen.set(key, name);
  }
  return api;
}

/** The parameter names of a path, in order. */
export function pathParams(path: string): string[] {
  return [...path.matchAll(/\{([^}]*)\}/g)].map((match) => match[1] ?? '');
}

/** Whether a method carries the message in its body (otherwise in the query string). */
export function hasBody(method: HttpMethod): boolean {
  return method === 'POST' || method === 'PUT' || method === 'PATCH';
}

/** The success status a route documents. */
export function successStatus(route: AnyRoute): SuccessStatus {
  return route.options.status ?? (route.method === 'POST' ? 201 : route.method === 'DELETE' ? 204 : 200);
}

/** What a caller sends for a route: the message's fields but those the server fills in. */
export type InputOf<TRoute> =
  TRoute extends Route<HttpMethod, string, infer TDefinition, infer TFilled>
    ? Omit<PayloadInputOf<TDefinition>, keyof TFilled>
    : never;

/** What a route answers with on success. */
export type OutputOf<TRoute> =
  TRoute extends Route<HttpMethod, string, infer TDefinition, any>
    ? ResultOf<InstanceType<TDefinition>>
    : never;
