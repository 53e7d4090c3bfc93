import { handler, type Module, ok } from '@myelin/core';
import { dollars } from '../domain/money.ts';
import { roles } from '../shared/roles.ts';
import { GetStatistics } from './contract.ts';
import { type DayFigures, noFigures, Statistics, type TotalFigures } from './statistics.ts';

/** The days of revenue the dashboard charts. */
const days = 30;

/** Two reads of figures the projection keeps up to date: the totals, and the last days with revenue. */
export const getStatistics: Module = (app) =>
  app.authorize(GetStatistics, { roles: [roles.manager] }).handle(
    handler(GetStatistics, { statistics: Statistics }, async (_q, { statistics }) => {
      const [stored, recent] = await Promise.all([
        statistics.get('totals') as Promise<TotalFigures | undefined>,
        statistics.find({
          where: { kind: 'day' },
          sort: [{ field: 'id', direction: 'desc' }],
          pageSize: days,
        }),
      ]);
      const totals = stored ?? noFigures;
      const topPizzas = Object.entries(totals.pizzas)
        .map(([name, count]) => ({ name, count }))
        .sort((a, b) => b.count - a.count || (a.name < b.name ? -1 : 1))
        .slice(0, 5);
      return ok({
        ordersByStatus: totals.ordersByStatus,
        revenue: dollars(totals.revenueCents),
        topPizzas,
        averageMinutesToReady:
          totals.readyOrders === 0
            ? null
            : Math.round((totals.minutesToReady / totals.readyOrders) * 10) / 10,
        revenueByDay: (recent.items as DayFigures[])
          .map((day) => ({ day: day.day, revenue: dollars(day.revenueCents) }))
          .reverse(),
      });
    }),
  );
