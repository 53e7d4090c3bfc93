// Many processes, one story: three API processes and two projector processes (sharing the partitioned kitchen queue
// and delivery board) on PostgreSQL and NATS, under a stream of orders and their transitions, while one projector
// is killed (SIGKILL) and started again and one API process is restarted. At the end, every acknowledged order is
// in every read model exactly once, in the state its last acknowledged transition left it, and the statistics
// agree with the orders.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrderStatus } from './domain/order.ts';
import { kitchenQueue } from './kitchen/kitchenQueue.ts';
import type { OrderDto, OrderPageDto, StatisticsDto } from './shared/dtos.ts';
import { json, PizzeriaRun, requireServices, type Started, stop } from './testing/pizzeriaProcesses.ts';

const pizzeria = new PizzeriaRun();

/** The greater of two log positions (`<transaction>.<sequence>`). */
function later(a: string, b: string): string {
  const [at, as] = a.split('.').map(BigInt) as [bigint, bigint];
  const [bt, bs] = b.split('.').map(BigInt) as [bigint, bigint];
  return at > bt || (at === bt && as >= bs) ? a : b;
}

describe('three API processes and two projectors, one killed and one restarted, on PostgreSQL and NATS', () => {
  beforeAll(requireServices, 15_000);
  afterAll(() => pizzeria.cleanUp(), 30_000);

  it('keep every acknowledged order in every read model exactly once, and the statistics in agreement', {
    timeout: 180_000,
  }, async () => {
    const projectors = [pizzeria.start('projector'), pizzeria.start('projector')];
    const apis: (Started | undefined)[] = [
      pizzeria.start('api'),
      pizzeria.start('api'),
      pizzeria.start('api'),
    ];
    const urlOf = async (api: Started) => (await api.line(/open at (http:\/\/\S+)/))[1] ?? '';
    const urls: (string | undefined)[] = await Promise.all(apis.map((api) => urlOf(api as Started)));
    await Promise.all(projectors.map((p) => p.line(/projector running/)));
    const bearer = async (role: string) => ({ authorization: `Bearer ${await pizzeria.tokenFor(role)}` });
    const staff = {
      chef: await bearer('chef'),
      driver: await bearer('driver'),
      manager: await bearer('manager'),
    };

    // What the clients were told: each order's total and the status of its last acknowledged step.
    const acknowledged = new Map<string, { total: number; status: OrderStatus }>();
    let position = '0.0';
    let turn = 0;
    /** A request to the next API process that is up (a load balancer's round robin over the healthy ones). */
    async function call(path: string, init: RequestInit): Promise<Response> {
      const up = urls.filter((url): url is string => url !== undefined);
      const url = up[turn++ % up.length] as string;
      const response = await fetch(`${url}${path}`, init);
      const written = response.headers.get('myelin-position');
      if (response.ok && written !== null) position = later(position, written);
      return response;
    }
    async function place(n: number): Promise<string> {
      const response = await call('/api/orders', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          customerName: `Customer ${n}`,
          customerPhone: `555 ${String(1000 + n)}`,
          pizzas: [{ name: n % 2 === 0 ? 'margherita' : 'diavola', size: 'medium' }],
        }),
      });
      expect(response.status).toBe(201);
      const order = await json<OrderDto>(response);
      acknowledged.set(order.id, { total: order.total, status: 'confirmed' });
      return order.id;
    }
    /** Moves an order on by its number: some stay confirmed, some cook, some are ready, some are cancelled. */
    async function advance(id: string, n: number): Promise<void> {
      const steps: [string, Record<string, string>, OrderStatus][] = [
        [],
        [['cooking', staff.chef, 'cooking']],
        [
          ['cooking', staff.chef, 'cooking'],
          ['ready', staff.chef, 'ready'],
        ],
        [['cancellation', staff.manager, 'cancelled']],
      ][n % 4] as [string, Record<string, string>, OrderStatus][];
      for (const [step, headers, status] of steps) {
        const response = await call(`/api/orders/${id}/${step}`, { method: 'POST', headers });
        expect(response.status).toBe(200);
        (acknowledged.get(id) as { status: OrderStatus }).status = status;
      }
    }
    /** Orders placed and moved on, `parallel` at a time. */
    async function traffic(from: number, count: number, parallel = 3): Promise<void> {
      let next = from;
      await Promise.all(
        Array.from({ length: parallel }, async () => {
          while (next < from + count) {
            const n = next++;
            await advance(await place(n), n);
          }
        }),
      );
    }

    await traffic(0, 12);
    // The two projectors share the kitchen queue's four partitions, two each (the console says who holds which).
    const holders = async () => {
      const status = await json<{ subscriptions: { name: string; holder?: string }[] }>(
        await call('/_myelin/api/status', { headers: staff.manager }),
      );
      const partitions = status.subscriptions.filter((s) =>
        s.name.startsWith(`projection:kitchen-queue:v${kitchenQueue.version}:p`),
      );
      return partitions.map((s) => s.holder);
    };
    let held = await holders();
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; held = await holders()) {
      const counts = [...new Set(held)].map((holder) => held.filter((h) => h === holder).length);
      if (held.length === 4 && counts.length === 2 && counts.every((n) => n === 2)) break;
    }
    expect(held).toHaveLength(4);
    expect(new Set(held).size).toBe(2);
    // While orders keep coming: a projector dies and starts again, and API 3 is taken out, restarted, put back.
    const during = traffic(12, 12);
    await stop(projectors[0] as Started, 'SIGKILL');
    projectors[0] = pizzeria.start('projector');
    urls[2] = undefined;
    await stop(apis[2] as Started);
    apis[2] = pizzeria.start('api');
    urls[2] = await urlOf(apis[2]);
    await projectors[0].line(/projector running/);
    await during;
    await traffic(24, 12);

    const orders = [...acknowledged];
    const withStatus = (...statuses: OrderStatus[]) =>
      orders
        .filter(([, order]) => statuses.includes(order.status))
        .map(([id]) => id)
        .sort();
    /** Reads a route through every API until it shows `expected` (async read models catch up), or gives up. */
    async function settled<T>(
      path: string,
      headers: Record<string, string>,
      seen: (body: T) => unknown,
      expected: unknown,
    ) {
      let last: unknown;
      const deadline = Date.now() + 30_000;
      do {
        for (const url of urls as string[]) {
          const response = await fetch(`${url}${path}`, {
            headers: { ...headers, 'myelin-position': position },
          });
          last = seen(await json<T>(response));
          if (JSON.stringify(last) !== JSON.stringify(expected)) break;
        }
      } while (JSON.stringify(last) !== JSON.stringify(expected) && Date.now() < deadline);
      return last;
    }
    const ids = (page: OrderPageDto) => page.items.map((order) => order.id).sort();

    expect(orders).toHaveLength(36);
    // Inline: every order once, in the state of its last step.
    const listed = await settled<OrderPageDto>(
      '/api/orders?pageSize=100',
      staff.manager,
      (page) => page.items.map((order) => [order.id, order.status]).sort(),
      orders.map(([id, order]) => [id, order.status]).sort(),
    );
    expect(listed).toEqual(orders.map(([id, order]) => [id, order.status]).sort());
    // The projectors' partitioned read models.
    expect(
      await settled('/api/kitchen/queue?pageSize=200', staff.chef, ids, withStatus('confirmed', 'cooking')),
    ).toEqual(withStatus('confirmed', 'cooking'));
    expect(await settled('/api/delivery/ready?pageSize=200', staff.driver, ids, withStatus('ready'))).toEqual(
      withStatus('ready'),
    );
    // And the statistics, kept by one projector at a time.
    const count = (status: OrderStatus) => withStatus(status).length;
    const expected = {
      ordersByStatus: {
        confirmed: count('confirmed'),
        cooking: count('cooking'),
        ready: count('ready'),
        delivering: 0,
        delivered: 0,
        cancelled: count('cancelled'),
      },
      revenue: Math.round(
        orders.filter(([, order]) => order.status !== 'cancelled').reduce((sum, [, o]) => sum + o.total, 0) *
          100,
      ),
    };
    const stats = await settled<StatisticsDto>(
      '/api/stats',
      staff.manager,
      (s) => ({ ordersByStatus: s.ordersByStatus, revenue: Math.round(s.revenue * 100) }),
      expected,
    );
    expect(stats).toEqual(expected);
  });
});
