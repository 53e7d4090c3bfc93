// What clients see of the alerts: the query and its route (handler-free: the browser imports it).
import { query } from '@myelin/core';
import { get } from '@myelin/http/client';
import * as z from 'zod';

export const AlertDto = z.object({
  orderId: z.string(),
  kind: z.enum(['kitchen', 'delivery']).describe('kitchen: not started in time; delivery: ready and not out'),
  since: z.iso.datetime().describe('When the alert was raised'),
});

export const AlertsDto = z.object({ items: z.array(AlertDto) });
export type AlertsDto = z.output<typeof AlertsDto>;

export const GetAlerts = query('GetAlerts', z.object({}), {
  description: 'The orders waiting too long: in the kitchen, or ready and not out, oldest alert first',
}).returns(AlertsDto);

export const alertsRoutes = {
  alerts: get('/api/alerts', GetAlerts, { tags: ['alerts'], summary: 'Orders waiting too long' }),
};
