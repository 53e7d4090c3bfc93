// The `protected` case of the append benchmark: ten-event appends whose events carry a customer's personal data (a
// name, a phone, an address, an e-mail) and the customer's id. "on" appends them under an event type that declares
// those fields personal, to a store given a master key, which seals them (AES-256-GCM, a data key per customer);
// "off" appends the same payloads under a type declaring nothing, to a store without a key. Each stream's events
// belong to one customer, drawn from a pool of a few thousand who registered first (so their keys exist and are
// cached by the time anything is timed), as a service's returning customers are.
import { randomUUID } from 'node:crypto';
import { setTimeout } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import { event, localMasterKey, type NewEvent, newMasterKey, unchecked } from '@myelin/core';
import { type MyelinAppender, setUpMyelin } from './myelin.ts';
import {
  type Appender,
  appended,
  countStatements,
  nextStream,
  type Operation,
  type Writer,
} from './workload.ts';

/** Customers who have registered before the timed appends: each stream's events are one of theirs. */
export const customerPoolSize = 5000;

export const sides = ['on', 'off'] as const;
export type Side = (typeof sides)[number];

/** A customer as the pizzeria knows them: four personal fields, and an id that stays in clear. */
export interface Customer {
  readonly customerId: string;
  readonly name: string;
  readonly phone: string;
  readonly address: string;
  readonly email: string;
}

const personalFields = ['name', 'phone', 'address', 'email'] as const;
type OrderPayload = Customer & {
  readonly orderId: string;
  readonly items: readonly { readonly sku: string; readonly quantity: number; readonly priceCents: number }[];
  readonly totalCents: number;
  readonly currency: string;
};

// The two sides' types have names of the same length, so that their rows differ only by what sealing does.
const orderTypes: Record<Side, string> = {
  on: 'bench.order.personal.v1',
  off: 'bench.order.ordinary.v1',
};
const registeredTypes: Record<Side, string> = {
  on: 'bench.customer.personal.v1',
  off: 'bench.customer.ordinary.v1',
};
const personal = { subject: 'customerId', fields: personalFields } as const;
event(orderTypes.on, unchecked<OrderPayload>(), { personal });
event(orderTypes.off, unchecked<OrderPayload>());
event(registeredTypes.on, unchecked<Customer>(), { personal });
event(registeredTypes.off, unchecked<Customer>());

/** The schemas of the two stores, dropped and made afresh at every run. */
const schemas: Record<Side, string> = { on: 'bench_protected_on', off: 'bench_protected_off' };

/** The "on" store seals with a master key made for the run; the "off" store has none. */
export async function setUpProtected(): Promise<Record<Side, MyelinAppender>> {
  const on = await setUpMyelin(schemas.on, { personalData: { masterKey: localMasterKey(newMasterKey()) } });
  try {
    return { on, off: await setUpMyelin(schemas.off) };
  } catch (error) {
    await on.close();
    throw error;
  }
}

const firstNames = ['Giulia', 'Marco', 'Sofia', 'Luca', 'Aisha', 'Jonas', 'Emma', 'Mateo'];
const moreFirstNames = ['Chloé', 'Noah', 'Yuki', 'Olivia', 'Ahmed', 'Lena', 'Pietro', 'Zoë'];
const lastNames = ['Rossi', 'Bianchi', 'Müller', 'García', 'Nguyen', 'Okafor', 'Dubois', 'Kowalski'];
const moreLastNames = ['Andersson', 'Ferrari', 'Schmidt', 'Costa', 'Haddad', 'Novak', 'Romano', "O'Brien"];
/** Streets, each with its city and its country's calling code. */
const places = [
  ['Via Roma', '20121 Milano', '+39'],
  ['Hauptstraße', '10115 Berlin', '+49'],
  ['Rue de la Paix', '75002 Paris', '+33'],
  ['Calle Mayor', '28013 Madrid', '+34'],
  ['Corso Buenos Aires', '20124 Milano', '+39'],
  ['Kastanienallee', '10435 Berlin', '+49'],
] as const;
const pick = <T>(list: readonly T[], n: number): T => list[n % list.length] as T;

/** A customer with realistic strings (some with accents), their id a fresh UUID. */
export function customer(index: number): Customer {
  const first = pick([...firstNames, ...moreFirstNames], index);
  const last = pick([...lastNames, ...moreLastNames], Math.floor(index / 16) + index);
  const local = `${first}.${last}`
    .normalize('NFD')
    .replace(/[^A-Za-z.]/g, '')
    .toLowerCase();
  const digits = String(3_100_000_000 + ((index * 7_919_357) % 899_999_999));
  const [street, city, country] = pick(places, index);
  return {
    customerId: randomUUID(),
    name: `${first} ${last}`,
    phone: `${country} ${digits.slice(0, 3)} ${digits.slice(3, 6)} ${digits.slice(6)}`,
    address: `${(index % 180) + 1} ${street}, ${city}`,
    email: `${local}${index}@example.com`,
  };
}

/** The pool every stream's customer is drawn from, the same customers for both sides. */
export const customers: readonly Customer[] = Array.from({ length: customerPoolSize }, (_, i) => customer(i));

const skus = ['margherita-l', 'pepperoni-m', 'supreme-s', 'quattro-formaggi-l'];

/**
 * The events of one append: `count` orders of one customer, each with the customer's personal fields (about 390
 * bytes of JSON in clear), sharing their correlation and causation ids as the events of one command do.
 */
export function customerOrders(side: Side, who: Customer, count: number): NewEvent[] {
  const correlationId = randomUUID();
  const causationId = randomUUID();
  return Array.from(
    { length: count },
    (_, index): NewEvent => ({
      data: {
        orderId: randomUUID(),
        ...who,
        items: [
          { sku: pick(skus, index), quantity: 2, priceCents: 1299 },
          { sku: pick(skus, index + 1), quantity: 1, priceCents: 1499 },
        ],
        totalCents: 4097,
        currency: 'EUR',
      },
      metadata: {
        eventId: randomUUID(),
        type: orderTypes[side],
        version: 1,
        occurredAt: new Date(),
        correlationId,
        causationId,
        principal: 'user-42',
      },
    }),
  );
}

/** A customer's registration, the first event of theirs: on the "on" side it makes their data key. */
function registered(side: Side, who: Customer): NewEvent {
  const id = randomUUID();
  return {
    data: { ...who },
    metadata: {
      eventId: randomUUID(),
      type: registeredTypes[side],
      version: 1,
      occurredAt: new Date(),
      correlationId: id,
      causationId: id,
      principal: 'user-42',
    },
  };
}

/**
 * Registers every customer of the pool (one event each, to a stream of theirs), `writers` at a time: on the "on"
 * side, every customer's key is made and cached. Answers the appends per second, each a customer's first.
 */
export async function registerCustomers(side: Side, appender: Appender, writers: number): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async () => {
      for (let i = next++; i < customers.length; i = next++) {
        const who = customers[i] as Customer;
        await appender.append(`customer-${who.customerId}`, [registered(side, who)], 0);
      }
    }),
  );
  return (customers.length * 1000) / (performance.now() - started);
}

/** A small seeded generator (mulberry32), so that both sides draw their customers in the same order. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * An append operation of the `side`: `eventsPerAppend` orders to the writer's current stream, whose customer is
 * drawn from the pool when the stream starts.
 */
export function protectedOperation(side: Side, appender: Appender, eventsPerAppend: number): Operation {
  const random = seeded(19);
  const owner = new WeakMap<Writer, Customer>();
  return async (writer) => {
    const streamId = nextStream(writer);
    let who = owner.get(writer);
    if (who === undefined || writer.appends === 0) {
      who = customers[Math.floor(random() * customers.length)] as Customer;
      owner.set(writer, who);
    }
    await appender.append(streamId, customerOrders(side, who, eventsPerAppend), writer.version);
    appended(writer, eventsPerAppend);
    return eventsPerAppend;
  };
}

/**
 * Checks that the sides do what they are named for: "on" stores none of a customer's strings in clear and reads
 * them back as they were; "off" stores them in clear and makes no key.
 */
export async function checkProtection(stores: Record<Side, MyelinAppender>): Promise<void> {
  const who = customer(0);
  for (const side of sides) {
    const { store, db } = stores[side];
    const streamId = `check-${side}-${randomUUID()}`;
    const written = customerOrders(side, who, 2);
    await store.append(streamId, written, 'no_stream');
    const { rows } = await db.query<{ data: string }>(
      `SELECT data::text AS data FROM ${db.schema}.events WHERE stream_id = $1`,
      [streamId],
    );
    const clear = rows.filter((row) => personalFields.some((field) => row.data.includes(who[field])));
    const wanted = side === 'on' ? 0 : written.length;
    if (rows.length !== written.length || clear.length !== wanted) {
      throw new Error(
        `protected, ${side}: ${clear.length} of ${rows.length} stored events hold personal data in clear`,
      );
    }
    const read = await store.readStream(streamId);
    if (
      !isDeepStrictEqual(
        read.map((e) => e.data),
        written.map((e) => e.data),
      )
    ) {
      throw new Error(`protected, ${side}: the events read back differ from those appended`);
    }
    const { rows: keys } = await db.query<{ n: number }>(
      `SELECT count(*)::integer AS n FROM ${db.schema}.personal_keys`,
    );
    if ((keys[0]?.n ?? 0) !== (side === 'on' ? 1 : 0)) {
      throw new Error(`protected, ${side}: ${keys[0]?.n} data keys after one customer's append`);
    }
  }
}

/** What one event's data takes in the log, on average (`pg_column_size`, compressed or not, in bytes). */
export async function storedBytesPerEvent({ db }: MyelinAppender): Promise<number> {
  const { rows } = await db.query<{ bytes: number }>(
    `SELECT coalesce(avg(pg_column_size(data)), 0)::float8 AS bytes FROM ${db.schema}.events`,
  );
  return Math.round(rows[0]?.bytes ?? 0);
}

/** Statements (each one round trip) of a customer's first append, then of an append of a customer known already. */
export interface CustomerStatements {
  readonly firstOfCustomer: number;
  readonly knownCustomer: number;
}

/** Counts the statements of two ten-event appends of a new customer: their first (which makes their key), then one more. */
export async function statementsOfSide(side: Side, appender: Appender): Promise<CustomerStatements> {
  const who = customer(0);
  const streamId = `probe-${side}-${randomUUID()}`;
  const count = async (expectedVersion: number) => {
    // The store wakes other processes' readers with a NOTIFY 25 ms after a commit, once for all the commits of
    // those 25 ms: not a statement of any one append, so it is let go by before counting.
    await setTimeout(100);
    return countStatements(() => appender.append(streamId, customerOrders(side, who, 10), expectedVersion));
  };
  const firstOfCustomer = await count(0);
  const knownCustomer = await count(10);
  return { firstOfCustomer, knownCustomer };
}
