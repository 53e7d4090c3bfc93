// Live updates as Server-Sent Events: each stream follows the log with `tailLog` (woken by commits, not by
// polling) and, for each event that may change what it shows, sends the read model's new state, read through the
// same query as the REST route (and so under the same policy).
import {
  type Application,
  isLogPosition,
  type LogPosition,
  type OperationResult,
  type Principal,
  type Request,
  type StoredEvent,
  startOfLog,
} from '@myelin/core';
import type { LiveRoutes } from '@myelin/http';
import { type Database, readLog, tailLog } from '@myelin/postgres';
import { boardPageSize } from '../application/queries/boardPage.ts';
import { GetDeliveryBoard } from '../application/queries/getDeliveryBoard.ts';
import { GetKitchenQueue } from '../application/queries/getKitchenQueue.ts';
import { GetOrder } from '../application/queries/getOrder.ts';
import { GetStatistics } from '../application/queries/getStatistics.ts';
import { roles } from '../application/roles.ts';
import {
  CookingStarted,
  DeliveryStarted,
  DriverAssigned,
  OrderCancelled,
  OrderDelivered,
  OrderPlaced,
  OrderReady,
  orderEvents,
} from '../domain/orderEvents.ts';

type LiveStream = LiveRoutes[string];

/** What one stream follows: which events may change it, and the query that reads its new state. */
interface Follow {
  /** The SSE event name. */
  readonly event: string;
  readonly types: readonly string[];
  /** Whether an event concerns this stream (all of its types do, unless this says otherwise). */
  readonly concerns?: (event: StoredEvent, params: Readonly<Record<string, string>>) => boolean;
  readonly query: (params: Readonly<Record<string, string>>) => Request<unknown>;
  readonly roles?: readonly string[];
}

/**
 * A live stream of a read model. The first event is always the current state, with the position it is at least
 * as new as for its id; then one event per change, with the change's log position. A browser reconnecting with
 * `Last-Event-ID` gets the current state again and then every change after that id, so nothing is missed (a
 * change may show twice, which the same state twice makes harmless).
 *
 * For an async read model, the query is executed with the event's position as `minPosition`: it waits until the
 * projection has applied that event, then reads, so the state sent includes the change it announces.
 */
function liveStream(app: Application, database: Database, follow: Follow): LiveStream {
  const read = (
    params: Readonly<Record<string, string>>,
    principal: Principal | undefined,
    position: LogPosition,
    signal: AbortSignal,
  ): Promise<OperationResult<unknown>> =>
    app.mediator.execute(follow.query(params), { principal, minPosition: position, signal });
  return {
    ...(follow.roles === undefined ? {} : { roles: follow.roles }),
    async *events({ lastEventId, principal, params: path, query, signal }) {
      // An anonymous customer follows their order with the key its 201 gave (`?key=`), as they read it; a board
      // is followed a page at a time (`?page=`).
      const params = { ...path };
      for (const name of ['key', 'page'] as const) {
        const value = query[name];
        if (typeof value === 'string') params[name] = value;
      }
      // From the client's last event, or from the log's present end (below the horizon: every event up to it
      // has committed, so the state read next includes them all).
      const from =
        lastEventId !== undefined && isLogPosition(lastEventId)
          ? lastEventId
          : (await readLog(database, database.schema, { after: startOfLog, limit: 0 })).end;
      // Created now, read from `from` whenever it starts: nothing committed after `from` can be missed.
      const changes = tailLog(database, { after: from, types: follow.types, signal });
      const current = await read(params, principal, from, signal);
      if (!current.ok) {
        // The headers are sent already: an unknown order (or a refused query) is told as an event, and ends it.
        yield { event: 'problem', data: current.problem };
        return;
      }
      yield { id: from, event: follow.event, data: current.data };
      for await (const change of changes) {
        if (follow.concerns !== undefined && !follow.concerns(change, params)) continue;
        const next = await read(params, principal, change.position, signal);
        if (signal.aborted) return;
        if (!next.ok) {
          yield { event: 'problem', data: next.problem };
          return;
        }
        yield { id: change.position, event: follow.event, data: next.data };
      }
    },
  };
}

/** The board page a stream follows (`?page=`); the query refuses a bad one, which the stream tells as a problem. */
const pageOf = (params: Readonly<Record<string, string>>) => ({
  page: params.page === undefined ? 1 : Number(params.page),
  pageSize: boardPageSize,
});

const types = (...definitions: readonly { readonly type: string }[]) => definitions.map((d) => d.type);

/** The four live streams of API.md, by path. */
export function liveStreams(app: Application, database: Database): LiveRoutes {
  return {
    '/api/orders/{id}/live': liveStream(app, database, {
      event: 'order',
      types: types(...orderEvents),
      concerns: (event, params) => (event.data as { orderId?: unknown }).orderId === params.id,
      query: (params) =>
        new GetOrder({ id: params.id ?? '', ...(params.key === undefined ? {} : { key: params.key }) }),
    }),
    '/api/kitchen/live': liveStream(app, database, {
      event: 'queue',
      types: types(OrderPlaced, CookingStarted, OrderReady, OrderCancelled),
      query: (params) => new GetKitchenQueue(pageOf(params)),
      roles: [roles.chef, roles.manager],
    }),
    '/api/delivery/live': liveStream(app, database, {
      event: 'board',
      types: types(OrderReady, DriverAssigned, DeliveryStarted, OrderDelivered, OrderCancelled),
      query: (params) => new GetDeliveryBoard(pageOf(params)),
      roles: [roles.driver, roles.manager],
    }),
    '/api/stats/live': liveStream(app, database, {
      event: 'stats',
      types: types(...orderEvents),
      query: () => new GetStatistics({}),
      roles: [roles.manager],
    }),
  };
}
