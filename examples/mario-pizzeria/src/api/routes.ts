import { del, get, post, put, routes } from '@myelin/http/client';
import { AddMenuPizza, ChangeMenuPizza, RetireMenuPizza } from '../application/commands/menuChanges.ts';
import {
  AssignDriver,
  CancelOrder,
  MarkDelivered,
  MarkReady,
  StartCooking,
  StartDelivery,
} from '../application/commands/orderTransitions.ts';
import { PlaceOrder } from '../application/commands/placeOrder.ts';
import { GetDeliveryBoard } from '../application/queries/getDeliveryBoard.ts';
import { GetKitchenQueue } from '../application/queries/getKitchenQueue.ts';
import { GetMenu } from '../application/queries/getMenu.ts';
import { GetOrder } from '../application/queries/getOrder.ts';
import { GetStatistics } from '../application/queries/getStatistics.ts';
import { ListOrders } from '../application/queries/listOrders.ts';

/** A step of an order's life: 200 with the order, 404 unknown, 409 when its status forbids the step. */
const step = { status: 200, problems: [404, 409], tags: ['orders'] } as const;

/**
 * The HTTP API: each route names its message, and the rest (validation, status codes, problem+json,
 * authentication, OpenAPI) follows from the message's declaration and its policy.
 */
export const api = routes({
  placeOrder: post('/api/orders', PlaceOrder, { tags: ['orders'], summary: 'Place an order' }),
  getOrder: get('/api/orders/{id}', GetOrder, {
    etag: (order) => order.version,
    problems: [404],
    tags: ['orders'],
    summary: 'One order',
  }),
  listOrders: get('/api/orders', ListOrders, { tags: ['orders'], summary: 'Orders, newest first' }),
  startCooking: post('/api/orders/{id}/cooking', StartCooking, {
    ...step,
    summary: 'Start cooking',
  }),
  markReady: post('/api/orders/{id}/ready', MarkReady, { ...step, summary: 'Mark ready' }),
  assignDriver: post('/api/orders/{id}/assignment', AssignDriver, {
    ...step,
    summary: 'Assign a driver',
  }),
  startDelivery: post('/api/orders/{id}/delivery', StartDelivery, {
    ...step,
    summary: 'Take the order out',
  }),
  markDelivered: post('/api/orders/{id}/delivered', MarkDelivered, {
    ...step,
    summary: 'Hand the order over',
  }),
  cancelOrder: post('/api/orders/{id}/cancellation', CancelOrder, {
    ...step,
    summary: 'Cancel the order',
  }),
  kitchenQueue: get('/api/kitchen/queue', GetKitchenQueue, { tags: ['kitchen'], summary: 'The queue' }),
  deliveryBoard: get('/api/delivery/ready', GetDeliveryBoard, { tags: ['delivery'], summary: 'The board' }),
  getMenu: get('/api/menu', GetMenu, { tags: ['menu'], summary: 'The menu and the toppings' }),
  addPizza: post('/api/menu', AddMenuPizza, { problems: [409], tags: ['menu'], summary: 'Add a pizza' }),
  changePizza: put('/api/menu/{id}', ChangeMenuPizza, {
    problems: [404, 409],
    tags: ['menu'],
    summary: 'Change a pizza',
  }),
  retirePizza: del('/api/menu/{id}', RetireMenuPizza, {
    problems: [404],
    tags: ['menu'],
    summary: 'Retire a pizza',
  }),
  statistics: get('/api/stats', GetStatistics, { tags: ['statistics'], summary: "The manager's numbers" }),
});
