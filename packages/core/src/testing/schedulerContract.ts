import { type Application, createApplication, type Module } from '../application/application.ts';
import type { Provider } from '../dependencyInjection/container.ts';
import { type Token, token } from '../dependencyInjection/token.ts';
import { AggregateRoot, type AggregateType } from '../domain/aggregateRoot.ts';
import { handler } from '../mediation/handler.ts';
import { command, event, query, unchecked } from '../messages/message.ts';
import { EventStore } from '../persistence/eventStore.ts';
import type { QueryableRepository } from '../persistence/repository.ts';
import { erased, PersonalData } from '../personalData/personalData.ts';
import { badRequest, ok } from '../results/operationResult.ts';
import { type Clock, TestClock } from '../scheduling/clock.ts';
import { executeScheduled, type MessageSchedulerOptions } from '../scheduling/delivery.ts';
import { Schedule, type ScheduledMessage } from '../scheduling/schedule.ts';
import { type ContractCase, expectEqual, uniqueName } from './contract.ts';

/** What the scheduler contract runs against. */
export interface SchedulerUnderTest {
  /** The adapter's persistence, on the shared database, with this clock. */
  persistence(clock: Clock): Module;
  stateStored<TAggregate extends AggregateRoot<any, any>>(
    repository: Token<QueryableRepository<TAggregate>>,
    type: AggregateType<TAggregate>,
    options: { readonly collection: string },
  ): Provider<QueryableRepository<TAggregate>, any>;
  /** The adapter's scheduler for an application; `start` resolves once it delivers (it holds its lease). */
  scheduler(app: Application, options: MessageSchedulerOptions): ScheduledDelivery;
  /**
   * Everything the adapter stores of scheduled messages and of the log, as text: what a copy of the database
   * holds. Personal data must never be found in it in clear. (`persistence` must protect personal data.)
   */
  stored(): Promise<string>;
}

/** A running scheduler, as the contract sees it. */
export interface ScheduledDelivery {
  start(): Promise<unknown>;
  stop(): Promise<void>;
  /** The messages waiting (scheduled or parked). */
  pending(): Promise<readonly ScheduledMessage[]> | readonly ScheduledMessage[];
}

const minute = 60_000;

type PlanInput = { id: string; after: number; scheduleId?: string; fail?: boolean; refuse?: boolean };

/** One case's world: its own messages and aggregate (unique names), so cases sharing a database never meet. */
function world(subject: SchedulerUnderTest) {
  const tag = uniqueName('s');
  const Bumped = event(`contract.${tag}.bumped`, unchecked<{ id: string }>());
  class Tally extends AggregateRoot<{ count: number }, InstanceType<typeof Bumped>> {
    constructor(id: string) {
      super(id, { count: 0 });
    }
    bump(): void {
      this.raise(new Bumped({ id: this.id }));
    }
    protected override apply(state: { count: number }): { count: number } {
      return { count: state.count + 1 };
    }
  }
  const Tallies = token<QueryableRepository<Tally>>(`contract.${tag}.tallies`);
  const Bump = command(`contract.${tag}.bump`, unchecked<{ id: string; refuse?: boolean }>()).returns<void>();
  const Plan = command(`contract.${tag}.plan`, unchecked<PlanInput>()).returns<string>();
  const Drop = command(`contract.${tag}.drop`, unchecked<{ scheduleId: string }>()).returns<void>();
  const Reminded = event(`contract.${tag}.reminded`, unchecked<{ id: string }>());
  const Remind = command(
    `contract.${tag}.remind`,
    unchecked<{ id: string; after: number }>(),
  ).returns<string>();
  const Count = query(`contract.${tag}.count`, unchecked<{ id: string }>()).returns<number>();
  /** A note about a patient, whose name is personal: scheduled by `Note`, to the stream `notes-<tag>`. */
  const Noted = event(
    `contract.${tag}.noted`,
    unchecked<{ patientId: string; name: string; ward: string }>(),
    {
      personal: { subject: 'patientId', fields: ['name'] },
    },
  );
  const Note = command(
    `contract.${tag}.note`,
    unchecked<{ patientId: string; name: string; after: number }>(),
  ).returns<string>();
  const Forget = command(`contract.${tag}.forget`, unchecked<{ patientId: string }>()).returns<void>();
  const state = {
    failures: 0,
    /** When set, the next run of Bump waits for it (a handler that hangs), and it is cleared. */
    hang: undefined as Promise<void> | undefined,
    ran: [] as { subject: string | undefined; correlationId: string; causationId: string | undefined }[],
  };
  const clock = new TestClock();
  const staff = { subject: 'planner', roles: ['staff'] };

  return {
    clock,
    state,
    tag,
    Reminded,
    build(): Promise<Application> {
      return createApplication()
        .include(subject.persistence(clock))
        .register(subject.stateStored(Tallies, Tally, { collection: `tallies_${tag}` }))
        .handle(
          handler(Bump, { tallies: Tallies }, async (c, { tallies }, context) => {
            if (state.failures > 0) {
              state.failures--;
              throw new Error('the oven is cold');
            }
            const hang = state.hang;
            state.hang = undefined;
            await hang;
            if (c.refuse === true) return badRequest('Not this one');
            state.ran.push({
              subject: context.principal?.subject,
              correlationId: context.correlationId,
              causationId: context.causationId,
            });
            const existing = await tallies.get(c.id);
            const tally = existing ?? new Tally(c.id);
            tally.bump();
            await (existing === undefined ? tallies.add(tally) : tallies.update(tally));
            return ok(undefined);
          }),
          handler(Plan, { schedule: Schedule }, async (c, { schedule }) => {
            const id = schedule.send(
              new Bump({ id: c.id, ...(c.refuse === true ? { refuse: true } : {}) }),
              { after: c.after },
              c.scheduleId === undefined ? {} : { id: c.scheduleId },
            );
            if (c.fail === true) return badRequest('Planned, then refused: nothing may be scheduled');
            return ok(id);
          }),
          handler(Drop, { schedule: Schedule }, async (c, { schedule }) => {
            schedule.cancel(c.scheduleId);
            return ok(undefined);
          }),
          handler(Remind, { schedule: Schedule }, async (c, { schedule }) =>
            ok(
              schedule.send(new Reminded({ id: c.id }), { after: c.after }, { streamId: `reminders-${tag}` }),
            ),
          ),
          handler(Note, { schedule: Schedule }, async (c, { schedule }) =>
            ok(
              schedule.send(
                new Noted({ patientId: c.patientId, name: c.name, ward: 'B' }),
                { after: c.after },
                { streamId: `notes-${tag}` },
              ),
            ),
          ),
          handler(Forget, { personalData: PersonalData }, async (c, { personalData }) => {
            await personalData.forget(c.patientId, { requestedBy: 'dpo' });
            return ok(undefined);
          }),
          handler(Count, { tallies: Tallies }, async (q, { tallies }) =>
            ok((await tallies.get(q.id))?.state.count ?? 0),
          ),
        )
        .build();
    },
    async plan(app: Application, input: PlanInput): Promise<string | undefined> {
      const result = await app.mediator.execute(new Plan(input), {
        principal: staff,
        correlationId: `corr-${tag}`,
        messageId: `plan-${tag}-${input.id}`,
      });
      return result.ok ? result.data : undefined;
    },
    async drop(app: Application, scheduleId: string): Promise<void> {
      expectEqual((await app.mediator.execute(new Drop({ scheduleId }))).ok, true, 'the cancellation');
    },
    async remind(app: Application, id: string, after: number): Promise<string | undefined> {
      const result = await app.mediator.execute(new Remind({ id, after }));
      return result.ok ? result.data : undefined;
    },
    async note(app: Application, patientId: string, name: string, after: number): Promise<string> {
      const result = await app.mediator.execute(new Note({ patientId, name, after }));
      if (!result.ok) throw new Error(result.problem.detail);
      return result.data;
    },
    async forget(app: Application, patientId: string): Promise<void> {
      const result = await app.mediator.execute(new Forget({ patientId }));
      if (!result.ok) throw new Error(result.problem.detail);
    },
    /** The notes written to the log, as its readers see them. */
    async notes(app: Application): Promise<unknown[]> {
      const written = await app.container.root.resolve(EventStore).readStream(`notes-${tag}`);
      return written.map((e) => e.data);
    },
    async count(app: Application, id: string): Promise<number> {
      const result = await app.mediator.execute(new Count({ id }));
      if (!result.ok) throw new Error(result.problem.detail);
      return result.data;
    },
    mine: (pending: readonly ScheduledMessage[]) =>
      pending.filter((m) => m.type.startsWith(`contract.${tag}.`)),
  };
}

/** Resolves once `check` holds, asking every 10 ms; fails after 10 s, naming what it waited for. */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not reached in 10 s: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Runs `body` with the world's application and its scheduler started, and stops both after. */
async function running(
  subject: SchedulerUnderTest,
  options: MessageSchedulerOptions,
  body: (w: ReturnType<typeof world>, app: Application, scheduler: ScheduledDelivery) => Promise<void>,
): Promise<void> {
  const w = world(subject);
  await using app = await w.build();
  const scheduler = subject.scheduler(app, { onError: () => {}, ...options });
  await scheduler.start();
  try {
    await body(w, app, scheduler);
  } finally {
    await scheduler.stop();
  }
}

/**
 * What every scheduler and its `Schedule` must do: schedule within the unit of work, deliver when due by the
 * application's clock (a test clock here: nothing waits), cancel and replace by id, write due events to the log,
 * retry and park failures, drop refusals, and take effect once however often a message is delivered.
 */
export function schedulerContract(): ContractCase<SchedulerUnderTest>[] {
  return [
    {
      name: 'a scheduled command runs when due by the clock, as who scheduled it, in their conversation, once',
      run: (subject) =>
        running(subject, {}, async (w, app, scheduler) => {
          const id = await w.plan(app, { id: 't1', after: 10 * minute });
          expectEqual(typeof id, 'string', 'the id the plan returned');
          expectEqual(
            w.mine(await scheduler.pending()).map((m) => [m.id, m.kind, m.status, m.dueAt.getTime()]),
            [[id, 'command', 'scheduled', w.clock.now().getTime() + 10 * minute]],
            'what is scheduled',
          );
          await w.clock.advance(10 * minute - 1);
          expectEqual(await w.count(app, 't1'), 0, 'the count a millisecond before it is due');
          await w.clock.advance(1);
          expectEqual(await w.count(app, 't1'), 1, 'the count once due');
          expectEqual(
            w.state.ran,
            [{ subject: 'planner', correlationId: `corr-${w.tag}`, causationId: `plan-${w.tag}-t1` }],
            'who it ran as, in which conversation, caused by what',
          );
          expectEqual(w.mine(await scheduler.pending()), [], 'what is still scheduled');
          await w.clock.advance(60 * minute);
          expectEqual(await w.count(app, 't1'), 1, 'the count an hour later');
        }),
    },
    {
      name: 'a schedule is part of the unit of work: a handler that fails schedules nothing',
      run: (subject) =>
        running(subject, {}, async (w, app, scheduler) => {
          expectEqual(
            await w.plan(app, { id: 't2', after: minute, fail: true }),
            undefined,
            'the refused plan',
          );
          expectEqual(w.mine(await scheduler.pending()), [], 'what is scheduled');
          await w.clock.advance(2 * minute);
          expectEqual(await w.count(app, 't2'), 0, 'the count');
        }),
    },
    {
      name: 'a scheduled message is cancelled by id, and scheduling an id again replaces it',
      run: (subject) =>
        running(subject, {}, async (w, app, scheduler) => {
          await w.plan(app, { id: 't3', after: minute, scheduleId: `cancel-${w.tag}` });
          await w.drop(app, `cancel-${w.tag}`);
          await w.drop(app, `never-scheduled-${w.tag}`);
          await w.plan(app, { id: 't4', after: minute, scheduleId: `again-${w.tag}` });
          await w.plan(app, { id: 't4', after: 5 * minute, scheduleId: `again-${w.tag}` });
          expectEqual(
            w.mine(await scheduler.pending()).map((m) => [m.id, m.dueAt.getTime()]),
            [[`again-${w.tag}`, w.clock.now().getTime() + 5 * minute]],
            'what is scheduled',
          );
          await w.clock.advance(2 * minute);
          expectEqual(
            [await w.count(app, 't3'), await w.count(app, 't4')],
            [0, 0],
            'the counts after 2 minutes',
          );
          await w.clock.advance(3 * minute);
          expectEqual(
            [await w.count(app, 't3'), await w.count(app, 't4')],
            [0, 1],
            'the counts after 5 minutes',
          );
          // Once delivered, the id is free: scheduled again, it is a new message, delivered again.
          await w.plan(app, { id: 't4', after: minute, scheduleId: `again-${w.tag}` });
          await w.clock.advance(minute);
          expectEqual(await w.count(app, 't4'), 2, 'the count once scheduled again under the same id');
        }),
    },
    {
      name: 'a scheduled event is written to the log when due, with the scheduled message’s id as its id',
      run: (subject) =>
        running(subject, {}, async (w, app, scheduler) => {
          const id = await w.remind(app, 'r1', 15 * minute);
          const [scheduled] = w.mine(await scheduler.pending());
          expectEqual(scheduled?.id, id, 'the id the handler was given');
          const store = app.container.root.resolve(EventStore);
          expectEqual(await store.readStream(`reminders-${w.tag}`), [], 'the stream before it is due');
          await w.clock.advance(15 * minute);
          const written = await store.readStream(`reminders-${w.tag}`);
          expectEqual(
            written.map((e) => [e.metadata.eventId, e.metadata.type, e.data]),
            [[scheduled?.messageId, w.Reminded.type, { id: 'r1' }]],
            'the stream once due',
          );
        }),
    },
    {
      name: 'a failing command is retried with backoff, then parked; a refused one is dropped',
      run: (subject) =>
        running(subject, { maxAttempts: 3, backoffMs: minute }, async (w, app, scheduler) => {
          w.state.failures = 1;
          await w.plan(app, { id: 't5', after: 0 });
          await w.clock.advance(0);
          expectEqual(await w.count(app, 't5'), 0, 'the count after the failure');
          const [retrying] = w.mine(await scheduler.pending());
          expectEqual(
            [retrying?.attempts, retrying?.status, retrying?.error],
            [1, 'scheduled', 'the oven is cold'],
            'the retry',
          );
          await w.clock.advance(minute);
          expectEqual(await w.count(app, 't5'), 1, 'the count after the retry');

          w.state.failures = 3;
          await w.plan(app, { id: 't6', after: 0 });
          await w.clock.advance(0);
          await w.clock.advance(minute); // the second attempt
          await w.clock.advance(2 * minute); // the third, after a doubled wait: parked
          const [parked] = w.mine(await scheduler.pending());
          expectEqual([parked?.attempts, parked?.status], [3, 'parked'], 'the parked message');
          await w.clock.advance(60 * minute);
          expectEqual(await w.count(app, 't6'), 0, 'a parked message is not delivered');

          await w.plan(app, { id: 't7', after: 0, refuse: true });
          await w.clock.advance(0);
          expectEqual(
            w.mine(await scheduler.pending()).map((m) => m.status),
            ['parked'],
            'what waits after a refusal (the parked one only)',
          );
        }),
    },
    {
      name: 'a command delivered twice at once takes effect once: the second finds it gone',
      run: (subject) =>
        running(subject, {}, async (w, app, scheduler) => {
          await w.plan(app, { id: 't8', after: 60 * minute });
          const [message] = w.mine(await scheduler.pending());
          if (message === undefined) throw new Error('nothing was scheduled');
          const outcomes = await Promise.all([
            executeScheduled(app, message),
            executeScheduled(app, message),
          ]);
          expectEqual(
            outcomes.map((o) => (o.outcome === 'failed' ? o.error : o.outcome)).sort(),
            ['delivered', 'gone'],
            'the outcomes of two deliveries at once',
          );
          expectEqual(await w.count(app, 't8'), 1, 'the count');
          expectEqual(w.mine(await scheduler.pending()), [], 'what is still scheduled');
          await w.clock.advance(60 * minute);
          expectEqual(await w.count(app, 't8'), 1, 'the count once it would have been due');
        }),
    },
    {
      name: "a scheduled event's personal data is sealed while it waits and in the log, and reads in clear",
      run: (subject) =>
        running(subject, {}, async (w, app, scheduler) => {
          const name = `Nora ${w.tag}`;
          const id = await w.note(app, `p-${w.tag}`, name, 10 * minute);
          const [waiting] = w.mine(await scheduler.pending());
          expectEqual(waiting?.id, id, 'what waits');
          expectEqual(
            JSON.stringify(waiting?.payload).includes(name),
            false,
            'the name in what waits, in clear',
          );
          expectEqual((await subject.stored()).includes(name), false, 'the name in the stored schedule');
          await w.clock.advance(10 * minute);
          expectEqual(
            await w.notes(app),
            [{ patientId: `p-${w.tag}`, name, ward: 'B' }],
            'the note once due',
          );
          expectEqual((await subject.stored()).includes(name), false, 'the name in the stored log');
        }),
    },
    {
      name: 'a scheduled event whose subject is forgotten before it is due is written with placeholders',
      run: (subject) =>
        running(subject, {}, async (w, app) => {
          const name = `Olga ${w.tag}`;
          await w.note(app, `p-${w.tag}`, name, 10 * minute);
          await w.forget(app, `p-${w.tag}`);
          await w.clock.advance(10 * minute);
          expectEqual(
            await w.notes(app),
            [{ patientId: `p-${w.tag}`, name: erased, ward: 'B' }],
            'the note once due',
          );
          expectEqual((await subject.stored()).includes(name), false, 'the name anywhere stored');
        }),
    },
    {
      name: "a process whose cached key was deleted by another's erasure seals what it schedules with a new key",
      run: (subject) =>
        running(subject, {}, async (w, app) => {
          const patientId = `p-${w.tag}`;
          // The first note makes the patient's key, which this application caches; another forgets them.
          await w.note(app, patientId, `Pia ${w.tag}`, 5 * minute);
          await using other = await w.build();
          await w.forget(other, patientId);
          const name = `Pia again ${w.tag}`;
          await w.note(app, patientId, name, 10 * minute);
          await w.clock.advance(10 * minute);
          expectEqual(
            await w.notes(app),
            [
              { patientId, name: erased, ward: 'B' },
              { patientId, name, ward: 'B' },
            ],
            'the notes once due (the first sealed before the erasure, the second after it)',
          );
          expectEqual(
            (await subject.stored()).includes(name),
            false,
            'the new name in clear, anywhere stored',
          );
        }),
    },
    {
      name: 'a command that hangs is given up after handlerTimeoutMs and retried; finishing late, it takes effect once',
      run: (subject) =>
        running(subject, { handlerTimeoutMs: 50, backoffMs: minute }, async (w, app, scheduler) => {
          let release = () => {};
          w.state.hang = new Promise<void>((resolve) => (release = resolve));
          await w.plan(app, { id: 't9', after: 0 });
          // Returns once the round is over: the hung command given up after 50 ms (wall time), the slot free.
          await w.clock.advance(0);
          const [waiting] = w.mine(await scheduler.pending());
          expectEqual(
            [waiting?.attempts, waiting?.status, waiting?.error?.includes('handlerTimeoutMs')],
            [1, 'scheduled', true],
            'the message after the give-up',
          );
          release();
          await until(async () => (await w.count(app, 't9')) === 1, 'the late command to take effect');
          expectEqual(w.mine(await scheduler.pending()), [], 'what is still scheduled after it');
          await w.clock.advance(minute);
          expectEqual(await w.count(app, 't9'), 1, 'the count once the retry was due');
        }),
    },
  ];
}
