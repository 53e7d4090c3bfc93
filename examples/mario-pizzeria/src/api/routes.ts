import { routes } from '@myelin/http/client';
import { alertsRoutes } from '../alerts/contract.ts';
import { customersRoutes } from '../customers/contract.ts';
import { deliveryRoutes } from '../delivery/contract.ts';
import { kitchenRoutes } from '../kitchen/contract.ts';
import { menuRoutes } from '../menu/contract.ts';
import { ordersRoutes } from '../orders/contract.ts';
import { statsRoutes } from '../stats/contract.ts';

/**
 * The HTTP API: each area's routes, declared beside its messages (`<area>/contract.ts`). Each route names its
 * message, and the rest (validation, status codes, problem+json, authentication, OpenAPI) follows from the
 * message's declaration and its policy. Handler-free, so the browser's typed client imports it.
 */
export const api = routes({
  ...ordersRoutes,
  ...kitchenRoutes,
  ...deliveryRoutes,
  ...menuRoutes,
  ...statsRoutes,
  ...alertsRoutes,
  ...customersRoutes,
});
