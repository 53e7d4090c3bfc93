import {
  AggregateRoot,
  command,
  createApplication,
  documents,
  EventStore,
  erased,
  event,
  eventHandler,
  handler,
  localMasterKey,
  newMasterKey,
  Operations,
  ok,
  PersonalData,
  projection,
  type Repository,
  token,
  unchecked,
} from '@myelin/core';
import { newEvent } from '@myelin/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { postgresPersistence } from '../postgresPersistence.ts';
import { postgresProjections } from '../projections/postgresProjections.ts';
import { ProjectionDaemon } from '../projections/projectionDaemon.ts';
import { EventRelay, relaySubscription } from '../relay/eventRelay.ts';
import { postgresEventSourcedRepository } from '../repositories/eventSourcedRepository.ts';
import { processName } from '../subscriptions/leases.ts';
import { engines, type TestDatabase } from '../testing/databases.ts';

const Opened = event('ops.opened.v1', unchecked<{ id: string; owner: string }>());
const Welcomed = event('ops.welcomed.v1', unchecked<{ id: string }>());

type TicketEvent = InstanceType<typeof Opened> | InstanceType<typeof Welcomed>;

class Ticket extends AggregateRoot<{ owner: string; welcomed: boolean }, TicketEvent> {
  constructor(id: string) {
    super(id, { owner: '', welcomed: false });
  }
  static open(id: string, owner: string): Ticket {
    const ticket = new Ticket(id);
    ticket.raise(new Opened({ id, owner }));
    return ticket;
  }
  welcome(): void {
    this.raise(new Welcomed({ id: this.id }));
  }
  protected override apply(state: { owner: string; welcomed: boolean }, e: TicketEvent) {
    return e instanceof Opened ? { ...state, owner: e.owner } : { ...state, welcomed: true };
  }
}

const Tickets = token<Repository<Ticket>>('ops.Tickets');
const OpenTicket = command('ops.open-ticket.v1', unchecked<{ id: string; owner: string }>()).returns<void>();
const openTicket = handler(OpenTicket, { tickets: Tickets }, async (c, { tickets }) => {
  await tickets.add(Ticket.open(c.id, c.owner));
  return ok(undefined);
});
const ticketRepository = postgresEventSourcedRepository(Tickets, Ticket, { events: [Opened, Welcomed] });

/** Resolves when `check` holds, polling; fails after `ms` with what was seen last. */
async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`not reached in ${ms} ms; saw ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// A member's card: its name is personal; forgetting the member blanks the name in the read model too.
const Joined = event('ops.member.joined.v1', unchecked<{ memberId: string; name: string }>(), {
  personal: { subject: 'memberId', fields: ['name'] },
});
class Member extends AggregateRoot<{ name: string }, InstanceType<typeof Joined>> {
  constructor(id: string) {
    super(id, { name: '' });
  }
  join(name: string): void {
    this.raise(new Joined({ memberId: this.id, name }));
  }
  protected override apply(_state: { name: string }, e: InstanceType<typeof Joined>) {
    return { name: e.name };
  }
}
const Members = token<Repository<Member>>('ops.Members');
const Join = command('ops.member.join.v1', unchecked<{ id: string; name: string }>()).returns<void>();
const ForgetMember = command('ops.member.forget.v1', unchecked<{ id: string }>()).returns<void>();

const fast = { pollMs: 200, leaseRetryMs: 100, backoffMs: 10, maxAttempts: 2, onError: () => {} };

describe.each(engines)('the operator’s view on $name', (engine) => {
  // Each test reads the whole log: each has a database of its own.
  let test: TestDatabase;
  beforeEach(async () => {
    test = await engine.open();
  });
  afterEach(() => test.drop());

  it('shows each subscription’s state, lag, holder and dead letters; replays and discards them, recording who did', async () => {
    let failing = true;
    const welcomed: string[] = [];
    const owners = projection(documents<{ owner: string }>('ops-owners')).on(Opened, (e, docs) =>
      docs.put(e.id, { owner: e.owner }),
    );
    const welcome = eventHandler({ name: 'welcome' }, Opened, async (e) => {
      if (failing && e.owner.startsWith('bad')) throw new Error(`no welcome for ${e.id}`);
      welcomed.push(e.id);
    });
    await using app = await createApplication()
      .include(postgresPersistence(test.database), postgresProjections([owners]))
      .register(ticketRepository)
      .handle(openTicket, welcome)
      .build();
    const operations = app.container.root.resolve(Operations);
    const open = (id: string, owner: string) => app.mediator.execute(new OpenTicket({ id, owner }));

    // Nothing runs yet: the projection builds, with both tickets to apply.
    expect((await open('t-1', 'ann')).ok).toBe(true);
    expect((await open('t-2', 'bad-bob')).ok).toBe(true);
    const idle = await operations.status();
    expect(idle.subscriptions.find((s) => s.name === 'projection:ops-owners:v1')).toMatchObject({
      kind: 'projection',
      projection: { name: 'ops-owners', version: 1, mode: 'async', state: 'building' },
      lagEvents: 2,
      progress: 0,
      holder: undefined,
    });

    const daemon = new ProjectionDaemon(app, test.database, fast).start();
    const relay = new EventRelay(app, test.database, fast).start();
    const subscription = relaySubscription(Opened.type, 'welcome');
    const running = await eventually(
      () => operations.status(),
      (status) =>
        status.subscriptions.some((s) => s.projection?.state === 'serving' && s.lagEvents === 0) &&
        status.subscriptions.some((s) => s.name === subscription && s.parked === 1),
    );
    expect(running.subscriptions.find((s) => s.name === 'projection:ops-owners:v1')).toMatchObject({
      projection: { state: 'serving' },
      lagEvents: 0,
      lagMs: 0,
      handled: 2,
      holder: processName,
    });
    expect(running.subscriptions.find((s) => s.name === subscription)).toMatchObject({
      kind: 'handler',
      handled: 2,
      parked: 1,
      retrying: 0,
      holder: processName,
    });

    const [letter, ...others] = await operations.deadLetters();
    expect(others).toEqual([]);
    expect(letter).toMatchObject({
      subscription,
      streamId: 'Ticket-t-2',
      type: Opened.type,
      data: { id: 't-2', owner: 'bad-bob' },
      attempts: 2,
      error: 'no welcome for t-2',
      waiting: 0,
    });

    // Replayed once the handler works: delivered, and the action recorded with its actor.
    failing = false;
    expect(await operations.replay({ subscription, eventId: letter?.eventId ?? '' }, 'manager-1')).toBe(1);
    await eventually(
      async () => welcomed,
      (ids) => ids.includes('t-2'),
    );
    expect(await operations.deadLetters()).toEqual([]);
    expect((await operations.status()).actions[0]).toMatchObject({
      actor: 'manager-1',
      action: 'replay',
      subscription,
      eventId: letter?.eventId,
      affected: 1,
    });
    expect(await operations.replay({ subscription, eventId: 'no-such-event' }, 'manager-1')).toBe(0);

    // Discarded: the event is given up, and the stream's next event goes on behind it.
    failing = true;
    expect((await open('t-3', 'bad-carl')).ok).toBe(true);
    const parked = await eventually(
      () => operations.deadLetters(),
      (letters) => letters.length === 1,
    );
    expect(await operations.discard('all', 'manager-2')).toBe(1);
    expect(await operations.deadLetters()).toEqual([]);
    expect(welcomed).not.toContain('t-3');
    expect((await operations.status()).actions[0]).toMatchObject({
      actor: 'manager-2',
      action: 'discard',
      subscription,
      eventId: parked[0]?.eventId,
      affected: 1,
    });
    const story = await operations.story(parked[0]?.correlationId ?? '');
    expect(story.causes[0]?.events[0]?.deliveries).toContainEqual({
      subscription,
      kind: 'handler',
      state: 'discarded',
    });

    await relay.stop();
    await daemon.stop();
    const stopped = await operations.status();
    expect(stopped.subscriptions.find((s) => s.name === subscription)?.holder).toBeUndefined();
  });

  it('rebuilds a projection in place from the start of the log, to the same read model', async () => {
    const names = projection(documents<{ owner: string }>('ops-names')).on(Opened, (e, docs) =>
      docs.put(e.id, { owner: e.owner }),
    );
    await using app = await createApplication()
      .include(postgresPersistence(test.database), postgresProjections([names]))
      .register(ticketRepository)
      .handle(openTicket)
      .build();
    const operations = app.container.root.resolve(Operations);
    for (let i = 0; i < 30; i++) {
      expect((await app.mediator.execute(new OpenTicket({ id: `r-${i}`, owner: `o-${i}` }))).ok).toBe(true);
    }
    await using _daemon = new ProjectionDaemon(app, test.database, fast).start();
    const serving = (status: Awaited<ReturnType<typeof operations.status>>) =>
      status.subscriptions.find((s) => s.name === 'projection:ops-names:v1');
    await eventually(
      () => operations.status(),
      (status) => serving(status)?.projection?.state === 'serving',
    );
    const readAll = async () =>
      (
        await test.database.query<{ id: string; doc: unknown }>(
          `SELECT id, doc FROM ${test.database.schema}.read_documents WHERE model = 'ops-names@1' ORDER BY id`,
        )
      ).rows;
    const before = await readAll();
    expect(before).toHaveLength(30);

    expect(await operations.rebuild('ops-names', 'manager-1')).toBe('started');
    expect(await operations.rebuild('ops-names', 'manager-1')).toBe('already-building');
    expect(await operations.rebuild('no-such-projection', 'manager-1')).toBe('not-found');
    const rebuilt = await eventually(
      () => operations.status(),
      (status) => serving(status)?.projection?.state === 'serving',
    );
    expect(serving(rebuilt)).toMatchObject({ lagEvents: 0, handled: 30 });
    expect(await readAll()).toEqual(before);
    expect(rebuilt.actions[0]).toMatchObject({
      actor: 'manager-1',
      action: 'rebuild',
      projection: 'ops-names',
    });
    // The rebuilt projection goes on with new events.
    expect((await app.mediator.execute(new OpenTicket({ id: 'r-new', owner: 'o-new' }))).ok).toBe(true);
    await eventually(readAll, (rows) => rows.length === 31);
  });

  it('tells a conversation’s story: the command, the events it wrote, what handled them, and what those raised', async () => {
    const welcome = eventHandler(
      { name: 'story-welcome', idempotent: true },
      Opened,
      { tickets: Tickets },
      async (e, { tickets }) => {
        const ticket = await tickets.get(e.id);
        ticket?.welcome();
        if (ticket !== undefined) await tickets.update(ticket);
      },
    );
    const seen = projection(documents<{ id: string }>('ops-story')).on(Opened, (e, docs) =>
      docs.put(e.id, { id: e.id }),
    );
    await using app = await createApplication()
      .include(postgresPersistence(test.database), postgresProjections([seen]))
      .register(ticketRepository)
      .handle(openTicket, welcome)
      .build();
    const operations = app.container.root.resolve(Operations);
    const correlationId = crypto.randomUUID();
    const result = await app.mediator.execute(new OpenTicket({ id: 's-1', owner: 'sue' }), { correlationId });
    expect(result.ok).toBe(true);
    await using _relay = new EventRelay(app, test.database, fast).start();
    await using _daemon = new ProjectionDaemon(app, test.database, fast).start();
    const story = await eventually(
      () => operations.story(correlationId),
      (s) =>
        s.causes.length === 2 &&
        s.causes[0]?.events[0]?.deliveries.every((delivery) => delivery.state === 'done') === true,
    );
    expect(story.correlationId).toBe(correlationId);
    const [placed, handled] = story.causes;
    expect(placed).toMatchObject({ kind: 'command', type: OpenTicket.type });
    expect(placed?.events.map((e) => [e.type, e.streamId])).toEqual([[Opened.type, 'Ticket-s-1']]);
    const deliveries = placed?.events[0]?.deliveries ?? [];
    expect(deliveries.map((d) => [d.subscription, d.kind, d.state])).toEqual([
      ['projection:ops-story:v1', 'projection', 'done'],
      [relaySubscription(Opened.type, 'story-welcome'), 'handler', 'done'],
    ]);
    // An idempotent handler's inbox says when it took the event.
    expect(deliveries[1]?.at).toBeInstanceOf(Date);
    // The handler's event is the second chapter, caused by the first event.
    expect(handled).toMatchObject({ kind: 'event', id: placed?.events[0]?.eventId, type: Opened.type });
    expect(handled?.events.map((e) => e.type)).toEqual([Welcomed.type]);
    expect((await operations.story('no-such-correlation')).causes).toEqual([]);
  });

  it('tells, in a story, the integration event received from another service that caused its events', async () => {
    await using app = await createApplication().include(postgresPersistence(test.database)).build();
    const operations = app.container.root.resolve(Operations);
    // A consumer of the bus took another service's event (its inbox says when), and its handler opened a ticket.
    const remote = crypto.randomUUID();
    await test.database.query(
      `INSERT INTO ${test.database.schema}.inbox (consumer, event_id) VALUES ('bus.tickets', $1)`,
      [remote],
    );
    const correlationId = crypto.randomUUID();
    await app.container.root.resolve(EventStore).append('Ticket-r-1', [
      newEvent(
        Opened.type,
        { id: 'r-1', owner: 'rob' },
        {
          correlationId,
          causationId: remote,
          causationType: 'other.order.ready.v1',
        },
      ),
    ]);
    const story = await operations.story(correlationId);
    expect(story.causes).toMatchObject([{ kind: 'event', id: remote, type: 'other.order.ready.v1' }]);
    expect(story.received).toEqual([
      { eventId: remote, subscription: 'bus.tickets', kind: 'other', state: 'done', at: expect.any(Date) },
    ]);
  });

  it('lists erasures newest first, bounded, with who asked, why and what was reached, and none of the data', async () => {
    const members = projection(documents<{ name: string }>('ops-members'), { mode: 'inline' })
      .on(Joined, (e, docs) => docs.put(e.memberId, { name: e.name }))
      .erase((memberId, docs) => docs.put(memberId, { name: erased }));
    await using app = await createApplication()
      .include(
        postgresPersistence(test.database, { personalData: { masterKey: localMasterKey(newMasterKey()) } }),
        postgresProjections([members]),
      )
      .register(postgresEventSourcedRepository(Members, Member, { events: [Joined] }))
      .handle(
        handler(Join, { members: Members }, async (c, { members }) => {
          const member = new Member(c.id);
          member.join(c.name);
          await members.add(member);
          return ok(undefined);
        }),
        handler(ForgetMember, { personal: PersonalData }, async (c, { personal }) => {
          await personal.forget(c.id, { requestedBy: 'dpo-1', reason: `ticket for ${c.id}` });
          return ok(undefined);
        }),
      )
      .build();
    const operations = app.container.root.resolve(Operations);
    expect(await operations.erasures()).toEqual([]);
    expect((await operations.status()).lastErasure).toBeUndefined();

    expect((await app.mediator.execute(new Join({ id: 'm-1', name: 'Rosalina Starlight' }))).ok).toBe(true);
    expect((await app.mediator.execute(new ForgetMember({ id: 'm-1' }))).ok).toBe(true);
    expect((await app.mediator.execute(new ForgetMember({ id: 'm-2' }))).ok).toBe(true); // wrote nothing
    const [latest, first, ...rest] = await operations.erasures();
    expect(rest).toEqual([]);
    expect(first).toEqual({
      id: expect.any(String),
      subject: 'm-1',
      requestedBy: 'dpo-1',
      reason: 'ticket for m-1',
      at: expect.any(Date),
      keys: 1,
      readModels: ['ops-members v1'],
      responses: 0,
    });
    expect(latest).toMatchObject({ subject: 'm-2', keys: 0, readModels: ['ops-members v1'] });
    expect(JSON.stringify([latest, first])).not.toContain('Rosalina');
    expect((await operations.status()).lastErasure).toBe(latest?.id);
    expect(await operations.erasures({ limit: 1 })).toEqual([latest]);
  });
});
