// Live updates as Server-Sent Events: each stream is a query followed live (`liveQuery`): its current state, then
// its new state after each commit that may change it, read through the same query as the REST route (and so under
// the same policy). Every stream follows the process's one commit feed, and streams that would show the same
// thing share one read.
import type { Application, StoredEvent } from '@myelin/core';
import { type LiveQuery, type LiveRoutes, liveQuery } from '@myelin/http';
import { commitFeed, type Database } from '@myelin/postgres';
import { DeliveryOverdue, KitchenOverdue } from '../alerts/alertEvents.ts';
import { GetAlerts } from '../alerts/contract.ts';
import { GetDeliveryBoard } from '../delivery/contract.ts';
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
import { GetKitchenQueue } from '../kitchen/contract.ts';
import { GetOrder } from '../orders/contract.ts';
import { boardPageSize } from '../shared/boardPage.ts';
import { roles } from '../shared/roles.ts';
import { GetStatistics } from '../stats/contract.ts';

/** The board page a stream follows (`?page=`); the query refuses a bad one, which the stream tells as a problem. */
const pageOf = (params: Readonly<Record<string, string>>) => ({
  page: params.page === undefined ? 1 : Number(params.page),
  pageSize: boardPageSize,
});

const types = (...definitions: readonly { readonly type: string }[]) => definitions.map((d) => d.type);

/** The five live streams (see the README's API section), by path. */
export function liveStreams(app: Application, database: Database): LiveRoutes {
  const live = (definition: LiveQuery) => liveQuery(app, commitFeed(database), definition);
  return {
    // An anonymous customer follows their order with the key its 201 gave (`?key=`), as they read it. What the
    // order shows depends on who asks (staff, its customer, the key's holder), so only they share a read.
    '/api/orders/{id}/live': live({
      event: 'order',
      types: types(...orderEvents),
      concerns: (event: StoredEvent, params) => (event.data as { orderId?: unknown }).orderId === params.id,
      query: (params) =>
        new GetOrder({ id: params.id ?? '', ...(params.key === undefined ? {} : { key: params.key }) }),
      queryParams: ['key'],
    }),
    // The boards and the statistics are the same for everyone the route lets in: all of them share each read.
    '/api/kitchen/live': live({
      event: 'queue',
      types: types(OrderPlaced, CookingStarted, OrderReady, OrderCancelled),
      query: (params) => new GetKitchenQueue(pageOf(params)),
      queryParams: ['page'],
      roles: [roles.chef, roles.manager],
      sharedBy: 'roles',
    }),
    '/api/delivery/live': live({
      event: 'board',
      types: types(OrderReady, DriverAssigned, DeliveryStarted, OrderDelivered, OrderCancelled),
      query: (params) => new GetDeliveryBoard(pageOf(params)),
      queryParams: ['page'],
      roles: [roles.driver, roles.manager],
      sharedBy: 'roles',
    }),
    '/api/alerts/live': live({
      event: 'alerts',
      types: types(KitchenOverdue, DeliveryOverdue, CookingStarted, DeliveryStarted, OrderCancelled),
      query: () => new GetAlerts({}),
      roles: [roles.manager],
      sharedBy: 'roles',
    }),
    '/api/stats/live': live({
      event: 'stats',
      types: types(...orderEvents),
      query: () => new GetStatistics({}),
      roles: [roles.manager],
      sharedBy: 'roles',
    }),
  };
}
