import { describe, expect, it } from 'vitest';
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
