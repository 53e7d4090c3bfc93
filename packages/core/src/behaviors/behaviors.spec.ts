import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createApplication } from '../application/application.ts';
import { token } from '../dependencyInjection/token.ts';
import { type Behavior, behavior } from '../mediation/behavior.ts';
import { eventHandler, handler } from '../mediation/handler.ts';
import { command, event, query, unchecked } from '../messages/message.ts';
import { ok, unauthorized } from '../results/operationResult.ts';
import { clearQueryCaches } from './caching.ts';
import { Logger, logging, reportErrors } from './logging.ts';

const Rename = command('Rename', unchecked<{ name: string }>()).returns<string>();
const Lookup = query('Lookup', unchecked<{ key: string }>()).returns<string>();
const Renamed = event('renamed.v1', unchecked<{ name: string }>());

type Scope =
  | 'commands'
  | 'queries'
  | 'requests'
  | 'events'
  | typeof Lookup
  | ((definition: { type: string }) => boolean);

function tracing(trace: string[], name: string, order: number, scope: Scope): Behavior {
  if (scope === 'events') {
    return behavior({ name, order, scope }, async (_e, next) => {
      trace.push(name);
      await next();
    });
  }
  return behavior({ name, order, scope: scope as 'requests' }, async (_m, next) => {
    trace.push(name);
    return next();
  });
}

describe('pipeline behaviors', () => {
  it('run in their explicit order, whatever the registration order, ties in registration order', async () => {
    const trace: string[] = [];
    const app = await createApplication()
      .use(tracing(trace, 'third', 30, 'requests'), tracing(trace, 'first', 10, 'requests'))
      .use(tracing(trace, 'second-a', 20, 'requests'), tracing(trace, 'second-b', 20, 'requests'))
      .handle(
        handler(Rename, (c) => {
          trace.push('handler');
          return ok(c.name);
        }),
      )
      .build();
    await app.mediator.execute(new Rename({ name: 'x' }));
    expect(trace).toEqual(['first', 'second-a', 'second-b', 'third', 'handler']);
  });

  it('wrap only the messages their scope selects', async () => {
    const trace: string[] = [];
    const app = await createApplication()
      .use(
        tracing(trace, 'commands', 1, 'commands'),
        tracing(trace, 'queries', 2, 'queries'),
        tracing(trace, 'requests', 3, 'requests'),
        tracing(trace, 'events', 4, 'events'),
        tracing(trace, 'only-lookup', 5, Lookup),
        tracing(trace, 'predicate', 6, (d) => d.type.startsWith('Re')),
      )
      .handle(
        handler(Rename, (c) => ok(c.name)),
        handler(Lookup, (q) => ok(q.key)),
        eventHandler('log', Renamed, () => undefined),
      )
      .build();
    await app.mediator.execute(new Rename({ name: 'x' }));
    expect(trace.splice(0)).toEqual(['commands', 'requests', 'predicate']);
    await app.mediator.execute(new Lookup({ key: 'k' }));
    expect(trace.splice(0)).toEqual(['queries', 'requests', 'only-lookup']);
    await app.mediator.publish(new Renamed({ name: 'x' }));
    expect(trace.splice(0)).toEqual(['events']);
  });

  it('are typed for one message type and may replace the message', async () => {
    const app = await createApplication()
      .use(
        behavior({ name: 'upper', order: 1, scope: Rename }, (command, next) =>
          next(new Rename({ name: command.name.toUpperCase() })),
        ),
      )
      .handle(handler(Rename, (c) => ok(c.name)))
      .build();
    expect(await app.mediator.execute(new Rename({ name: 'mario' }))).toMatchObject({ data: 'MARIO' });
  });

  it('can short-circuit: the handler does not run', async () => {
    let handled = false;
    const app = await createApplication()
      .use(behavior({ name: 'gate', order: 1, scope: 'commands' }, async () => unauthorized('closed')))
      .handle(
        handler(Rename, (c) => {
          handled = true;
          return ok(c.name);
        }),
      )
      .build();
    const result = await app.mediator.execute(new Rename({ name: 'x' }));
    expect(result).toMatchObject({ ok: false, status: 401 });
    expect(handled).toBe(false);
  });

  it('let an exception thrown by a handler travel to the caller, with scoped services disposed', async () => {
    const disposed: string[] = [];
    const Resource = token<{ name: string }>('Resource');
    const Failing = command('Failing').returns<void>();
    const seenByBehavior: unknown[] = [];
    const app = await createApplication()
      .scoped(Resource, () => ({
        name: 'conn',
        [Symbol.asyncDispose]: async () => void disposed.push('conn'),
      }))
      .use(
        behavior({ name: 'observer', order: 1, scope: 'commands' }, async (_m, next) => {
          try {
            return await next();
          } catch (error) {
            seenByBehavior.push(error);
            throw error;
          }
        }),
      )
      .handle(
        handler(Failing, { resource: Resource }, () => {
          throw new TypeError('boom');
        }),
      )
      .build();
    await expect(app.mediator.execute(new Failing({}))).rejects.toThrow(new TypeError('boom'));
    expect(seenByBehavior).toHaveLength(1);
    expect(disposed).toEqual(['conn']);
  });
});

describe('validation', () => {
  const PlaceOrder = command(
    'PlaceOrder',
    z.object({
      customerName: z.string().min(1),
      pizzas: z.array(z.object({ name: z.string(), size: z.enum(['small', 'medium', 'large']) })),
      notes: z.string().default(''),
    }),
  ).returns<{ notes: string }>();

  it('rejects an invalid message with a 400 naming every failing field, before the handler runs', async () => {
    let handled = false;
    const app = await createApplication()
      .handle(
        handler(PlaceOrder, (c) => {
          handled = true;
          return ok({ notes: c.notes });
        }),
      )
      .build();
    const result = await app.mediator.execute(
      new PlaceOrder({
        customerName: '',
        pizzas: [{ name: 'margherita', size: 'huge' as never }],
        notes: '',
      }),
    );
    expect(handled).toBe(false);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.status).toBe(400);
    expect(result.problem.errors?.map((e) => e.field)).toEqual(['customerName', 'pizzas[0].size']);
    expect(result.problem.errors?.[1]?.pointer).toBe('#/pizzas/0/size');
    expect(result.problem.detail).toContain('customerName');
    expect(result.problem.detail).toContain('pizzas[0].size');
  });

  it('hands the handler the parsed message, defaults applied', async () => {
    const app = await createApplication()
      .handle(handler(PlaceOrder, (c) => ok({ notes: c.notes })))
      .build();
    const raw = { customerName: 'Mario', pizzas: [] } as unknown as ConstructorParameters<
      typeof PlaceOrder
    >[0];
    expect(await app.mediator.execute(new PlaceOrder(raw))).toMatchObject({ ok: true, data: { notes: '' } });
  });

  it('can be turned off', async () => {
    const app = await createApplication({ validation: false })
      .handle(handler(PlaceOrder, () => ok({ notes: 'ran' })))
      .build();
    const result = await app.mediator.execute(new PlaceOrder({ customerName: '', pizzas: [], notes: '' }));
    expect(result).toMatchObject({ ok: true, data: { notes: 'ran' } });
  });
});

describe('authorization', () => {
  const CancelOrder = command('CancelOrder', unchecked<{ ownerId: string }>()).returns<string>();

  async function app() {
    return createApplication()
      .authorize(CancelOrder, {
        roles: ['manager', 'customer'],
        allow: (p, c) => p.roles.includes('manager') || p.subject === c.ownerId,
      })
      .authorize(Lookup, { anonymous: true })
      .handle(
        handler(CancelOrder, () => ok('cancelled')),
        handler(Lookup, (q) => ok(q.key)),
      )
      .build();
  }

  it('answers 401 without a principal', async () => {
    const result = await (await app()).mediator.execute(new CancelOrder({ ownerId: 'u1' }));
    expect(result).toMatchObject({ ok: false, status: 401 });
  });

  it('answers 403 to a principal without a required role', async () => {
    const result = await (await app()).mediator.execute(new CancelOrder({ ownerId: 'u1' }), {
      principal: { subject: 'c1', roles: ['chef'] },
    });
    expect(result).toMatchObject({ ok: false, status: 403 });
    expect(result.ok ? '' : result.problem.detail).toContain('manager, customer');
  });

  it('answers 403 when the predicate refuses, and runs the handler when it accepts', async () => {
    const built = await app();
    const stranger = await built.mediator.execute(new CancelOrder({ ownerId: 'u1' }), {
      principal: { subject: 'u2', roles: ['customer'] },
    });
    expect(stranger).toMatchObject({ ok: false, status: 403 });
    const owner = await built.mediator.execute(new CancelOrder({ ownerId: 'u1' }), {
      principal: { subject: 'u1', roles: ['customer'] },
    });
    expect(owner).toMatchObject({ ok: true, data: 'cancelled' });
    const manager = await built.mediator.execute(new CancelOrder({ ownerId: 'u1' }), {
      principal: { subject: 'm', roles: ['manager'] },
    });
    expect(manager).toMatchObject({ ok: true });
  });

  it('answers who may send before what was sent is wrong, and runs `allow` on the validated message', async () => {
    const Refund = command(
      'Refund',
      z.object({ ownerId: z.string().trim(), cents: z.number().int() }),
    ).returns<number>();
    const seen: string[] = [];
    const built = await createApplication()
      .authorize(Refund, {
        roles: ['customer'],
        allow: (p, c) => {
          seen.push(c.ownerId);
          return p.subject === c.ownerId;
        },
      })
      .handle(handler(Refund, (c) => ok(c.cents)))
      .build();
    const invalid = new Refund({ ownerId: ' u1 ', cents: 1.5 });
    expect(await built.mediator.execute(invalid)).toMatchObject({ ok: false, status: 401 });
    const chef = { principal: { subject: 'u1', roles: ['chef'] } };
    expect(await built.mediator.execute(invalid, chef)).toMatchObject({ ok: false, status: 403 });
    const customer = { principal: { subject: 'u1', roles: ['customer'] } };
    expect(await built.mediator.execute(invalid, customer)).toMatchObject({ ok: false, status: 400 });
    expect(seen).toEqual([]);
    const valid = await built.mediator.execute(new Refund({ ownerId: ' u1 ', cents: 150 }), customer);
    expect(valid).toMatchObject({ ok: true, data: 150 });
    expect(seen).toEqual(['u1']);
  });

  it('lets anyone through an anonymous policy', async () => {
    expect(await (await app()).mediator.execute(new Lookup({ key: 'menu' }))).toMatchObject({
      ok: true,
      data: 'menu',
    });
  });
});

describe('caching', () => {
  it('answers a repeated query from the cache until its TTL passes', async () => {
    let now = 1_000;
    let calls = 0;
    const app = await createApplication({ now: () => now })
      .cache(Lookup, { ttlMs: 500 })
      .handle(handler(Lookup, (q) => ok(`${q.key}#${++calls}`)))
      .build();
    expect(await app.mediator.execute(new Lookup({ key: 'a' }))).toMatchObject({ data: 'a#1' });
    expect(await app.mediator.execute(new Lookup({ key: 'a' }))).toMatchObject({ data: 'a#1' });
    expect(await app.mediator.execute(new Lookup({ key: 'b' }))).toMatchObject({ data: 'b#2' });
    now += 500;
    expect(await app.mediator.execute(new Lookup({ key: 'a' }))).toMatchObject({ data: 'a#3' });
  });

  it('drops cached results when a named event is published, and never caches failures', async () => {
    let calls = 0;
    let fail = true;
    const app = await createApplication()
      .cache(Lookup, { ttlMs: 60_000, invalidatedBy: [Renamed] })
      .handle(handler(Lookup, (q) => (fail ? unauthorized() : ok(`${q.key}#${++calls}`))))
      .build();
    expect(await app.mediator.execute(new Lookup({ key: 'a' }))).toMatchObject({ ok: false });
    fail = false;
    expect(await app.mediator.execute(new Lookup({ key: 'a' }))).toMatchObject({ data: 'a#1' });
    expect(await app.mediator.execute(new Lookup({ key: 'a' }))).toMatchObject({ data: 'a#1' });
    await app.mediator.publish(new Renamed({ name: 'x' }));
    expect(await app.mediator.execute(new Lookup({ key: 'a' }))).toMatchObject({ data: 'a#2' });
  });

  it('does not keep an answer read before the caches were cleared (an erasure) and given after', async () => {
    let calls = 0;
    let read: () => void = () => {};
    let started: () => void = () => {};
    const running = new Promise<void>((resolve) => (started = resolve));
    const app = await createApplication()
      .cache(Lookup, { ttlMs: 60_000 })
      .handle(
        handler(Lookup, async (q) => {
          const n = ++calls;
          if (n === 1) {
            started();
            await new Promise<void>((resolve) => (read = resolve)); // read, not yet answered
          }
          return ok(`${q.key}#${n}`);
        }),
      )
      .build();
    const first = app.mediator.execute(new Lookup({ key: 'a' }));
    await running;
    clearQueryCaches(); // someone is forgotten while the first query is in flight
    read();
    expect(await first).toMatchObject({ data: 'a#1' });
    expect(await app.mediator.execute(new Lookup({ key: 'a' }))).toMatchObject({ data: 'a#2' });
    expect(await app.mediator.execute(new Lookup({ key: 'a' }))).toMatchObject({ data: 'a#2' });
  });

  it('refuses to cache a command', async () => {
    await expect(
      createApplication()
        .cache(Rename as never, { ttlMs: 1 })
        .handle(handler(Rename, (c) => ok(c.name)))
        .build(),
    ).rejects.toThrow("Only queries can be cached, and 'Rename' is a command");
  });
});

describe('logging', () => {
  function memoryLogger() {
    const lines: { level: string; fields: Record<string, unknown>; message: string | undefined }[] = [];
    const at =
      (level: string) =>
      (fields: object, message?: string): void =>
        void lines.push({ level, fields: fields as Record<string, unknown>, message });
    const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
    return { lines, logger };
  }

  it('reports a worker’s failure as an error, and an expected stop (a lease handed over) as a warning', async () => {
    const { lines, logger } = memoryLogger();
    const app = await createApplication()
      .singleton(Logger, () => logger)
      .build();
    const report = reportErrors(app, 'projection');
    const failure = new Error('the disk is full');
    const handover = Object.assign(new Error('the lease was lost: an operator restarted it'), {
      expected: true,
    });
    report(failure, 'orders');
    report(handover, 'orders');
    expect(lines).toEqual([
      {
        level: 'error',
        fields: { err: failure, worker: 'projection:orders' },
        message: "projection 'orders' failed, retrying",
      },
      {
        level: 'warn',
        fields: { err: handover, worker: 'projection:orders' },
        message: "projection 'orders' stopped, resuming: the lease was lost: an operator restarted it",
      },
    ]);
    await app.dispose();
  });

  it('logs each request with its status, duration and ids, and exceptions as errors', async () => {
    const { lines, logger } = memoryLogger();
    const Boom = command('Boom').returns<void>();
    const app = await createApplication()
      .use(logging(logger))
      .handle(
        handler(Rename, (c) => ok(c.name)),
        handler(Boom, () => {
          throw new Error('kaput');
        }),
      )
      .build();
    await app.mediator.execute(new Rename({ name: 'x' }), { correlationId: 'corr' });
    await app.mediator.execute(new Boom({})).catch(() => undefined);
    expect(lines[0]).toMatchObject({
      level: 'info',
      message: 'Rename 200',
      fields: { messageType: 'Rename', kind: 'command', status: 200, correlationId: 'corr' },
    });
    expect(typeof lines[0]?.fields.durationMs).toBe('number');
    expect(lines[1]).toMatchObject({ level: 'error', message: 'Boom threw' });
    expect((lines[1]?.fields.err as Error | undefined)?.message).toBe('kaput');
  });
});
