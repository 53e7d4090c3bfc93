import { type Application, createApplication } from '../application/application.ts';
import { token } from '../dependencyInjection/token.ts';
import { AggregateRoot } from '../domain/aggregateRoot.ts';
import { handler } from '../mediation/handler.ts';
import { command, event, query, unchecked } from '../messages/message.ts';
import type { QueryableRepository } from '../persistence/repository.ts';
import { ListProcesses, type ProcessView } from '../processes/processInspection.ts';
import { processManager } from '../processes/processManager.ts';
import { ok } from '../results/operationResult.ts';
import { TestClock } from '../scheduling/clock.ts';
import { type ContractCase, expectEqual, uniqueName } from './contract.ts';
import type { SchedulerUnderTest } from './schedulerContract.ts';

/** What the process manager contract runs against: a scheduler's adapter, and how events reach handlers. */
export interface ProcessesUnderTest extends Omit<SchedulerUnderTest, 'stored'> {
  /** Starts what delivers the log's events to the application's handlers (a relay), if the adapter needs one. */
  deliver(app: Application): { stop(): Promise<void> };
  /** Resolves once every event written so far has been handled and nothing due is left undelivered. */
  settled(app: Application): Promise<void>;
}

const minute = 60_000;

function world(subject: ProcessesUnderTest) {
  const tag = uniqueName('p');
  const Placed = event(`contract.${tag}.placed`, unchecked<{ orderId: string }>());
  const Cooked = event(`contract.${tag}.cooked`, unchecked<{ orderId: string }>());
  const Topped = event(`contract.${tag}.topped`, unchecked<{ orderId: string; topping: string }>());
  const Late = event(`contract.${tag}.late`, unchecked<{ orderId: string }>());
  const Alert = command(`contract.${tag}.alert`, unchecked<{ orderId: string }>()).returns<void>();
  const AlertRaised = event(`contract.${tag}.alertRaised`, unchecked<{ orderId: string }>());
  class Alerts extends AggregateRoot<{ count: number }, InstanceType<typeof AlertRaised>> {
    constructor(id: string) {
      super(id, { count: 0 });
    }
    raiseOne(): void {
      this.raise(new AlertRaised({ orderId: this.id }));
    }
    protected override apply(state: { count: number }): { count: number } {
      return { count: state.count + 1 };
    }
  }
  const AlertsRepository = token<QueryableRepository<Alerts>>(`contract.${tag}.alerts`);
  const watch = processManager(`watch-${tag}`, {
    state: unchecked<{ alerted: boolean; toppings: string[] }>(),
    correlation: 'orderId',
    sends: [Alert],
  })
    .startedBy(Placed, (e, step) => {
      step.schedule(new Late({ orderId: e.orderId }), { after: 10 * minute }, 'late');
      return { alerted: false, toppings: [] };
    })
    .on(Cooked, (state, _e, step) => {
      step.complete();
      return state;
    })
    .on(Topped, (state, e) => ({ ...state, toppings: [...state.toppings, e.topping].sort() }))
    .on(Late, (state, e, step) => {
      step.send(new Alert({ orderId: e.orderId }));
      return { ...state, alerted: true };
    });

  const Count = query(`contract.${tag}.count`, unchecked<{ id: string }>()).returns<number>();

  const list = async (app: Application, status: 'running' | 'completed') => {
    const result = await app.mediator.execute(
      new ListProcesses({ process: `watch-${tag}`, status, pageSize: 200 }),
    );
    if (!result.ok) throw new Error(result.problem.detail);
    return result.data.items;
  };

  return {
    tag,
    Placed,
    Cooked,
    Topped,
    Late,
    clock: new TestClock(),
    build(clock: TestClock): Promise<Application> {
      return createApplication()
        .include(subject.persistence(clock))
        .register(subject.stateStored(AlertsRepository, Alerts, { collection: `alerts_${tag}` }))
        .include(watch.module)
        .handle(
          handler(Alert, { alerts: AlertsRepository }, async (c, { alerts }) => {
            const existing = await alerts.get(c.orderId);
            const one = existing ?? new Alerts(c.orderId);
            one.raiseOne();
            await (existing === undefined ? alerts.add(one) : alerts.update(one));
            return ok(undefined);
          }),
          handler(Count, { alerts: AlertsRepository }, async (q, { alerts }) =>
            ok((await alerts.get(q.id))?.state.count ?? 0),
          ),
        )
        .build();
    },
    /** How many alerts the process manager's commands raised for an order. */
    async alerts(app: Application, orderId: string): Promise<number> {
      const result = await app.mediator.execute(new Count({ id: orderId }));
      if (!result.ok) throw new Error(result.problem.detail);
      return result.data;
    },
    /** The order's instance, as `ListProcesses` shows it (running or completed). */
    async instance(app: Application, orderId: string): Promise<ProcessView | undefined> {
      const all = [...(await list(app, 'running')), ...(await list(app, 'completed'))];
      return all.find((i) => i.correlation === orderId);
    },
  };
}

/** Runs `body` with the world's application, its scheduler and its delivery started, and stops them after. */
async function running(
  subject: ProcessesUnderTest,
  body: (w: ReturnType<typeof world>, app: Application) => Promise<void>,
): Promise<void> {
  const w = world(subject);
  await using app = await w.build(w.clock);
  const scheduler = subject.scheduler(app, { onError: () => {} });
  await scheduler.start();
  const delivery = subject.deliver(app);
  try {
    await body(w, app);
  } finally {
    await delivery.stop();
    await scheduler.stop();
  }
}

/**
 * What process managers must do on every adapter: start an instance, fire its timeout by the clock and send its
 * command once; cancel the timeout when an event clears it; change nothing on a redelivery; and end in the same
 * state whichever of two concurrent events commits first.
 */
export function processContract(): ContractCase<ProcessesUnderTest>[] {
  return [
    {
      name: 'an event starts an instance; its timeout fires by the clock and the command it sends takes effect once',
      run: (subject) =>
        running(subject, async (w, app) => {
          await app.mediator.publish(new w.Placed({ orderId: 'o1' }));
          await subject.settled(app);
          const started = await w.instance(app, 'o1');
          expectEqual(
            [started?.status, started?.state, started?.timeouts],
            [
              'running',
              { alerted: false, toppings: [] },
              { late: new Date(w.clock.now().getTime() + 10 * minute).toISOString() },
            ],
            'the instance once started',
          );
          await w.clock.advance(10 * minute - 1);
          await subject.settled(app);
          expectEqual(await w.alerts(app, 'o1'), 0, 'the alerts a millisecond before the timeout');
          await w.clock.advance(1);
          await subject.settled(app);
          expectEqual(await w.alerts(app, 'o1'), 1, 'the alerts once it timed out');
          expectEqual((await w.instance(app, 'o1'))?.state, { alerted: true, toppings: [] }, 'the state');
          await w.clock.advance(60 * minute);
          await subject.settled(app);
          expectEqual(await w.alerts(app, 'o1'), 1, 'the alerts an hour later');
        }),
    },
    {
      name: 'an event that completes an instance cancels its timeout, and later events change nothing',
      run: (subject) =>
        running(subject, async (w, app) => {
          await app.mediator.publish(new w.Placed({ orderId: 'o2' }));
          await app.mediator.publish(new w.Cooked({ orderId: 'o2' }));
          await subject.settled(app);
          await w.clock.advance(10 * minute);
          await subject.settled(app);
          await app.mediator.publish(new w.Topped({ orderId: 'o2', topping: 'basil' }));
          await subject.settled(app);
          const ended = await w.instance(app, 'o2');
          expectEqual(
            [ended?.status, ended?.state, ended?.timeouts, ended?.version, await w.alerts(app, 'o2')],
            ['completed', { alerted: false, toppings: [] }, {}, 2, 0],
            'the completed instance (status, state, timeouts, steps) and the alerts',
          );
          // An event for no instance, and not a start, starts nothing.
          await app.mediator.publish(new w.Cooked({ orderId: 'o3' }));
          expectEqual(await w.instance(app, 'o3'), undefined, 'an instance never started');
        }),
    },
    {
      name: 'the same event delivered twice changes nothing the second time',
      run: (subject) =>
        running(subject, async (w, app) => {
          const placed = `placed-${w.tag}`;
          await app.mediator.publish(new w.Placed({ orderId: 'o4' }), { eventId: placed });
          await app.mediator.publish(new w.Placed({ orderId: 'o4' }), { eventId: placed });
          const topped = `topped-${w.tag}`;
          await app.mediator.publish(new w.Topped({ orderId: 'o4', topping: 'olive' }), { eventId: topped });
          await app.mediator.publish(new w.Topped({ orderId: 'o4', topping: 'olive' }), { eventId: topped });
          const late = `late-${w.tag}`;
          await app.mediator.publish(new w.Late({ orderId: 'o4' }), { eventId: late });
          await app.mediator.publish(new w.Late({ orderId: 'o4' }), { eventId: late });
          await subject.settled(app);
          const instance = await w.instance(app, 'o4');
          expectEqual(
            [instance?.state, instance?.version, await w.alerts(app, 'o4')],
            [{ alerted: true, toppings: ['olive'] }, 3, 1],
            'the state, the steps taken and the alerts',
          );
        }),
    },
    {
      name: 'two events for one instance at once: one commits, the other retries, and both count',
      run: (subject) =>
        running(subject, async (w, app) => {
          await app.mediator.publish(new w.Placed({ orderId: 'o5' }));
          await Promise.all([
            app.mediator.publish(new w.Topped({ orderId: 'o5', topping: 'basil' })),
            app.mediator.publish(new w.Topped({ orderId: 'o5', topping: 'anchovy' })),
          ]);
          await subject.settled(app);
          const instance = await w.instance(app, 'o5');
          expectEqual(
            [instance?.state, instance?.version],
            [{ alerted: false, toppings: ['anchovy', 'basil'] }, 3],
            'the state (the same in either order) and the steps taken',
          );
        }),
    },
  ];
}
