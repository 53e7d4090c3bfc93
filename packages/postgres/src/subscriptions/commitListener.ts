import type { Connection, Database } from '../database/database.ts';
import { logSignal, progressSignal } from './logSignal.ts';

interface Listener {
  users: number;
  connection: Promise<Connection> | undefined;
}

const listeners = new WeakMap<Database, Listener>();

/**
 * Makes this process hear the commits of other processes (PostgreSQL's NOTIFY), and their subscriptions' progress,
 * while the returned function has not
 * been called, so that a reader waiting on the log signal wakes at once rather than at its next poll. Subscription
 * runners hear them through their leases' connection; a process without any (an API process, whose live views tail
 * the log) needs this one. The connection is shared by every user and closed when the last one leaves. On PGlite
 * there is no other process: nothing to do.
 */
export async function listenForCommits(database: Database): Promise<() => Promise<void>> {
  if (database.engine !== 'postgres') return async () => {};
  let listener = listeners.get(database);
  if (listener === undefined) {
    listener = { users: 0, connection: undefined };
    listeners.set(database, listener);
  }
  const shared = listener;
  shared.users++;
  if (shared.connection === undefined) {
    const signal = logSignal(database);
    const progress = progressSignal(database);
    const opening = database.connect().then(async (connection) => {
      await connection.listen(signal.channel, () => signal.wake());
      await connection.listen(progress.channel, () => progress.wake());
      // Lost: the next user opens another; until then readers poll, as they would without one.
      void connection.ended.then(() => {
        if (shared.connection === opening) shared.connection = undefined;
      });
      return connection;
    });
    shared.connection = opening;
    opening.catch(() => {
      if (shared.connection === opening) shared.connection = undefined;
    });
  }
  // A reader can go on without it (polling), so a failure to listen is not its failure.
  await shared.connection?.catch(() => undefined);
  let left = false;
  return async () => {
    if (left) return;
    left = true;
    shared.users--;
    if (shared.users > 0) return;
    const connection = shared.connection;
    shared.connection = undefined;
    await (await connection?.catch(() => undefined))?.release();
  };
}
