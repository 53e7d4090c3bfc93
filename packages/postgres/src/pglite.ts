/**
 * Myelin on PGlite, PostgreSQL in this process (in memory, or a data directory). Install
 * `@electric-sql/pglite` beside it.
 * @module @myelin/postgres/pglite
 */
export {
  type PgliteDatabaseOptions,
  type PgliteInstance,
  pgliteDatabase,
} from './database/pgliteDatabase.ts';
