import type { Application } from '../application/application.ts';
import { reportErrors } from '../behaviors/logging.ts';
import { comparePositions, positionParts } from '../log/logPosition.ts';
import { RegisteredProjections } from '../projections/projection.ts';
import type { InMemoryDatabase } from './inMemoryDatabase.ts';
import { type InMemoryProtection, protectionOf } from './inMemoryPersonalData.ts';
import type { ProjectionVersion } from './inMemoryReadModels.ts';
import { InMemoryDatabaseToken } from './inMemoryUnitOfWork.ts';

export interface InMemoryProjectionDaemonOptions {
  /** Events read per batch; defaults to 500. */
  readonly batchSize?: number;
  /** How long after a failed batch it tries again; defaults to 1000 ms. */
  readonly retryMs?: number;
  /**
   * Told of each failed batch (which lands nothing and is tried again); defaults to the application's `Logger`, or
   * the console when it registered none.
   */
  readonly onError?: (error: unknown, projection: string) => void;
}

/**
 * Runs the projections of an application on `inMemoryPersistence`, as the PostgreSQL daemon does: async ones
 * apply each batch with their checkpoint, all or nothing; a new version catches up from the start of the log
 * beside the one serving, then takes over and the old read model goes. Woken by commits, never polling.
 * @example await using daemon = new InMemoryProjectionDaemon(app).start(); await daemon.caughtUp();
 */
export class InMemoryProjectionDaemon {
  readonly #database: InMemoryDatabase;
  readonly #protection: InMemoryProtection;
  readonly #batchSize: number;
  readonly #retryMs: number;
  readonly #onError: (error: unknown, projection: string) => void;
  #stopping = new AbortController();
  #running: Promise<void> | undefined;

  constructor(app: Application, options: InMemoryProjectionDaemonOptions = {}) {
    app.container.root.resolve(RegisteredProjections); // registered at build: fails here if the module is missing
    this.#database = app.container.root.resolve(InMemoryDatabaseToken);
    this.#protection = protectionOf(app, this.#database);
    this.#batchSize = options.batchSize ?? 500;
    this.#retryMs = options.retryMs ?? 1000;
    this.#onError = options.onError ?? reportErrors(app, 'projection');
  }

  start(): this {
    if (this.#running === undefined) {
      this.#stopping = new AbortController();
      this.#running = this.#run(this.#stopping.signal);
    }
    return this;
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.#running;
    this.#running = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** Resolves when every projection version serves and has applied the whole log (for tests and startup). */
  async caughtUp(signal?: AbortSignal): Promise<void> {
    const database = this.#database;
    for (;;) {
      signal?.throwIfAborted();
      const seen = database.generation;
      const behind = database.readModels.running.some(
        (version) =>
          version.status !== 'active' ||
          (version.projection.mode === 'async' && comparePositions(version.checkpoint, database.head) < 0),
      );
      if (!behind) return;
      await database.waitForChange(seen, 60_000, signal);
    }
  }

  async #run(signal: AbortSignal): Promise<void> {
    const database = this.#database;
    while (!signal.aborted) {
      const seen = database.generation;
      let failed = false;
      for (const version of database.readModels.running) {
        if (version.projection.mode === 'inline' && version.status === 'active') continue;
        try {
          await database.exclusive(() => this.#batch(version));
        } catch (error) {
          failed = true;
          this.#onError(error, version.projection.name);
        }
      }
      if (failed) await pause(this.#retryMs, signal);
      else await database.waitForChange(seen, 60_000, signal);
    }
  }

  /** One batch of one version: its effects and checkpoint (and, once caught up, the switch) land together. */
  async #batch(version: ProjectionVersion): Promise<void> {
    const database = this.#database;
    if (version.status === 'retired') return;
    const start = Number(positionParts(version.checkpoint).sequence); // a position's sequence counts the log
    // Opened in the batch's turn: no erasure lands before the batch, so its hooks see what the batch wrote.
    const events = await this.#protection.reveal(database.log.slice(start, start + this.#batchSize));
    const staged = database.readModels.stage();
    await database.readModels.apply(version, events, staged);
    staged.apply();
    const end = events.at(-1)?.position;
    if (end !== undefined) version.checkpoint = end;
    const switching =
      version.status === 'building' &&
      start + events.length >= database.log.length &&
      !database.readModels.running.some(
        (other) =>
          other.projection.name === version.projection.name &&
          other.projection.version > version.projection.version,
      );
    if (switching) database.readModels.activate(version);
    if (end !== undefined || switching) database.changed();
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
