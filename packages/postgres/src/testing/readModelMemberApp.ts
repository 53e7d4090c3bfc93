// Test support: the members' application of a process without the master key, as an API process that only reads
// read models may be: its cached query answers a member's name from `member_names`, which a projection would keep
// in clear. This module declares no event with personal data (memberApp.ts does), so that a process importing it
// alone has none declared.
import { type Application, createApplication, handler, ok, query, unchecked } from '@myelin/core';
import type { Database } from '../database/database.ts';
import { type PostgresPersistenceOptions, postgresPersistence } from '../postgresPersistence.ts';

export const MemberNameInReadModel = query(
  'cache.member.name.read-model',
  unchecked<{ id: string }>(),
).returns<string | null>();

export function readModelMemberApp(
  database: Database,
  options: Pick<PostgresPersistenceOptions, 'hearErasures'> = {},
): Promise<Application> {
  return createApplication()
    .include(postgresPersistence(database, options))
    .handle(
      handler(MemberNameInReadModel, {}, async (q) => {
        const { rows } = await database.query<{ name: string }>(
          `SELECT name FROM ${database.schema}.member_names WHERE id = $1`,
          [q.id],
        );
        return ok(rows[0]?.name ?? null);
      }),
    )
    .cache(MemberNameInReadModel, { ttlMs: 600_000 })
    .build();
}
