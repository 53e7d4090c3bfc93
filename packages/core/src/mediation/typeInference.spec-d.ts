// Type tests: checked by `npm run typecheck` (tsc), never run. A `@ts-expect-error` that finds no error fails the check.
import { expectTypeOf } from 'vitest';
import { z } from 'zod';
import { createApplication } from '../application/application.ts';
import { token } from '../dependencyInjection/token.ts';
import { createMapper, mapTarget } from '../mapping/mapper.ts';
import { command, event, query, unchecked } from '../messages/message.ts';
import { notFound, type OperationResult, ok } from '../results/operationResult.ts';
import { behavior } from './behavior.ts';
import { eventHandler, handler } from './handler.ts';

interface OrderDto {
  id: string;
  total: number;
}
const PlaceOrder = command(
  'PlaceOrder',
  z.object({ customerName: z.string(), pizzas: z.array(z.string()) }),
).returns<OrderDto>();
const CountOrders = query('CountOrders').returns<number>();
const OrderPlaced = event('order.placed.v1', z.object({ id: z.string() }));
const Clock = token<() => Date>('Clock');

declare const app: Awaited<ReturnType<ReturnType<typeof createApplication>['build']>>;

// execute infers the result type from the message.
expectTypeOf(app.mediator.execute(new PlaceOrder({ customerName: 'a', pizzas: [] }))).toEqualTypeOf<
  Promise<OperationResult<OrderDto>>
>();
expectTypeOf(app.mediator.execute(new CountOrders({}))).toEqualTypeOf<Promise<OperationResult<number>>>();

// The payload is typed from the schema.
// @ts-expect-error customerName must be a string
new PlaceOrder({ customerName: 1, pizzas: [] });
// @ts-expect-error pizzas is required
new PlaceOrder({ customerName: 'a' });

// Executing an event does not compile; publishing a command does not either.
// @ts-expect-error events are published, not executed
app.mediator.execute(new OrderPlaced({ id: '1' }));
// @ts-expect-error commands are executed, not published
app.mediator.publish(new CountOrders({}));

// A handler returning the wrong type does not compile; failures of any kind do.
handler(PlaceOrder, (cmd) => ok({ id: cmd.customerName, total: 1 }));
handler(PlaceOrder, () => notFound('Order', 'x'));
// @ts-expect-error total must be a number
handler(PlaceOrder, () => ok({ id: 'x', total: 'free' }));
// @ts-expect-error the count is a number, not a string
handler(CountOrders, async () => ok('three'));
// @ts-expect-error events have event handlers
handler(OrderPlaced, () => ok(undefined));

// Dependencies are resolved with their types.
handler(CountOrders, { clock: Clock }, (_q, { clock }) => {
  expectTypeOf(clock).toEqualTypeOf<() => Date>();
  return ok(clock().getDate());
});
eventHandler('log', OrderPlaced, (e) => {
  expectTypeOf(e.id).toEqualTypeOf<string>();
});

// Behaviors scoped to one message see its type and its result.
behavior({ name: 'b', order: 1, scope: PlaceOrder }, async (cmd, next) => {
  expectTypeOf(cmd.customerName).toEqualTypeOf<string>();
  const result = await next();
  expectTypeOf(result).toEqualTypeOf<OperationResult<OrderDto>>();
  return result;
});

// A behavior's declared dependencies arrive typed, whatever its scope.
behavior(
  { name: 'c', order: 1, scope: 'commands', dependencies: { clock: Clock } },
  async (_m, next, _c, deps) => {
    expectTypeOf(deps.clock).toEqualTypeOf<() => Date>();
    return next();
  },
);
behavior(
  { name: 'e', order: 1, scope: 'events', dependencies: { clock: Clock } },
  async (_e, next, _c, deps) => {
    expectTypeOf(deps.clock).toEqualTypeOf<() => Date>();
    // @ts-expect-error: only what was declared
    deps.calendar;
    return next();
  },
);

// Results narrow on `ok`.
declare const result: OperationResult<OrderDto>;
if (result.ok) expectTypeOf(result.data).toEqualTypeOf<OrderDto>();
else expectTypeOf(result.problem.status).toEqualTypeOf<number>();

// The mapper knows its registered pairs.
class Order {
  id = 'o';
}
class Customer {
  name = 'c';
}
const OrderDtoTarget = mapTarget<OrderDto>('OrderDto');
const mapper = createMapper().add(Order, OrderDtoTarget, (o) => ({ id: o.id, total: 0 }));
expectTypeOf(mapper.map(new Order(), OrderDtoTarget)).toEqualTypeOf<OrderDto>();
// @ts-expect-error no mapping from Customer to OrderDto is registered
mapper.map(new Customer(), OrderDtoTarget);

// Registrations are typed: a factory must produce the token's type.
// @ts-expect-error the clock returns a Date, not a number
createApplication().singleton(Clock, () => () => 42);
// @ts-expect-error scoped factories cannot be async
createApplication().scoped(Clock, async () => () => new Date());
unchecked<{ a: number }>();
