// `npm run rewrap-keys`: after a rotation of the master key, wraps every data key still under a previous master key
// under the current one, once, prints what it did, and says by its exit code whether the previous keys can go: 0
// when every data key is under the current key, 1 when some are left or cannot be opened (the line says which), 2
// when the configuration cannot work, 3 when the rewrap failed (the database refused it, or did not answer within
// REWRAP_WAIT_SECONDS, 60 by default, plus the attempt under way then: up to 5 s to connect, or 20 s to a server
// that connects and then does not answer, the statement's timeout and the client's grace; a previous key did not
// open a data key): a deploy script tells "run again" from "look at this". It reads the same environment as the
// pizzeria's processes; a projector does the same at each start, so this is for a deploy script that must know
// when the rotation is done.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DirectoryLockedError, rewrapDataKeys } from '@myelin/postgres';
import { ConfigError, readConfig } from './config.ts';
import { masterKeysOf, rewrapFailure, rewrapOutcome } from './masterKeys.ts';
import { GaveUpWaitingError, openDatabase } from './startup.ts';

try {
  const dataDir = fileURLToPath(new URL('../.data', import.meta.url));
  // It serves nothing: where the API would listen (HOST, and whether the development logins may be open there)
  // is not its concern, so a shell's HOST (tcsh sets it to the machine's name) does not stop it.
  const { HOST: _host, ...env } = process.env;
  const config = readConfig([], env, dataDir);
  // Opening the embedded database, or the development key, where there is none would make them: nothing to rewrap.
  if (config.database.engine === 'pglite' && !existsSync(config.database.dataDir)) {
    throw new ConfigError(`there is no embedded database in ${config.database.dataDir} (DATA_DIR)`);
  }
  const keys = masterKeysOf(config);
  const waitSeconds = waitSecondsOf(process.env.REWRAP_WAIT_SECONDS);
  // A server that is down is waited for, as the processes do, but not for ever: a deploy script must hear back.
  const gaveUp = AbortSignal.timeout(waitSeconds * 1000);
  const database = await openDatabase(config.database, gaveUp).catch((error: unknown) => {
    // Only a server that kept failing to answer is "did not answer": a refused password stays what it is.
    if (!(error instanceof GaveUpWaitingError)) throw error;
    const reason = error.cause instanceof Error ? error.cause.message : String(error.cause);
    throw new Error(`PostgreSQL did not answer within ${waitSeconds} s (REWRAP_WAIT_SECONDS): ${reason}`, {
      cause: error,
    });
  });
  try {
    const report = await rewrapDataKeys(database, keys);
    const outcome = rewrapOutcome(keys, report);
    console.log(outcome.message);
    console.log(JSON.stringify(report));
    process.exitCode = outcome.verdict === 'done' ? 0 : 1;
  } catch (error) {
    console.error(`The rewrap failed: ${rewrapFailure(error)}`);
    process.exitCode = 3;
  } finally {
    await database.close();
  }
} catch (error) {
  if (error instanceof ConfigError || error instanceof DirectoryLockedError) {
    // The embedded database is its process's own: that process rewrapped at its start already.
    console.error(`The rewrap cannot run: ${error.message}`);
    process.exitCode = 2;
  } else {
    console.error(`The rewrap failed: ${rewrapFailure(error)}`);
    process.exitCode = 3;
  }
}

/** How long to wait for a server that is down: `REWRAP_WAIT_SECONDS`, 60 by default. */
function waitSecondsOf(text: string | undefined): number {
  if (text === undefined || text === '') return 60;
  const seconds = Number(text);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 3600) {
    throw new ConfigError(
      `REWRAP_WAIT_SECONDS must be a whole number of seconds from 1 to 3600, not '${text}'`,
    );
  }
  return seconds;
}
