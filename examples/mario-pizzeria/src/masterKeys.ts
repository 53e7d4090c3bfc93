// The master keys of customers' personal data, and their rotation. Each customer's data key is wrapped by a master
// key and records its id; after a rotation the old key, given as a previous one, opens the data keys it wrapped
// until a rewrap has wrapped them again under the new key. The sealed events never change: a rewrap rewrites one
// small row per customer, while the pizzeria serves. README.md, "Rotating the master key", says how to run one.
import { type Logger, localMasterKey, type MasterKeyOptions, type RewrapReport } from '@myelin/core';
import { type Database, rewrapDataKeys } from '@myelin/postgres';
import { dataDirOf, type PizzeriaConfig } from './config.ts';
import { developmentMasterKey, keptKey } from './keptKeys.ts';

/**
 * The master keys the configuration gives: `MYELIN_MASTER_KEY` under its id, or in embedded development mode the key
 * made on the first start and kept beside the database (it goes with it: without it the data in the log cannot be
 * read), and the previous ones.
 */
export function masterKeysOf(config: PizzeriaConfig): MasterKeyOptions {
  const secret =
    config.masterKey === 'development' ? keptKey(dataDirOf(config), developmentMasterKey) : config.masterKey;
  return {
    masterKey: localMasterKey(secret, config.masterKeyId),
    previousMasterKeys: config.previousMasterKeys.map((key) => localMasterKey(key.secret, key.id)),
  };
}

/** What a rewrap found, said for an operator: how bad it is, and what to do. Counts and ids only, never a key. */
export interface RewrapOutcome {
  /** `done`: every data key is under the current master key; `again`: some are left; `missing`: some cannot open. */
  readonly verdict: 'done' | 'again' | 'missing';
  readonly message: string;
}

export function rewrapOutcome(keys: MasterKeyOptions, report: RewrapReport): RewrapOutcome {
  const current = `'${keys.masterKey.id}'`;
  const previous = (keys.previousMasterKeys ?? []).map((key) => `'${key.id}'`).join(', ');
  const rewrapped = `rewrapped ${dataKeys(report.rewrapped)} under master key ${current}`;
  if (report.unknown > 0) {
    const ids = report.unknownMasterKeys.map((id) => `'${id}'`).join(', ');
    return {
      verdict: 'missing',
      message: `${previous === '' ? '' : `${rewrapped}; `}${dataKeys(report.unknown)} ${report.unknown === 1 ? 'is' : 'are'} wrapped by master key ${ids}, which this process is not given: the personal data they protect cannot be read (a step of such an order fails) until MYELIN_PREVIOUS_MASTER_KEYS gives it as id:key`,
    };
  }
  if (report.left > 0) {
    return {
      verdict: 'again',
      message: `${rewrapped}; ${dataKeys(report.left)} ${report.left === 1 ? 'is' : 'are'} still under ${previous} (held by an erasure or another rewrap, or made since by a process still on the old key): rewrap again (npm run rewrap-keys, or restart the projector) until none is left`,
    };
  }
  // Nothing rewrapped and nothing left: there was nothing under the previous keys, as in the first step of a rolling
  // deploy (the new key given as a previous one while processes still make data keys with the old): no advice to
  // drop them, which there would undo that step.
  if (previous === '' || report.rewrapped === 0) {
    return {
      verdict: 'done',
      message: `every data key is under master key ${current}${previous === '' ? '' : `; none is under ${previous}`}`,
    };
  }
  return {
    verdict: 'done',
    message: `${rewrapped}; none is left under ${previous}: drop them from MYELIN_PREVIOUS_MASTER_KEYS, and keep them in your secret store as long as the backups taken before`,
  };
}

function dataKeys(count: number): string {
  return count === 1 ? '1 data key' : `${count} data keys`;
}

/** Why a rewrap failed, said for an operator. */
export function rewrapFailure(error: unknown): string {
  // WebCrypto's answer when a key does not open what it is given: here, a previous key under the wrong id.
  if (error instanceof Error && error.name === 'OperationError') {
    return 'a previous master key did not open a data key that records its id: check each entry of MYELIN_PREVIOUS_MASTER_KEYS (the key used before MYELIN_MASTER_KEY_ID was set has the id local)';
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * The rewrap a process with the workers runs at start, in the background: it serves meanwhile, reading with every key
 * it is given, and the rewrap is safe beside it and beside another process's (each data key is rewrapped once). It
 * also says, with no previous key given, whether data keys are wrapped by a key the process lacks, which costs one
 * query. It says so in the log, counts only; a failure is logged too, never fatal: nothing is lost while the
 * previous keys are given, and the next start or `npm run rewrap-keys` tries again. Stopping ends it after the batch
 * under way (each batch is a transaction of its own, so nothing is left half done) and waits for that: the rest is
 * left for the next start.
 */
export function rewrapAtStart(
  database: Database,
  keys: MasterKeyOptions,
  logger: Logger,
): { readonly finished: Promise<void>; stop(): Promise<void> } {
  const stopping = new AbortController();
  const running = rewrapDataKeys(database, { ...keys, signal: stopping.signal }).then(
    (report) => {
      const outcome = rewrapOutcome(keys, report);
      const fields = { ...report, masterKey: keys.masterKey.id };
      if (outcome.verdict === 'missing') logger.error(fields, outcome.message);
      else if (outcome.verdict === 'again') logger.warn(fields, outcome.message);
      // A start with no previous key and nothing amiss is every start: nothing to say.
      else if ((keys.previousMasterKeys ?? []).length > 0) logger.info(fields, outcome.message);
    },
    (error: unknown) => {
      logger.error(
        { err: error, masterKey: keys.masterKey.id },
        `the rewrap of the data keys failed, the process goes on with the keys it is given: ${rewrapFailure(error)}`,
      );
    },
  );
  return {
    /** Once it has run to its end (said in the log), or stopped. */
    finished: running,
    stop: () => {
      stopping.abort();
      return running;
    },
  };
}
