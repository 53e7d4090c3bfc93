import { type Application, createApplication, type Module } from '../application/application.ts';
import { token } from '../dependencyInjection/token.ts';
import { AggregateRoot } from '../domain/aggregateRoot.ts';
import { handler } from '../mediation/handler.ts';
import { command, event, query, unchecked } from '../messages/message.ts';
import { EventStore } from '../persistence/eventStore.ts';
import { IdempotencyStore } from '../persistence/idempotencyStore.ts';
import type { Repository } from '../persistence/repository.ts';
import { erased, PersonalData, PersonalDataReader, sealedField } from '../personalData/personalData.ts';
import { projection } from '../projections/projection.ts';
import { documents } from '../projections/readModel.ts';
import { badRequest, notFound, ok } from '../results/operationResult.ts';
import { SpecificationError } from './aggregateSpec.ts';
import { type ContractCase, expectEqual, expectRejection, uniqueName } from './contract.ts';
import { newEvent } from './events.ts';
import { expectSuccess } from './handlerSpec.ts';
import type { ProjectionsUnderTest } from './projectionContract.ts';

/**
 * What the personal data contract runs against: persistence that protects personal data, its projections, and
 * what runs the async ones. Every application a case builds includes `persistence`: they share one database and
 * one master key (each application keeps its own cache of keys, as processes do).
 */
export interface PersonalDataUnderTest extends ProjectionsUnderTest {
  /** The data of a stream's events as the log stores them (what a copy of the database holds), oldest first. */
  storedData(streamId: string): Promise<readonly unknown[]>;
}

/** Someone whose data a case writes: names and phones no other case writes, so a search for them finds only theirs. */
export interface Person {
  readonly id: string;
  readonly name: string;
  readonly phone: string;
}

type PatientState = { name: string; phone: string; ward: string };
type Card = { id: string; name: string; phone: string; ward: string };
type Which = 'inline' | 'async';

/**
 * The world a case of the personal data contract runs in, for an adapter's own checks of what it stores: a clinic's
 * patients, whose name and phone are personal and whose ward is not, kept by an event-sourced aggregate and two
 * read models of their cards (one inline, one async) whose erasure hooks blank a forgotten patient's. Its event
 * types, streams and read models have names of their own: event types that declare personal data are known by
 * type name to the whole process, and cases may share a database.
 */
export function personalDataWorld(subject: PersonalDataUnderTest) {
  const tag = uniqueName('pd');
  const Registered = event(
    `contract.${tag}.registered`,
    unchecked<{ patientId: string; name: string; phone: string; ward: string; note?: string }>(),
    { personal: { subject: 'patientId', fields: ['name', 'phone', 'note'] } },
  );
  const Moved = event(`contract.${tag}.moved`, unchecked<{ patientId: string; ward: string }>());
  type PatientEvent = InstanceType<typeof Registered> | InstanceType<typeof Moved>;
  class Patient extends AggregateRoot<PatientState, PatientEvent> {
    constructor(id: string) {
      super(id, { name: '', phone: '', ward: '' });
    }
    register(name: string, phone: string, ward: string): void {
      this.raise(new Registered({ patientId: this.id, name, phone, ward }));
    }
    move(ward: string): void {
      this.raise(new Moved({ patientId: this.id, ward }));
    }
    protected override apply(state: PatientState, e: PatientEvent): PatientState {
      return e instanceof Registered
        ? { name: e.name, phone: e.phone, ward: e.ward }
        : { ...state, ward: e.ward };
    }
  }
  const Patients = token<Repository<Patient>>(`contract.${tag}.patients`);
  /** Registers a patient; with `forget`, forgets them in the same command. */
  const Register = command(
    `contract.${tag}.register`,
    unchecked<Person & { ward: string; forget?: boolean }>(),
  ).returns<void>();
  const Move = command(
    `contract.${tag}.move`,
    unchecked<{ id: string; ward: string }>(),
  ).returns<PatientState>();
  /** Forgets a patient (asked by 'dpo', for 'ticket 17'); with `refuse`, the command fails after forgetting. */
  const Forget = command(
    `contract.${tag}.forget`,
    unchecked<{ id: string; principal?: string; refuse?: boolean }>(),
  ).returns<void>();

  const models = { inline: `${tag}-cards`, async: `${tag}-cards-async` } as const;
  /** A read model of the patients' cards; with `erase`, the hook that blanks a forgotten patient's. */
  const cards = (which: Which, options: { version?: number; erase?: boolean } = {}) => {
    const model = documents<Card>(models[which]);
    const declared = projection(model, { mode: which, version: options.version ?? 1 })
      .on(Registered, (e, docs) =>
        docs.put(e.patientId, { id: e.patientId, name: e.name, phone: e.phone, ward: e.ward }),
      )
      .on(Moved, async (e, docs) => {
        await docs.update(e.patientId, (card) => ({ ...card, ward: e.ward }));
      });
    const withHook = declared.erase(async (patientId, docs) => {
      for (const card of (await docs.find({ where: { id: patientId } })).items)
        await docs.put(card.id, { ...card, name: erased, phone: erased });
    });
    return { model, projection: options.erase === false ? declared : withHook };
  };
  const inline = cards('inline');
  const async = cards('async');
  const GetCard = query(
    `contract.${tag}.card`,
    unchecked<{ id: string; which: Which }>(),
  ).returns<Card | null>();
  const CachedCard = query(`contract.${tag}.cachedCard`, unchecked<{ id: string }>()).returns<Card | null>();
  const AllCards = query(`contract.${tag}.cards`, unchecked<{ which: Which }>()).returns<readonly Card[]>();
  const byIdOrder = { sort: [{ field: 'id' as const, direction: 'asc' as const }] };

  const build = (include: readonly Module[] = []): Promise<Application> =>
    createApplication()
      .include(
        subject.persistence,
        subject.projections([inline.projection, async.projection], {}),
        ...include,
      )
      .register(subject.eventSourced(Patients, Patient, { events: [Registered, Moved], stream: tag }))
      .cache(CachedCard, { ttlMs: 600_000 }) // dropped by nothing but its ttl, or an erasure
      .handle(
        handler(Register, { patients: Patients, personal: PersonalData }, async (c, deps) => {
          const patient = new Patient(c.id);
          patient.register(c.name, c.phone, c.ward);
          await deps.patients.add(patient);
          if (c.forget === true) await deps.personal.forget(c.id, { requestedBy: 'dpo' });
          return ok(undefined);
        }),
        handler(Move, { patients: Patients }, async (c, { patients }) => {
          const patient = await patients.get(c.id);
          if (patient === undefined) return notFound('Patient', c.id);
          patient.move(c.ward);
          await patients.update(patient);
          return ok(patient.state);
        }),
        handler(Forget, { personal: PersonalData }, async (c, { personal }) => {
          await personal.forget(c.id, {
            requestedBy: 'dpo',
            reason: 'ticket 17',
            ...(c.principal === undefined ? {} : { principal: c.principal }),
          });
          return c.refuse === true ? badRequest('refused after all') : ok(undefined);
        }),
        handler(GetCard, { inline: inline.model, async: async.model }, async (q, readers) =>
          ok((await readers[q.which].get(q.id)) ?? null),
        ),
        handler(CachedCard, { cards: inline.model }, async (q, { cards }) =>
          ok((await cards.get(q.id)) ?? null),
        ),
        handler(AllCards, { inline: inline.model, async: async.model }, async (q, readers) =>
          ok((await readers[q.which].find(byIdOrder)).items),
        ),
      )
      .build();

  const stream = (id: string) => `${tag}-${id}`;
  return {
    tag,
    /** The personal event: `name`, `phone` and `note` are the patient's, `ward` is not. */
    Registered,
    Moved,
    Register,
    Move,
    Forget,
    /** The names of the read models of the cards, inline and async. */
    models,
    cards,
    /** An application of this world, with `include` besides (a logger, an event handler). */
    build,
    person: (first: string): Person => ({
      id: `${first.toLowerCase()}-${tag}`,
      name: `${first} ${tag}`,
      phone: uniqueName('+555'),
    }),
    /** The stream of a patient's events. */
    stream,
    async register(app: Application, person: Person, ward = 'A', forget = false): Promise<void> {
      expectSuccess(await app.mediator.execute(new Register({ ...person, ward, forget })));
    },
    forget(app: Application, id: string, options: { principal?: string; refuse?: boolean } = {}) {
      return app.mediator.execute(new Forget({ id, ...options }));
    },
    async move(app: Application, id: string, ward: string): Promise<PatientState> {
      return expectSuccess(await app.mediator.execute(new Move({ id, ward })));
    },
    async card(app: Application, id: string, which: Which = 'inline'): Promise<Card | null> {
      return expectSuccess(await app.mediator.execute(new GetCard({ id, which })));
    },
    async cachedCard(app: Application, id: string): Promise<Card | null> {
      return expectSuccess(await app.mediator.execute(new CachedCard({ id })));
    },
    async allCards(app: Application, which: Which): Promise<readonly Card[]> {
      return expectSuccess(await app.mediator.execute(new AllCards({ which })));
    },
    /** The payloads of a patient's events, as the application's event store reads them. */
    async read(app: Application, id: string): Promise<unknown[]> {
      return (await app.container.root.resolve(EventStore).readStream(stream(id))).map((e) => e.data);
    },
    /** A patient's events as the log stores them, opened by the application's `PersonalDataReader` (as registrations). */
    async reveal(app: Application, id: string): Promise<unknown[]> {
      const sealed = (await subject.storedData(stream(id))).map((data) => ({
        data,
        metadata: { type: Registered.type },
      }));
      return (await app.container.root.resolve(PersonalDataReader).reveal(sealed)).map((e) => e.data);
    },
    /** Waits until the async read model has applied the whole log. */
    caughtUp: (app: Application) => subject.caughtUp(app, [models.async]),
    /** Runs `body` while a runner runs each application's async projections, and stops them whatever happens. */
    async running(apps: readonly Application[], body: () => Promise<void>): Promise<void> {
      const runners = apps.map((app) => subject.runner(app));
      for (const runner of runners) runner.start();
      await body().finally(() => Promise.all(runners.map((runner) => runner.stop())));
    },
  };
}

/** A person's card, with their data in clear or, once they are forgotten, placeholders. */
const cardOf = (person: Person, ward: string, as: 'clear' | 'erased'): Card =>
  as === 'clear' ? { ...person, ward } : { id: person.id, name: erased, phone: erased, ward };

/**
 * Checks that the event store, a reader of the events as the log stores them, both read models and the aggregate
 * read a person registered in ward A as `as`: in clear, or with placeholders.
 */
async function expectReadAs(w: PersonalDataWorld, app: Application, person: Person, as: 'clear' | 'erased') {
  const { name, phone } = cardOf(person, 'A', as);
  const events = [{ patientId: person.id, ward: 'A', name, phone }];
  const whose = `${person.name.split(' ')[0]}, ${as === 'clear' ? 'in clear' : 'erased'}`;
  expectEqual(await w.read(app, person.id), events, `${whose}: the events read from the event store`);
  // The events as a bus consumer gets them, sealed as the log holds them, open with the reader.
  expectEqual(await w.reveal(app, person.id), events, `${whose}: the stored events opened by the reader`);
  expectEqual(await w.card(app, person.id), cardOf(person, 'A', as), `${whose}: the inline card`);
  expectEqual(await w.card(app, person.id, 'async'), cardOf(person, 'A', as), `${whose}: the async card`);
  // Last, as it appends: the aggregate loads as the events read, and takes a command (a move to where it is).
  const loaded = await w.move(app, person.id, 'A');
  expectEqual(loaded, { name, phone, ward: 'A' }, `${whose}: the aggregate loaded`);
}

/** The names of the world's registrations in the whole log, as the event store reads it. */
async function namesInLog(w: PersonalDataWorld, app: Application): Promise<string[]> {
  const all = await app.container.root.resolve(EventStore).readAll();
  return all.filter((e) => e.metadata.type === w.Registered.type).map((e) => (e.data as Person).name);
}

/** Throws unless none of `needles` occurs in `haystack` (JSON of what was read). */
function expectAbsent(haystack: unknown, needles: readonly string[], what: string): void {
  const text = JSON.stringify(haystack);
  for (const needle of needles)
    if (text.includes(needle))
      throw new SpecificationError(`${what} holds ${JSON.stringify(needle)} in clear`);
}

/** A case in a world of its own, with an application of that world built for it. */
function inWorld(
  name: string,
  body: (w: PersonalDataWorld, app: Application, subject: PersonalDataUnderTest) => Promise<void>,
): ContractCase<PersonalDataUnderTest> {
  return {
    name,
    async run(subject) {
      const w = personalDataWorld(subject);
      await using app = await w.build();
      await body(w, app, subject);
    },
  };
}

const sortedById = (cards: readonly Card[]) => [...cards].sort((a, b) => a.id.localeCompare(b.id));

/**
 * The personal data contract: what every persistence adapter that protects personal data must do — keep declared
 * fields sealed in the log, read them in clear while the subject's key exists and as placeholders everywhere once
 * `PersonalData.forget` committed (event store, aggregates, read models through their erasure hooks, rebuilds,
 * cached answers, the answers kept for idempotent requests), forget with the command or not at all, and seal a
 * returning subject's new events with a new key.
 */
export function personalDataContract(): ContractCase<PersonalDataUnderTest>[] {
  return [
    inWorld(
      'the log holds no declared field in clear: they are sealed, under the subject’s key',
      async (w, app, subject) => {
        const [peach, daisy] = [w.person('Peach'), w.person('Daisy')];
        await w.register(app, peach);
        await w.register(app, daisy);
        const [stored, ...more] = await subject.storedData(w.stream(peach.id));
        expectEqual(more.length, 0, 'the events stored after one registration');
        const { [sealedField]: envelope, ...clear } = stored as Record<string, unknown>;
        expectEqual(clear, { patientId: peach.id, ward: 'A' }, 'the fields stored in clear');
        const { key, fields, sealed } = envelope as { key: unknown; fields: unknown; sealed: unknown };
        expectEqual(
          { key: typeof key, fields, sealed: typeof sealed },
          { key: 'string', fields: ['name', 'phone'], sealed: 'string' },
          'the sealed fields',
        );
        const log = [stored, ...(await subject.storedData(w.stream(daisy.id)))];
        expectAbsent(log, [peach.name, peach.phone, daisy.name, daisy.phone], 'the log');
      },
    ),
    inWorld('while the subject’s key exists, every reader reads their data in clear', async (w, app) => {
      const [peach, daisy] = [w.person('Peach'), w.person('Daisy')];
      await w.running([app], async () => {
        await w.register(app, peach);
        await w.register(app, daisy);
        await w.caughtUp(app);
        expectEqual(await namesInLog(w, app), [peach.name, daisy.name], 'the names in the whole log');
        await expectReadAs(w, app, peach, 'clear');
      });
    }),
    inWorld(
      'once forgotten in a command, the subject reads as placeholders everywhere, the others as before',
      async (w, app, subject) => {
        const [peach, daisy] = [w.person('Peach'), w.person('Daisy')];
        await w.running([app], async () => {
          await w.register(app, peach);
          await w.register(app, daisy);
          await w.caughtUp(app);
          expectSuccess(await w.forget(app, peach.id));
          await w.caughtUp(app);
          const everything = [
            await subject.storedData(w.stream(peach.id)),
            await w.allCards(app, 'inline'),
            await w.allCards(app, 'async'),
          ];
          expectAbsent(everything, [peach.name, peach.phone], 'the log and the read models');
          expectEqual(await namesInLog(w, app), [erased, daisy.name], 'the names in the whole log');
          // The erasure hooks ran on both read models, the async one's with no event to apply.
          await expectReadAs(w, app, peach, 'erased');
          await expectReadAs(w, app, daisy, 'clear');
        });
      },
    ),
    inWorld(
      'a forgotten subject’s aggregate takes new commands, whose events reach the read models',
      async (w, app) => {
        const peach = w.person('Peach');
        await w.running([app], async () => {
          await w.register(app, peach);
          expectSuccess(await w.forget(app, peach.id));
          const moved = await w.move(app, peach.id, 'B');
          expectEqual(moved, { name: erased, phone: erased, ward: 'B' }, 'the aggregate loaded and moved');
          expectEqual(await w.card(app, peach.id), cardOf(peach, 'B', 'erased'), 'the inline card');
          await w.caughtUp(app);
          expectEqual(await w.card(app, peach.id, 'async'), cardOf(peach, 'B', 'erased'), 'the async card');
        });
      },
    ),
    inWorld(
      'forgetting commits with the command: a command that fails after forgetting forgets nothing',
      async (w, app) => {
        const lily = w.person('Lily');
        await w.running([app], async () => {
          await w.register(app, lily);
          await w.caughtUp(app);
          const refused = await w.forget(app, lily.id, { refuse: true });
          if (refused.ok) throw new SpecificationError('the command that refused succeeded');
          await w.caughtUp(app);
          await expectReadAs(w, app, lily, 'clear');
        });
      },
    ),
    inWorld(
      'a subject registered and forgotten in one command: the inline read model holds placeholders',
      async (w, app, subject) => {
        const iris = w.person('Iris');
        await w.register(app, iris, 'G', true);
        // The inline read model took the event in clear, then the erasure in the same commit blanked it.
        expectEqual(await w.card(app, iris.id), cardOf(iris, 'G', 'erased'), 'the inline card');
        expectAbsent(await subject.storedData(w.stream(iris.id)), [iris.name, iris.phone], 'the log');
        const placeholders = { patientId: iris.id, ward: 'G', name: erased, phone: erased };
        expectEqual(await w.read(app, iris.id), [placeholders], 'the events read from the event store');
      },
    ),
    inWorld(
      'a subject forgotten and back is sealed with a new key, though another application cached the old one',
      async (w, app, subject) => {
        const rose = w.person('Rose');
        await using other = await w.build();
        await using third = await w.build();
        // The other application seals Rose's first event, caching her key; this one forgets her.
        await w.register(other, rose, 'C');
        expectSuccess(await w.forget(app, rose.id));
        // Back under the same id: a third application seals with a new key; the other's cached key is gone, so
        // its append seals with the new one too.
        const again = (name: string, ward: string) =>
          newEvent(w.Registered.type, { patientId: rose.id, name, phone: rose.phone, ward });
        await third.container.root.resolve(EventStore).append(w.stream(rose.id), [again('Rose again', 'D')]);
        await other.container.root
          .resolve(EventStore)
          .append(w.stream(rose.id), [again('Rose, third time', 'E')]);
        const names = async (reader: Application) =>
          (await w.read(reader, rose.id)).map((data) => (data as Person).name);
        const expected = [erased, 'Rose again', 'Rose, third time'];
        expectEqual(
          await names(other),
          expected,
          'the names read by the application that cached the old key',
        );
        expectEqual(await names(app), expected, 'the names read by the application that forgot her');
        const keys = new Set(
          (await subject.storedData(w.stream(rose.id))).map(
            (data) => ((data as Record<string, unknown>)[sealedField] as { key?: string } | undefined)?.key,
          ),
        );
        expectEqual(keys.size, 2, 'how many keys sealed her events: the forgotten one and one new one');
        expectEqual(keys.has(undefined), false, 'an event of hers stored unsealed');
        const moved = await w.move(app, rose.id, 'F');
        expectEqual(
          moved,
          { name: 'Rose, third time', phone: rose.phone, ward: 'F' },
          'the aggregate loaded',
        );
      },
    ),
    inWorld(
      'a read model rebuilt (a new version) after an erasure equals the one built before it, less the erased fields',
      async (w, app, subject) => {
        const [peach, daisy] = [w.person('Peach'), w.person('Daisy')];
        let before: readonly Card[] = [];
        let erasedThere: readonly Card[] = [];
        await w.running([app], async () => {
          await w.register(app, peach);
          await w.register(app, daisy);
          await w.move(app, peach.id, 'B');
          await w.caughtUp(app);
          before = await w.allCards(app, 'async'); // built before the erasure, Peach's data in clear
          expectSuccess(await w.forget(app, peach.id));
          await w.caughtUp(app);
          erasedThere = await w.allCards(app, 'async'); // what its erasure hook left
        });
        expectEqual(
          sortedById(before),
          sortedById([cardOf(daisy, 'A', 'clear'), cardOf(peach, 'B', 'clear')]),
          'the cards built before',
        );
        // What was built before, with Peach's personal fields (and only those) as their placeholders.
        const lessErased = before.map((card) =>
          card.id === peach.id ? { ...card, name: erased, phone: erased } : card,
        );
        expectEqual(sortedById(erasedThere), sortedById(lessErased), 'the cards the erasure hook left');
        // Version 2, with no erasure hook: only the placeholders in the log keep Peach's data out of it.
        const rebuilt = w.cards('async', { version: 2, erase: false });
        const Read = query(`contract.${w.tag}.rebuilt`, unchecked<object>()).returns<readonly Card[]>();
        await using next = await createApplication()
          .include(subject.persistence, subject.projections([rebuilt.projection], {}))
          .handle(
            handler(Read, { cards: rebuilt.model }, async (_q, { cards }) =>
              ok((await cards.find({})).items),
            ),
          )
          .build();
        await w.running([next], () => subject.caughtUp(next, [w.models.async]));
        const after = sortedById(expectSuccess(await next.mediator.execute(new Read({}))));
        expectEqual(after, sortedById(lessErased), 'the rebuilt cards');
        expectEqual(
          after,
          sortedById([cardOf(daisy, 'A', 'clear'), cardOf(peach, 'B', 'erased')]),
          'each rebuilt card',
        );
      },
    ),
    inWorld(
      'a cached query answer holding the subject’s data is not served once they are forgotten',
      async (w, app) => {
        const peach = w.person('Peach');
        await w.register(app, peach);
        expectEqual(await w.cachedCard(app, peach.id), cardOf(peach, 'A', 'clear'), 'the card read');
        await w.move(app, peach.id, 'B');
        expectEqual(
          await w.cachedCard(app, peach.id),
          cardOf(peach, 'A', 'clear'),
          'the card served from the cache',
        );
        expectSuccess(await w.forget(app, peach.id));
        expectEqual(
          await w.cachedCard(app, peach.id),
          cardOf(peach, 'B', 'erased'),
          'the card read after forget',
        );
      },
    ),
    inWorld(
      'forgetting deletes the answers kept for the subject’s own idempotent requests, and no one else’s',
      async (w, app) => {
        const violet = w.person('Violet');
        const idempotency = app.container.root.resolve(IdempotencyStore);
        const claim = (scope: string) => idempotency.claim(scope, 'k-1', 'f', new Date(Date.now() + 60_000));
        const principal = `user-${violet.id}`;
        // Scoped by the HTTP layer `user:<principal> <method> <url>`; the last is a user whose id merely starts so.
        const theirs = [`user:${principal} POST /patients`, `user:${principal} PUT /patients/${violet.id}`];
        const another = `user:${principal}x POST /patients`;
        for (const scope of [...theirs, another]) {
          expectEqual(await claim(scope), { state: 'claimed' }, `the first claim in ${scope}`);
          await idempotency.complete(scope, 'k-1', { status: 201, headers: {}, body: { name: violet.name } });
        }
        expectSuccess(await w.forget(app, violet.id, { principal }));
        for (const scope of theirs)
          expectEqual(await claim(scope), { state: 'claimed' }, `a claim in ${scope}`);
        expectEqual((await claim(another)).state, 'done', `the answer kept in ${another}`);
      },
    ),
    inWorld(
      'a command says whose personal data it wrote, and forgetting one deletes the answers kept with them, in any scope',
      async (w, app) => {
        const iris = w.person('Iris');
        const olive = w.person('Olive');
        const idempotency = app.container.root.resolve(IdempotencyStore);
        // As the HTTP layer keeps an anonymous caller's answer: scoped by address, which names no subject.
        const scope = `anonymous:10.0.0.${w.tag.length} POST /patients`;
        const claim = (key: string) => idempotency.claim(scope, key, 'f', new Date(Date.now() + 60_000));
        for (const person of [iris, olive]) {
          expectEqual(await claim(person.id), { state: 'claimed' }, `the first claim of ${person.id}`);
          const registered = await app.mediator.execute(
            new w.Register({ ...person, ward: 'A', forget: false }),
          );
          expectSuccess(registered);
          const subjects = registered.ok ? registered.subjects : undefined;
          expectEqual(subjects, [person.id], `the subjects of ${person.id}'s registration`);
          const answer = { status: 201, headers: {}, body: { name: person.name } };
          await idempotency.complete(scope, person.id, answer, subjects);
        }
        expectSuccess(await w.forget(app, iris.id));
        expectEqual(await claim(iris.id), { state: 'claimed' }, 'a claim of the key whose answer held Iris');
        expectEqual((await claim(olive.id)).state, 'done', 'the answer kept with Olive');
      },
    ),
    inWorld(
      'an answer completed after its subject was forgotten, between the command and its keeping, is not kept',
      async (w, app) => {
        const ivy = w.person('Ivy');
        const idempotency = app.container.root.resolve(IdempotencyStore);
        const scope = `anonymous:10.0.1.${w.tag.length} POST /patients`;
        const claim = () => idempotency.claim(scope, ivy.id, 'f', new Date(Date.now() + 60_000));
        expectEqual(await claim(), { state: 'claimed' }, 'the first claim');
        const registered = await app.mediator.execute(new w.Register({ ...ivy, ward: 'A', forget: false }));
        expectSuccess(registered);
        // The erasure commits while the request is between its command's commit and the keeping of its answer.
        expectSuccess(await w.forget(app, ivy.id));
        const answer = { status: 201, headers: {}, body: { name: ivy.name } };
        await idempotency.complete(scope, ivy.id, answer, registered.ok ? registered.subjects : undefined);
        expectEqual(await claim(), { state: 'claimed' }, 'a repeat, which runs again rather than replay Ivy');
      },
    ),
    inWorld(
      'sealed data that was altered fails loudly when opened, rather than reading as erased',
      async (w, app, subject) => {
        const daisy = w.person('Daisy');
        await w.register(app, daisy);
        const [stored] = await subject.storedData(w.stream(daisy.id));
        const altered = structuredClone(stored) as Record<string, unknown>;
        (altered[sealedField] as { fields: string[] }).fields = ['phone', 'name'];
        const reader = app.container.root.resolve(PersonalDataReader);
        await expectRejection(
          () => reader.reveal([{ data: altered, metadata: { type: w.Registered.type } }]),
          (error) =>
            error instanceof Error && /does not open with its key: it was altered/.test(error.message),
          'opening altered sealed data',
        );
      },
    ),
  ];
}

/** One world of the personal data contract (see {@link personalDataWorld}). */
export type PersonalDataWorld = ReturnType<typeof personalDataWorld>;
