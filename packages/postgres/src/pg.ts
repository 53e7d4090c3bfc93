/**
 * Myelin on a PostgreSQL server, through the `pg` driver. Install `pg` beside it.
 * @module @myelin/postgres/pg
 */
export {
  type PostgresDatabaseOptions,
  type PostgresTimeouts,
  postgresDatabase,
} from './database/postgresDatabase.ts';
