import { handler, type Module, ok } from '@myelin/core';
import { roles } from '../shared/roles.ts';
import { AlertBoard } from './alertBoard.ts';
import { GetAlerts } from './contract.ts';

/** Alerts are few (orders waiting too long); a page of 200 is all of them on any evening. */
const most = 200;

export const getAlerts: Module = (app) =>
  app.authorize(GetAlerts, { roles: [roles.manager] }).handle(
    handler(GetAlerts, { board: AlertBoard }, async (_q, { board }) => {
      const { items } = await board.find({
        where: { alert: { in: ['kitchen', 'delivery'] } },
        sort: [{ field: 'since' }, { field: 'id' }],
        pageSize: most,
      });
      return ok({
        items: items.map((order) => ({
          orderId: order.id,
          kind: order.alert as 'kitchen' | 'delivery',
          since: order.since ?? '',
        })),
      });
    }),
  );
