import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InMemoryDatabase } from '../inMemory/inMemoryDatabase.ts';
import { InMemoryEventStore } from '../inMemory/inMemoryEventStore.ts';
import { InMemoryMessageBus } from '../inMemory/inMemoryMessageBus.ts';
import { inMemoryPersistence } from '../inMemory/inMemoryPersistence.ts';
import { eventHandler, handler } from '../mediation/handler.ts';
import { command, event, unchecked } from '../messages/message.ts';
import { erased, PersonalData } from '../personalData/personalData.ts';
import { ok } from '../results/operationResult.ts';
import { newEvent } from '../testing/events.ts';
import { createApplication } from './application.ts';
import { consumeFromBus } from './busConsumers.ts';

// A member's sign-up, shared with other services: their e-mail is personal.
const SignedUp = event('bus.member.signed-up.v1', unchecked<{ memberId: string; email: string }>(), {
  integration: true,
  personal: { subject: 'memberId', fields: ['email'] },
});
const Forget = command('bus.member.forget', unchecked<{ memberId: string }>()).returns<void>();

describe('consuming integration events with personal data from a bus', () => {
  it('hands handlers the fields opened, placeholders once forgotten, and never the sealed form', async () => {
    // Publisher and consumer share the keys (one database), as two applications of one service would.
    const database = new InMemoryDatabase();
    const bus = new InMemoryMessageBus();
    const seen: string[] = [];
    const welcome = eventHandler('welcome', SignedUp, async (e) => {
      seen.push(e.email);
    });
    const consumer = await createApplication().include(inMemoryPersistence(database)).handle(welcome).build();
    const publisher = await createApplication()
      .include(inMemoryPersistence(database))
      .handle(
        handler(Forget, { personal: PersonalData }, async (c, { personal }) => {
          await personal.forget(c.memberId, { requestedBy: 'dpo' });
          return ok(undefined);
        }),
      )
      .build();
    const stop = consumeFromBus(consumer, bus, [welcome]);
    // What the publisher's relay sends: the event as its log holds it, sealed.
    const store = new InMemoryEventStore(database);
    await store.append('member-m1', [newEvent(SignedUp.type, { memberId: 'm1', email: 'm1@example.com' })]);
    const sealed = database.log.at(-1);
    expect(JSON.stringify(sealed?.data)).not.toContain('m1@example.com');
    await bus.publish([sealed as NonNullable<typeof sealed>]);
    expect((await publisher.mediator.execute(new Forget({ memberId: 'm1' }))).ok).toBe(true);
    await bus.publish([sealed as NonNullable<typeof sealed>]); // a redelivery, after the erasure
    expect(seen).toEqual(['m1@example.com', erased]);

    // An application that cannot open it: the message fails, and no handler sees it sealed.
    const blind = await createApplication().handle(welcome).build();
    const otherBus = new InMemoryMessageBus();
    consumeFromBus(blind, otherBus, [welcome]);
    await expect(otherBus.publish([sealed as NonNullable<typeof sealed>])).rejects.toThrow(
      /1 subscriber\(s\) failed/,
    );
    expect(seen).toHaveLength(2);
    stop();
    await Promise.all([consumer.dispose(), publisher.dispose(), blind.dispose()]);
  });
});

// A member's e-mail change, with a schema: what arrives from outside is held to it.
const EmailChanged = event(
  'bus.member.email-changed.v1',
  z.object({ memberId: z.string().min(1), email: z.email(), changes: z.number().int().default(1) }),
  { integration: true, personal: { subject: 'memberId', fields: ['email'] } },
);

describe('integration events from a bus, as input from outside', () => {
  /** A consumer of EmailChanged that records what its handler saw, and as whom it ran. */
  async function consumer(options?: { trustPrincipal?: boolean }) {
    const database = new InMemoryDatabase();
    const bus = new InMemoryMessageBus();
    const seen: { email: string; changes: number; principal: string | undefined }[] = [];
    const note = eventHandler('note', EmailChanged, async (e, _dependencies, context) => {
      seen.push({ email: e.email, changes: e.changes, principal: context.principal?.subject });
    });
    const forget = handler(Forget, { personal: PersonalData }, async (c, { personal }) => {
      await personal.forget(c.memberId, { requestedBy: 'dpo' });
      return ok(undefined);
    });
    const app = await createApplication()
      .include(inMemoryPersistence(database))
      .handle(note)
      .handle(forget)
      .build();
    const stop = consumeFromBus(app, bus, [note], options);
    const publish = (data: unknown, principal?: string) =>
      bus.publish([{ data, metadata: { ...newEvent(EmailChanged.type, data).metadata, principal } }]);
    return { app, bus, database, seen, publish, stop };
  }

  it('does not run a handler as the principal the event names, unless told to trust it', async () => {
    const untrusting = await consumer();
    await untrusting.publish({ memberId: 'm1', email: 'm1@example.com' }, 'the-owner');
    expect(untrusting.seen).toEqual([{ email: 'm1@example.com', changes: 1, principal: undefined }]);
    const trusting = await consumer({ trustPrincipal: true });
    await trusting.publish({ memberId: 'm1', email: 'm1@example.com' }, 'the-owner');
    expect(trusting.seen).toEqual([{ email: 'm1@example.com', changes: 1, principal: 'the-owner' }]);
    await Promise.all([untrusting.app.dispose(), trusting.app.dispose()]);
  });

  it('refuses data that fails the event’s schema, naming the fields, before any handler sees it', async () => {
    const { app, seen, publish } = await consumer();
    await expect(publish({ memberId: '', email: 'not an address', changes: 1.5 })).rejects.toThrow(
      /1 subscriber\(s\) failed/,
    );
    const error = await publish({ memberId: '', email: 'x' }).catch((e: unknown) => e);
    expect(String((error as { errors?: unknown[] }).errors?.[0] ?? error)).toMatch(
      /Invalid 'bus.member.email-changed.v1' event from the bus: memberId: .*; email: /,
    );
    expect(seen).toEqual([]);
    await app.dispose();
  });

  it('holds sealed fields to their key, not the schema: a forgotten subject’s placeholders still reach the handler', async () => {
    const { app, database, seen, bus } = await consumer();
    const store = new InMemoryEventStore(database);
    await store.append('member-m2', [
      newEvent(EmailChanged.type, { memberId: 'm2', email: 'm2@example.com', changes: 2 }),
    ]);
    const sealed = database.log.at(-1) as NonNullable<ReturnType<typeof database.log.at>>;
    await bus.publish([sealed]);
    expect((await app.mediator.execute(new Forget({ memberId: 'm2' }))).ok).toBe(true);
    await bus.publish([sealed]);
    expect(seen.map((s) => s.email)).toEqual(['m2@example.com', erased]);
    await app.dispose();
  });

  it('refuses a sealed part that names fields the event does not declare personal, so no schema check is skipped', async () => {
    // A publisher without any key can still write a `$personal` part: with a key no one has, it reads as erased.
    const { app, seen, publish } = await consumer();
    const forged = (fields: unknown) => ({
      memberId: 'm3',
      email: 'm3@example.com',
      changes: 'many',
      $personal: { key: 'no-such-key-000000000', fields, sealed: 'AAAA' },
    });
    const refusal = "Invalid 'bus.member.email-changed.v1' event from the bus: its sealed personal data";
    for (const [fields, detail] of [
      [['changes'], "holds 'changes', which the event does not declare personal"],
      [['email', 'changes'], "holds 'changes', which the event does not declare personal"],
      [['memberId'], "holds 'memberId', which the event does not declare personal"],
      ['changes', 'names no list of fields'],
    ] as const) {
      const error = await publish(forged(fields)).catch((e: unknown) => e);
      expect(String((error as { errors?: unknown[] }).errors?.[0])).toBe(`TypeError: ${refusal} ${detail}`);
    }
    expect(seen).toEqual([]);
    // Its declared personal field, under a key no one has, is what an erasure gives: it reaches the handler.
    await publish({ ...forged(['email']), changes: 3 });
    expect(seen).toEqual([{ email: erased, changes: 3, principal: undefined }]);
    await app.dispose();
  });
});
