// Test support: a club's members, whose names are personal, and a query of a member's name that is cached for ten
// minutes: for a test that forgets a member in one process and asks another that cached the name. (The other
// process may have no master key: see readModelMemberApp.ts.)
import {
  type Application,
  command,
  createApplication,
  EventStore,
  event,
  handler,
  localMasterKey,
  ok,
  PersonalData,
  query,
  unchecked,
} from '@myelin/core';
import { newEvent } from '@myelin/core/testing';
import type { Database } from '../database/database.ts';
import { postgresPersistence } from '../postgresPersistence.ts';

export const Joined = event('cache.member.joined.v1', unchecked<{ memberId: string; name: string }>(), {
  personal: { subject: 'memberId', fields: ['name'] },
});
export const Join = command('cache.member.join', unchecked<{ id: string; name: string }>()).returns<void>();
export const Forget = command('cache.member.forget', unchecked<{ id: string }>()).returns<void>();
export const MemberName = query('cache.member.name', unchecked<{ id: string }>()).returns<string | null>();

/** The members' application on `database`, whose personal data `masterKey` (base64) protects. */
export function memberApp(database: Database, masterKey: string): Promise<Application> {
  return createApplication()
    .include(postgresPersistence(database, { personalData: { masterKey: localMasterKey(masterKey) } }))
    .handle(
      handler(Join, { events: EventStore }, async (c, { events }) => {
        await events.append(
          `member-${c.id}`,
          [newEvent(Joined.type, { memberId: c.id, name: c.name })],
          'no_stream',
        );
        return ok(undefined);
      }),
      handler(Forget, { personal: PersonalData }, async (c, { personal }) => {
        await personal.forget(c.id, { requestedBy: 'dpo' });
        return ok(undefined);
      }),
      handler(MemberName, { events: EventStore }, async (q, { events }) => {
        const [joined] = await events.readStream(`member-${q.id}`);
        return ok(joined === undefined ? null : (joined.data as { name: string }).name);
      }),
    )
    .cache(MemberName, { ttlMs: 600_000 })
    .build();
}
