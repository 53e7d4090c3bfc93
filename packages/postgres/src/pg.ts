// @myelin/postgres/pg: Myelin on a PostgreSQL server, through the `pg` driver. Install `pg` beside it.
export {
  type PostgresDatabaseOptions,
  type PostgresTimeouts,
  postgresDatabase,
} from './database/postgresDatabase.ts';
