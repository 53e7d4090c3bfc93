import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ApplicationBuildError, createApplication } from '../application/application.ts';
import { token } from '../dependencyInjection/token.ts';
import { command, event, query, unchecked } from '../messages/message.ts';
import { ok } from '../results/operationResult.ts';
import { ExecutionContext } from './executionContext.ts';
import { eventHandler, handler } from './handler.ts';
import { EventHandlersFailedError, UnhandledMessageError } from './mediator.ts';

const Double = command('Double', unchecked<{ value: number }>()).returns<number>();
const Whoami = query('Whoami').returns<string>();
const Happened = event('thing.happened.v1', z.object({ what: z.string() }));

describe('execute', () => {
  it('routes a command to its one handler and returns its result', async () => {
    const app = await createApplication()
      .handle(handler(Double, (command) => ok(command.value * 2)))
      .build();
    expect(await app.mediator.execute(new Double({ value: 21 }))).toEqual({
      ok: true,
      status: 200,
      data: 42,
    });
  });

  it('refuses to build when a command has two handlers', async () => {
    const build = createApplication()
      .handle(handler(Double, (c) => ok(c.value)))
      .handle(handler(Double, (c) => ok(c.value)))
      .build();
    await expect(build).rejects.toThrow(ApplicationBuildError);
    await expect(
      createApplication()
        .handle(
          handler(Double, (c) => ok(c.value)),
          handler(Double, (c) => ok(c.value)),
        )
        .build(),
    ).rejects.toThrow("command 'Double' has more than one handler");
  });

  it('refuses to build when an expected message has no handler', async () => {
    await expect(createApplication().expect(Double, Whoami).build()).rejects.toThrow(
      /command 'Double' has no handler[\s\S]*query 'Whoami' has no handler/,
    );
  });

  it('refuses to build when two different messages share a type name', async () => {
    const Other = command('Double', unchecked<{ value: number }>()).returns<number>();
    await expect(
      createApplication()
        .handle(handler(Double, (c) => ok(c.value)))
        .handle(handler(Other, (c) => ok(c.value)))
        .build(),
    ).rejects.toThrow("Two different messages are declared with the type name 'Double'");
  });

  it('throws a clear error for a request no handler was registered for', async () => {
    const app = await createApplication().build();
    await expect(app.mediator.execute(new Double({ value: 1 }))).rejects.toThrow(UnhandledMessageError);
    await expect(app.mediator.execute({ value: 1 } as never)).rejects.toThrow(/made from a definition/);
  });

  it('does not start a request whose signal is already aborted', async () => {
    const app = await createApplication()
      .handle(handler(Double, (c) => ok(c.value)))
      .build();
    const controller = new AbortController();
    controller.abort(new Error('client went away'));
    await expect(
      app.mediator.execute(new Double({ value: 1 }), { signal: controller.signal }),
    ).rejects.toThrow('client went away');
  });

  it('keeps two applications in one process apart', async () => {
    const first = await createApplication()
      .handle(handler(Double, (c) => ok(c.value * 2)))
      .build();
    const second = await createApplication()
      .handle(handler(Double, (c) => ok(c.value * 3)))
      .build();
    const empty = await createApplication().build();
    expect(await first.mediator.execute(new Double({ value: 1 }))).toMatchObject({ data: 2 });
    expect(await second.mediator.execute(new Double({ value: 1 }))).toMatchObject({ data: 3 });
    await expect(empty.mediator.execute(new Double({ value: 1 }))).rejects.toThrow(UnhandledMessageError);
  });

  it('gives handlers the principal, new ids when absent, and the ids given', async () => {
    const Context = query('Context').returns<Record<string, unknown>>();
    const app = await createApplication()
      .handle(
        handler(Context, (_q, _d, context) =>
          ok({
            messageId: context.messageId,
            correlationId: context.correlationId,
            causationId: context.causationId,
            subject: context.principal?.subject,
          }),
        ),
      )
      .build();
    const fresh = await app.mediator.execute(new Context({}));
    const data = fresh.ok ? fresh.data : {};
    expect(data.messageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(data.correlationId).toBe(data.messageId);
    expect(data.causationId).toBeUndefined();
    const given = await app.mediator.execute(new Context({}), {
      correlationId: 'corr-1',
      causationId: 'cause-1',
      principal: { subject: 'mario', roles: ['chef'] },
    });
    expect(given.ok && given.data).toMatchObject({
      correlationId: 'corr-1',
      causationId: 'cause-1',
      subject: 'mario',
    });
  });

  it('propagates correlation, causation and principal to nested requests and events', async () => {
    const Outer = command('Outer').returns<void>();
    const seen: Record<string, unknown>[] = [];
    const app = await createApplication()
      .handle(
        handler(Outer, async (_c, _d, context) => {
          seen.push({ step: 'outer', id: context.messageId });
          await context.execute(new Double({ value: 1 }));
          await context.publish(new Happened({ what: 'outer ran' }));
          return ok(undefined);
        }),
        handler(Double, (c, _d, context) => {
          seen.push({
            step: 'nested',
            correlationId: context.correlationId,
            causationId: context.causationId,
            subject: context.principal?.subject,
          });
          return ok(c.value);
        }),
        eventHandler('audit', Happened, (_e, _d, context) => {
          seen.push({
            step: 'event',
            correlationId: context.correlationId,
            causationId: context.causationId,
            eventId: context.event?.eventId,
            id: context.messageId,
          });
        }),
      )
      .build();
    await app.mediator.execute(new Outer({}), {
      correlationId: 'c-1',
      principal: { subject: 'luigi', roles: [] },
    });
    const outerId = seen[0]?.id;
    expect(seen[1]).toEqual({ step: 'nested', correlationId: 'c-1', causationId: outerId, subject: 'luigi' });
    expect(seen[2]).toMatchObject({ step: 'event', correlationId: 'c-1', causationId: outerId });
    expect(seen[2]?.eventId).toBe(seen[2]?.id);
  });
});

describe('publish', () => {
  it('reaches every handler registered for the event, in registration order', async () => {
    const calls: string[] = [];
    const app = await createApplication()
      .handle(
        eventHandler('first', Happened, (e) => void calls.push(`first:${e.what}`)),
        eventHandler('second', Happened, async (e) => void calls.push(`second:${e.what}`)),
      )
      .build();
    await app.mediator.publish(new Happened({ what: 'x' }));
    expect(calls).toEqual(['first:x', 'second:x']);
  });

  it('delivers to one named handler only, telling it which delivery it is; an unknown name is an error', async () => {
    const calls: string[] = [];
    const app = await createApplication()
      .handle(
        eventHandler(
          'first',
          Happened,
          (_e, _d, context) => void calls.push(`first:${context.delivery?.handler}`),
        ),
        eventHandler({ name: 'second', idempotent: true }, Happened, (_e, _d, context) => {
          calls.push(`second:${context.delivery?.handler}:${context.delivery?.idempotent}`);
        }),
      )
      .build();
    await app.mediator.publish(new Happened({ what: 'x' }), { handler: 'second' });
    expect(calls).toEqual(['second:second:true']);
    expect(app.eventHandlers.map((h) => [h.name, h.idempotent])).toEqual([
      ['first', false],
      ['second', true],
    ]);
    await expect(app.mediator.publish(new Happened({ what: 'x' }), { handler: 'third' })).rejects.toThrow(
      "thing.happened.v1 has no handler named 'third'",
    );
  });

  it('is a no-op for an event nobody handles', async () => {
    const app = await createApplication().build();
    await expect(app.mediator.publish(new Happened({ what: 'x' }))).resolves.toBeUndefined();
  });

  it('runs the other handlers when one fails, then throws an error naming the failed handlers', async () => {
    const calls: string[] = [];
    const app = await createApplication()
      .handle(
        eventHandler('projector', Happened, () => {
          throw new Error('disk full');
        }),
        eventHandler('mailer', Happened, () => void calls.push('mailer')),
        eventHandler('auditor', Happened, async () => {
          throw new Error('audit down');
        }),
      )
      .build();
    const error = await app.mediator.publish(new Happened({ what: 'x' })).catch((e: unknown) => e);
    expect(calls).toEqual(['mailer']);
    expect(error).toBeInstanceOf(EventHandlersFailedError);
    const failed = error as EventHandlersFailedError;
    expect(failed.failures.map((f) => f.handler)).toEqual(['projector', 'auditor']);
    expect(failed.message).toContain("'projector' (disk full)");
    expect(failed.message).toContain("'auditor' (audit down)");
    expect(failed.errors).toHaveLength(2);
  });

  it('runs handlers concurrently when asked to', async () => {
    const order: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const app = await createApplication()
      .handle(
        eventHandler('slow', Happened, async () => {
          order.push('slow started');
          await gate;
          order.push('slow done');
        }),
        eventHandler('fast', Happened, () => {
          order.push('fast');
          release();
        }),
      )
      .build();
    await app.mediator.publish(new Happened({ what: 'x' }), { parallel: true });
    expect(order).toEqual(['slow started', 'fast', 'slow done']);
  });

  it('refuses to build with two handlers of one event under the same name', async () => {
    await expect(
      createApplication()
        .handle(
          eventHandler('same', Happened, () => undefined),
          eventHandler('same', Happened, () => undefined),
        )
        .build(),
    ).rejects.toThrow("event 'thing.happened.v1' has two handlers named 'same'");
  });

  it('gives each handler delivery its own scope', async () => {
    const Counter = token<{ id: number }>('Counter');
    let made = 0;
    const seen: number[] = [];
    const app = await createApplication()
      .scoped(Counter, () => ({ id: ++made }))
      .handle(
        eventHandler('a', Happened, { counter: Counter, again: Counter }, (_e, { counter, again }) => {
          seen.push(counter.id, again.id);
        }),
        eventHandler('b', Happened, { counter: Counter }, (_e, { counter }) => void seen.push(counter.id)),
      )
      .build();
    await app.mediator.publish(new Happened({ what: 'x' }));
    expect(seen).toEqual([1, 1, 2]);
    expect(app.container.has(ExecutionContext)).toBe(true);
  });
});
