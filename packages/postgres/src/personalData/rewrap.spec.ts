import {
  command,
  createApplication,
  erased,
  event,
  handler,
  localMasterKey,
  type MasterKey,
  newMasterKey,
  ok,
  PersonalData,
  unchecked,
} from '@myelin/core';
import { newEvent } from '@myelin/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PostgresEventStore } from '../eventStore/postgresEventStore.ts';
import { postgresPersistence } from '../postgresPersistence.ts';
import { engines, type TestDatabase } from '../testing/databases.ts';
import { eventually } from '../testing/eventually.ts';
import { MissingMasterKeyError, type PersonalDataOptions } from './protection.ts';
import { rewrapDataKeys } from './rewrap.ts';

const Joined = event('rotation.member.joined.v1', unchecked<{ memberId: string; name: string }>(), {
  personal: { subject: 'memberId', fields: ['name'] },
});
const Forget = command('rotation.member.forget', unchecked<{ id: string }>()).returns<void>();

const k0 = localMasterKey(newMasterKey(), 'k0');
const k1 = localMasterKey(newMasterKey(), 'k1');
const k2 = localMasterKey(newMasterKey(), 'k2');
/** After the rotation from k1 to k2 is deployed, before the rewrap. */
const rotating = { masterKey: k2, previousMasterKeys: [k1] };

/** A member's name: what they are known by, and what their events seal. */
const nameOf = (id: string) => `Member ${id}`;

/** `key` held at its first unwrap until `release` is called: a rewrap is then in a batch, its keys locked. */
function heldAtUnwrap(key: MasterKey) {
  const unwrapping = Promise.withResolvers<void>();
  const release = Promise.withResolvers<void>();
  const held: MasterKey = {
    ...key,
    async unwrap(wrapped) {
      unwrapping.resolve();
      await release.promise;
      return key.unwrap(wrapped);
    },
  };
  return { held, unwrapping: unwrapping.promise, release: () => release.resolve() };
}

describe.each(engines)('rotating the master key on $name', (engine) => {
  let test: TestDatabase;
  beforeEach(async () => {
    test = await engine.open();
  });
  afterEach(() => test.drop());

  const store = (keys: PersonalDataOptions) => new PostgresEventStore(test.database, { personalData: keys });
  /** Members who join through an application with these master keys. */
  async function join(keys: PersonalDataOptions, ...ids: string[]): Promise<void> {
    for (const id of ids) {
      await store(keys).append(`member-${id}`, [newEvent(Joined.type, { memberId: id, name: nameOf(id) })]);
    }
  }
  /** The members' names, as an application with these master keys reads the log. */
  const names = async (keys: PersonalDataOptions) =>
    (await store(keys).readAll()).map((e) => (e.data as { name: string }).name);
  /** Forgets a member through an application with these master keys. */
  async function forget(keys: PersonalDataOptions, id: string): Promise<void> {
    await using app = await createApplication()
      .include(postgresPersistence(test.database, { personalData: keys, migrate: false }))
      .handle(
        handler(Forget, { personal: PersonalData }, async (c, { personal }) => {
          await personal.forget(c.id, { requestedBy: 'dpo' });
          return ok(undefined);
        }),
      )
      .build();
    expect((await app.mediator.execute(new Forget({ id }))).ok).toBe(true);
  }
  /** Each subject's data key row: by which master key it is wrapped, and how. */
  const keyRows = async () =>
    (
      await test.database.query<{ subject: string; master_key: string; wrapped: string }>(
        `SELECT subject, master_key, wrapped FROM ${test.database.schema}.personal_keys ORDER BY subject`,
      )
    ).rows;
  /** The events' rows as text, and the transaction that wrote each version of them. */
  const eventRows = async () =>
    (
      await test.database.query(
        `SELECT e::text AS row, e.xmin::text AS written_by FROM ${test.database.schema}.events AS e
         ORDER BY e.sequence`,
      )
    ).rows;

  it('reads what the old master key protects with the new one current, which wraps the keys of new subjects', async () => {
    await join({ masterKey: k1 }, 'ada');
    await join(rotating, 'bob');
    expect(await names(rotating)).toEqual([nameOf('ada'), nameOf('bob')]);
    expect((await keyRows()).map((row) => [row.subject, row.master_key])).toEqual([
      ['ada', 'k1'],
      ['bob', 'k2'],
    ]);
  });

  it('rewraps every data key under the new master key, the events as they were, and then reads with it alone', async () => {
    await join({ masterKey: k1 }, 'ada', 'bob', 'cy');
    await forget({ masterKey: k1 }, 'cy');
    const events = await eventRows();

    expect(await rewrapDataKeys(test.database, { ...rotating, batchSize: 1 })).toEqual({
      rewrapped: 2,
      left: 0,
      unknown: 0,
      unknownMasterKeys: [],
    });
    expect((await keyRows()).map((row) => [row.subject, row.master_key])).toEqual([
      ['ada', 'k2'],
      ['bob', 'k2'],
    ]);
    expect(await names({ masterKey: k2 })).toEqual([nameOf('ada'), nameOf('bob'), erased]);
    // Not one event was written again: only the data keys changed.
    expect(await eventRows()).toEqual(events);
    expect(await rewrapDataKeys(test.database, rotating)).toMatchObject({ rewrapped: 0, left: 0 });
  });

  it('fails to read a data key wrapped by a master key not configured, naming it and those configured', async () => {
    await join({ masterKey: k1 }, 'ada');
    await expect(names({ masterKey: k2 })).rejects.toThrow(
      "is wrapped by master key 'k1', which is not among those configured ('k2' (current)): give it in previousMasterKeys until its data keys are rewrapped",
    );
  });

  it('refuses to start an application whose master keys cannot open every data key, naming the missing ones', async () => {
    const build = (keys?: PersonalDataOptions) =>
      createApplication()
        .include(postgresPersistence(test.database, { migrate: false, ...(keys && { personalData: keys }) }))
        .build();
    // No data key yet: any master key starts.
    await (await build({ masterKey: k2 })).dispose();
    await join({ masterKey: k0 }, 'ada');
    await join({ masterKey: k1, previousMasterKeys: [k0] }, 'bob', 'cy');

    const refused = await build({ masterKey: k2 }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(MissingMasterKeyError);
    expect((refused as MissingMasterKeyError).missing).toEqual([
      { masterKey: 'k0', keys: 1 },
      { masterKey: 'k1', keys: 2 },
    ]);
    expect((refused as Error).message).toBe(
      "Data keys are wrapped by master keys 'k0' (1 data key), 'k1' (2 data keys), which this process is not given (it has 'k2'): the personal data they protect could not be read. Give them in previousMasterKeys, then rewrap (rewrapDataKeys) before dropping them",
    );
    await expect(build({ masterKey: k2, previousMasterKeys: [k1] })).rejects.toThrow(
      "wrapped by master key 'k0' (1 data key), which this process is not given (it has 'k2', 'k1')",
    );
    // Given every one, it starts and reads; once rewrapped, the current key alone is enough.
    await (await build({ masterKey: k2, previousMasterKeys: [k1, k0] })).dispose();
    expect(
      await rewrapDataKeys(test.database, { masterKey: k2, previousMasterKeys: [k1, k0] }),
    ).toMatchObject({
      rewrapped: 3,
      unknown: 0,
    });
    await (await build({ masterKey: k2 })).dispose();
    // A process given no master key opens nothing, and is not asked.
    await (await build()).dispose();
  });

  it('leaves a data key wrapped by a master key not given as it is, and reports it', async () => {
    await join({ masterKey: k0 }, 'ada');
    await join({ masterKey: k1, previousMasterKeys: [k0] }, 'bob');
    const [ada] = await keyRows();

    expect(await rewrapDataKeys(test.database, rotating)).toEqual({
      rewrapped: 1,
      left: 0,
      unknown: 1,
      unknownMasterKeys: ['k0'],
    });
    expect(await keyRows()).toEqual([ada, expect.objectContaining({ subject: 'bob', master_key: 'k2' })]);
    expect(await names({ masterKey: k2, previousMasterKeys: [k0] })).toEqual([nameOf('ada'), nameOf('bob')]);
  });

  it('leaves forgotten a subject forgotten while a rewrap holds their key', async () => {
    await join({ masterKey: k1 }, 'ada', 'bob');
    const old = heldAtUnwrap(k1);
    const rewrap = rewrapDataKeys(test.database, { masterKey: k2, previousMasterKeys: [old.held] });
    await old.unwrapping;
    const forgetting = forget(rotating, 'ada');
    if (engine.name === 'postgres') {
      // The erasure's DELETE waits for the batch's lock (PGlite's one session runs it after the batch's commit).
      await eventually(async () => {
        const { rows } = await test.database.query(
          `SELECT FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`,
          [`DELETE FROM ${test.database.schema}.personal_keys%`],
        );
        return rows.length === 1;
      }, 'the erasure waiting for the rewrap');
    }
    old.release();
    expect(await rewrap).toMatchObject({ rewrapped: 2, left: 0 });
    await forgetting;
    expect((await keyRows()).map((row) => [row.subject, row.master_key])).toEqual([['bob', 'k2']]);
    expect(await names({ masterKey: k2 })).toEqual([erased, nameOf('bob')]);
  });

  it('rewraps each data key once when runs overlap', async () => {
    await join({ masterKey: k1 }, 'ada', 'bob', 'cy');
    const old = heldAtUnwrap(k1);
    const first = rewrapDataKeys(test.database, { masterKey: k2, previousMasterKeys: [old.held] });
    await old.unwrapping;
    const second = rewrapDataKeys(test.database, rotating);
    if (engine.name === 'postgres') {
      // The first run's batch holds the three keys: the second passes over them, and says they are left.
      expect(await second).toEqual({ rewrapped: 0, left: 3, unknown: 0, unknownMasterKeys: [] });
    }
    old.release();
    expect(await first).toMatchObject({ rewrapped: 3, left: 0 });
    // On PGlite the second run waited for the first's transaction, and found nothing left to rewrap.
    expect(await second).toMatchObject({ rewrapped: 0 });
    expect(await names({ masterKey: k2 })).toEqual([nameOf('ada'), nameOf('bob'), nameOf('cy')]);
  });

  it('ends after the batch under way when aborted, and counts the rest as left for the next run', async () => {
    await join({ masterKey: k1 }, 'a', 'b', 'c');
    const old = heldAtUnwrap(k1);
    const stopping = new AbortController();
    const run = rewrapDataKeys(test.database, {
      masterKey: k2,
      previousMasterKeys: [old.held],
      batchSize: 1,
      signal: stopping.signal,
    });
    await old.unwrapping; // the first batch is under way
    stopping.abort();
    old.release();
    expect(await run).toEqual({ rewrapped: 1, left: 2, unknown: 0, unknownMasterKeys: [] });
    expect(await rewrapDataKeys(test.database, rotating)).toEqual({
      rewrapped: 2,
      left: 0,
      unknown: 0,
      unknownMasterKeys: [],
    });
    expect(await names({ masterKey: k2 })).toEqual(['a', 'b', 'c'].map(nameOf));
  });

  it('refuses two master keys of one id, at build and to rewrap', async () => {
    const twice = "Two master keys are named 'local': each needs an id of its own";
    const [one, other] = [localMasterKey(newMasterKey()), localMasterKey(newMasterKey())];
    await expect(
      createApplication()
        .include(
          postgresPersistence(test.database, {
            personalData: { masterKey: one, previousMasterKeys: [other] },
            migrate: false,
          }),
        )
        .build(),
    ).rejects.toThrow(twice);
    await expect(
      rewrapDataKeys(test.database, { masterKey: one, previousMasterKeys: [other] }),
    ).rejects.toThrow(twice);
    await expect(rewrapDataKeys(test.database, { ...rotating, batchSize: 0 })).rejects.toThrow(
      "A rewrap's batchSize is a positive integer, not 0",
    );
  });
});
