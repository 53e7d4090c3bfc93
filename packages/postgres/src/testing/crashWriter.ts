// Test support: a process that writes commands as fast as it can and prints each one that returned success, so a
// test can kill it (SIGKILL) mid-stream and check what survived. Usage: crashWriter.ts postgres <url> <schema>
//                                                                        crashWriter.ts pglite <dataDir> <schema>
import {
  AggregateRoot,
  command,
  createApplication,
  event,
  handler,
  ok,
  type QueryableRepository,
  type Repository,
  token,
  unchecked,
} from '@myelin/core';
import type { Database } from '../database/database.ts';
import { pgliteDatabase } from '../database/pgliteDatabase.ts';
import { postgresDatabase } from '../database/postgresDatabase.ts';
import { postgresPersistence } from '../postgresPersistence.ts';
import { postgresEventSourcedRepository } from '../repositories/eventSourcedRepository.ts';
import { postgresStateStoredRepository } from '../repositories/stateStoredRepository.ts';

export const OrderPlaced = event('crash.order.placed', unchecked<{ customer: string }>());
export const OrderPaid = event('crash.order.paid', unchecked<{ amount: number }>());
export const CustomerOrdered = event('crash.customer.ordered', unchecked<{ order: string }>());
type OrderEvent = InstanceType<typeof OrderPlaced> | InstanceType<typeof OrderPaid>;
type CustomerEvent = InstanceType<typeof CustomerOrdered>;

class Order extends AggregateRoot<{ paid: number }, OrderEvent> {
  constructor(id: string) {
    super(id, { paid: 0 });
  }
  protected override apply(state: { paid: number }, e: OrderEvent) {
    return 'amount' in e ? { paid: state.paid + e.amount } : state;
  }
  place(customer: string, amount: number): void {
    this.raise(new OrderPlaced({ customer }));
    this.raise(new OrderPaid({ amount }));
  }
}

class Customer extends AggregateRoot<{ orders: string[] }, CustomerEvent> {
  constructor(id: string) {
    super(id, { orders: [] });
  }
  protected override apply(state: { orders: string[] }, e: CustomerEvent) {
    return { orders: [...state.orders, e.order] };
  }
  ordered(order: string): void {
    this.raise(new CustomerOrdered({ order }));
  }
}

const PlaceOrder = command('crash.placeOrder', unchecked<{ id: string }>()).returns<void>();
const Orders = token<Repository<Order>>('Orders');
const Customers = token<QueryableRepository<Customer>>('Customers');

const [engine, location, schema] = process.argv.slice(2) as [string, string, string];
const database: Database =
  engine === 'pglite'
    ? await pgliteDatabase({ dataDir: location, schema })
    : postgresDatabase({ connectionString: location, schema, max: 4 });

const app = await createApplication()
  .include(postgresPersistence(database))
  .register(
    postgresEventSourcedRepository(Orders, Order, { events: [OrderPlaced, OrderPaid], stream: 'Order' }),
  )
  .register(postgresStateStoredRepository(Customers, Customer, { collection: 'Customer' }))
  .handle(
    handler(PlaceOrder, { orders: Orders, customers: Customers }, async (c, { orders, customers }) => {
      // Each command writes an event-sourced order (two events) and a state-stored customer (one event).
      const order = new Order(c.id);
      order.place(`customer-${c.id}`, 10);
      await orders.add(order);
      const customer = new Customer(`customer-${c.id}`);
      customer.ordered(c.id);
      await customers.add(customer);
      return ok(undefined);
    }),
  )
  .build();

console.log('ready');
for (let i = 0; ; i++) {
  const result = await app.mediator.execute(new PlaceOrder({ id: `o${i}` }));
  if (!result.ok) throw new Error(JSON.stringify(result.problem));
  process.stdout.write(`ok o${i}\n`);
}
