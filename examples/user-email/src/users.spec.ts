// The seed's first document as a test: the command model updates the write store and publishes UserEmailUpdated,
// an event handler updates a separate read store, and the query model reads it.
import { expectFailure, expectSuccess, testApplication } from '@myelin/core/testing';
import { describe, expect, it } from 'vitest';
import {
  GetUserInfo,
  type ReadStore,
  RegisterUser,
  UpdateUserEmail,
  UserEmailUpdated,
  usersModule,
} from './users.ts';

describe('user email, the CQRS way', () => {
  it('writes the user, publishes UserEmailUpdated, updates the read store, and the query reads it', async () => {
    const readStore: ReadStore = new Map();
    await using t = await testApplication((app) => app.include(usersModule(readStore)));
    expectSuccess(
      await t.execute(new RegisterUser({ userId: 'u1', name: 'Mario', email: 'mario@old.example' })),
    );

    const updated = await t.execute(new UpdateUserEmail({ userId: 'u1', email: 'mario@new.example' }));
    expect(expectSuccess(updated)).toEqual({ userId: 'u1', email: 'mario@new.example' });

    // The write store holds the new state...
    expect(t.database.document('User', 'u1')).toEqual({
      state: { name: 'Mario', email: 'mario@new.example' },
      version: 2,
    });
    // ...the event was published...
    expect(await t.eventsOf(UserEmailUpdated)).toEqual([{ userId: 'u1', email: 'mario@new.example' }]);
    // ...the separate read store was updated by its handler...
    expect(readStore.get('u1')).toEqual({ userId: 'u1', name: 'Mario', email: 'mario@new.example' });
    // ...and the query model reads it.
    expect(expectSuccess(await t.execute(new GetUserInfo({ userId: 'u1' })))).toEqual({
      userId: 'u1',
      name: 'Mario',
      email: 'mario@new.example',
    });
  });

  it('rejects an invalid email naming the field, and changes nothing', async () => {
    const readStore: ReadStore = new Map();
    await using t = await testApplication((app) => app.include(usersModule(readStore)));
    await t.execute(new RegisterUser({ userId: 'u1', name: 'Mario', email: 'mario@old.example' }));
    const problem = expectFailure(await t.execute(new UpdateUserEmail({ userId: 'u1', email: 'nope' })), 400);
    expect(problem.errors?.map((e) => e.field)).toEqual(['email']);
    expect(readStore.get('u1')?.email).toBe('mario@old.example');
  });

  it('answers 404 for a user that does not exist', async () => {
    await using t = await testApplication((app) => app.include(usersModule()));
    const problem = expectFailure(await t.execute(new GetUserInfo({ userId: 'ghost' })), 404);
    expect(problem.detail).toBe("Failed to find an entity of type 'User' with the specified id 'ghost'");
  });
});
