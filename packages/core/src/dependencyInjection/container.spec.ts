import { describe, expect, it } from 'vitest';
import { ApplicationBuildError, createApplication } from '../application/application.ts';
import { handler } from '../mediation/handler.ts';
import { query } from '../messages/message.ts';
import { ok } from '../results/operationResult.ts';
import { token } from './token.ts';

interface Counter {
  readonly id: number;
}

const Probe = query('Probe').returns<number[]>();
const Describe = query('Describe').returns<string>();

describe('dependency injection', () => {
  it('makes one singleton, one scoped instance per execution, and a transient per resolution', async () => {
    let made = 0;
    const Single = token<Counter>('Single');
    const PerScope = token<Counter>('PerScope');
    const Each = token<Counter>('Each');
    const app = await createApplication()
      .singleton(Single, () => ({ id: ++made }))
      .scoped(PerScope, () => ({ id: ++made }))
      .transient(Each, () => ({ id: ++made }))
      .handle(
        handler(
          Probe,
          { single: Single, scoped: PerScope, scopedAgain: PerScope, each: Each, eachAgain: Each },
          (_q, deps) =>
            ok([deps.single.id, deps.scoped.id, deps.scopedAgain.id, deps.each.id, deps.eachAgain.id]),
        ),
      )
      .build();
    const first = await app.mediator.execute(new Probe({}));
    const second = await app.mediator.execute(new Probe({}));
    expect(first).toMatchObject({ data: [1, 2, 2, 3, 4] });
    expect(second).toMatchObject({ data: [1, 5, 5, 6, 7] });
  });

  it('passes resolved dependencies to factories, async singletons included', async () => {
    const Config = token<{ url: string }>('Config');
    const Pool = token<{ url: string; open: boolean }>('Pool');
    const Client = token<{ describe(): string }>('Client');
    const app = await createApplication()
      .singleton(Config, async () => ({ url: 'postgres://db' }))
      .singleton(Pool, { config: Config }, async ({ config }) => ({ url: config.url, open: true }))
      .scoped(Client, { pool: Pool }, ({ pool }) => ({ describe: () => `client of ${pool.url}` }))
      .handle(handler(Describe, { client: Client }, (_q, { client }) => ok(client.describe())))
      .build();
    expect(await app.mediator.execute(new Describe({}))).toMatchObject({ data: 'client of postgres://db' });
  });

  it('disposes scoped and transient services when the execution ends, newest first, singletons with the app', async () => {
    const log: string[] = [];
    const disposable = (name: string) => ({ name, [Symbol.asyncDispose]: async () => void log.push(name) });
    const Db = token<{ name: string }>('Db');
    const Tx = token<{ name: string }>('Tx');
    const Temp = token<{ name: string }>('Temp');
    const Sync = token<{ name: string }>('Sync');
    const app = await createApplication()
      .singleton(Db, () => disposable('db'))
      .scoped(Tx, { db: Db }, () => disposable('tx'))
      .transient(Temp, { tx: Tx }, () => disposable('temp'))
      .scoped(Sync, () => ({ name: 'sync', [Symbol.dispose]: () => void log.push('sync') }))
      .handle(handler(Probe, { temp: Temp, sync: Sync }, () => ok([])))
      .build();
    await app.mediator.execute(new Probe({}));
    expect(log).toEqual(['sync', 'temp', 'tx']);
    await app.dispose();
    expect(log).toEqual(['sync', 'temp', 'tx', 'db']);
  });

  it('uses a custom dispose function when one is given', async () => {
    const closed: string[] = [];
    const Conn = token<{ close(): void }>('Conn');
    const app = await createApplication()
      .scoped(Conn, () => ({ close: () => void closed.push('closed') }), { dispose: (c) => c.close() })
      .handle(handler(Probe, { conn: Conn }, () => ok([])))
      .build();
    await app.mediator.execute(new Probe({}));
    expect(closed).toEqual(['closed']);
  });

  it('reports a missing registration when the application is built', async () => {
    const Missing = token<string>('Missing');
    const Needy = token<string>('Needy');
    const error = await createApplication()
      .singleton(Needy, { missing: Missing }, ({ missing }) => missing)
      .handle(handler(Probe, { missing: Missing }, () => ok([])))
      .build()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApplicationBuildError);
    expect((error as ApplicationBuildError).problems).toEqual([
      "Needy depends on Missing (as 'missing'), which is not registered",
      "The handler of Probe depends on Missing (as 'missing'), which is not registered",
    ]);
  });

  it('reports a dependency cycle when the application is built', async () => {
    const A = token<string>('A');
    const B = token<string>('B');
    const C = token<string>('C');
    await expect(
      createApplication()
        .scoped(A, { b: B }, () => 'a')
        .scoped(B, { c: C }, () => 'b')
        .scoped(C, { a: A }, () => 'c')
        .build(),
    ).rejects.toThrow('Dependency cycle: A -> B -> C -> A');
  });

  it('reports a scoped service captured by a singleton, also through a transient', async () => {
    const Scoped = token<string>('Scoped');
    const Middle = token<string>('Middle');
    const Single = token<string>('Single');
    await expect(
      createApplication()
        .scoped(Scoped, () => 's')
        .transient(Middle, { s: Scoped }, () => 'm')
        .singleton(Single, { m: Middle }, () => 'x')
        .build(),
    ).rejects.toThrow('Singleton Single captures scoped Scoped (Single -> Middle -> Scoped)');
  });

  it('reports a token registered twice, and lets replace() override a registration', async () => {
    const Clock = token<() => number>('Clock');
    await expect(
      createApplication()
        .singleton(Clock, () => () => 1)
        .singleton(Clock, () => () => 2)
        .build(),
    ).rejects.toThrow('Clock is registered twice');
    const app = await createApplication()
      .singleton(Clock, () => () => 1)
      .replace({ token: Clock, lifetime: 'singleton', dependencies: {}, factory: () => () => 2 })
      .handle(handler(Probe, { clock: Clock }, (_q, { clock }) => ok([clock()])))
      .build();
    expect(await app.mediator.execute(new Probe({}))).toMatchObject({ data: [2] });
  });

  it('refuses an async factory for a scoped service at resolution, naming it', async () => {
    const Slow = token<string>('Slow');
    const app = await createApplication()
      .scoped(Slow, (async () => 'late') as never)
      .handle(handler(Probe, { slow: Slow }, () => ok([])))
      .build();
    await expect(app.mediator.execute(new Probe({}))).rejects.toThrow(
      'Slow is scoped: its factory must not be async',
    );
  });

  it('disposes the singletons already made when a later singleton factory fails during build', async () => {
    const log: string[] = [];
    const First = token<object>('First');
    const Second = token<object>('Second');
    await expect(
      createApplication()
        .singleton(First, () => ({ [Symbol.asyncDispose]: async () => void log.push('first disposed') }))
        .singleton(Second, { first: First }, () => {
          throw new Error('cannot connect');
        })
        .build(),
    ).rejects.toThrow('cannot connect');
    expect(log).toEqual(['first disposed']);
  });
});
