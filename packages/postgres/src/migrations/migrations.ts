/** One step of the schema. Migrations are applied in version order, each once, and never edited after release. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  /** The SQL of the step, for the schema given as a quoted identifier. */
  sql(schema: string): string;
}

/**
 * Myelin's schema. Written once for both engines: PGlite is PostgreSQL, so the same statements run on each.
 *
 * - `streams` holds each stream's version: the row every append to a stream updates, so concurrent appends to one
 *   stream serialize on it and the expected-version check is a plain comparison.
 * - `events` is the global log and the outbox. `transaction_id` is the writer's transaction; readers order the log
 *   by (transaction_id, sequence) and stop below the oldest transaction still running, so an event that commits
 *   late is never passed over (see eventStore/postgresEventStore.ts).
 * - `documents` holds state-stored aggregates; `snapshots` the snapshots of event-sourced ones.
 */
export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'event store, documents and snapshots',
    sql: (s) => `
      CREATE TABLE ${s}.streams (
        stream_id text PRIMARY KEY,
        version integer NOT NULL CHECK (version >= 0),
        removed boolean NOT NULL DEFAULT false
      );

      CREATE TABLE ${s}.events (
        sequence bigint GENERATED ALWAYS AS IDENTITY,
        transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
        event_id text NOT NULL UNIQUE,
        stream_id text NOT NULL,
        stream_version integer NOT NULL CHECK (stream_version > 0),
        type text NOT NULL,
        type_version integer NOT NULL,
        data jsonb NOT NULL,
        occurred_at timestamptz NOT NULL,
        correlation_id text NOT NULL,
        causation_id text,
        principal text,
        -- The log's order is its key: one index serves readers, where a key on sequence would be a fourth to write.
        PRIMARY KEY (transaction_id, sequence),
        UNIQUE (stream_id, stream_version)
      );

      CREATE TABLE ${s}.documents (
        collection text NOT NULL,
        id text NOT NULL,
        version integer NOT NULL,
        state jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (collection, id)
      );

      CREATE TABLE ${s}.snapshots (
        stream_id text PRIMARY KEY,
        version integer NOT NULL,
        schema_version integer NOT NULL,
        state jsonb NOT NULL,
        taken_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 2,
    name: 'subscriptions, inbox and held events',
    sql: (s) => `
      -- A reader of the log (an event handler's relay, a projection): how far it has read, and the lease epoch of
      -- the runner that may move it (a runner that lost its lease finds its epoch changed and stops).
      CREATE TABLE ${s}.subscriptions (
        name text PRIMARY KEY,
        transaction_id xid8 NOT NULL DEFAULT '0',
        sequence bigint NOT NULL DEFAULT 0,
        epoch bigint NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL DEFAULT now()
      );

      -- The ids of the events an idempotent handler has handled, written in the handler's own transaction.
      CREATE TABLE ${s}.inbox (
        consumer text NOT NULL,
        event_id text NOT NULL,
        handled_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (consumer, event_id)
      );

      -- Events a subscription could not deliver yet: retrying (with backoff), parked (the dead letters: too many
      -- attempts), or waiting behind one of those in the same stream, so that a stream's order holds.
      CREATE TABLE ${s}.held_events (
        subscription text NOT NULL,
        transaction_id xid8 NOT NULL,
        sequence bigint NOT NULL,
        event_id text NOT NULL,
        stream_id text NOT NULL,
        status text NOT NULL CHECK (status IN ('retrying', 'parked', 'waiting')),
        attempts integer NOT NULL DEFAULT 0,
        error text,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (subscription, transaction_id, sequence)
      );
      CREATE INDEX held_events_stream ON ${s}.held_events (subscription, stream_id, transaction_id, sequence);
    `,
  },
  {
    version: 3,
    name: 'projections and document read models',
    sql: (s) => `
      -- Each version of each projection: building (catching up beside the one serving), active (serving), or
      -- retired (replaced; its read model is dropped). The event types it handles, for its lag.
      CREATE TABLE ${s}.projections (
        name text NOT NULL,
        version integer NOT NULL,
        mode text NOT NULL CHECK (mode IN ('inline', 'async')),
        status text NOT NULL CHECK (status IN ('building', 'active', 'retired')),
        types jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        activated_at timestamptz,
        retired_at timestamptz,
        PRIMARY KEY (name, version)
      );

      -- The transactions that applied an inline projection version themselves, so that its runner applies only
      -- the others' events (direct appends, processes running other code); pruned behind its checkpoint.
      CREATE TABLE ${s}.inline_marks (
        projection text NOT NULL,
        version integer NOT NULL,
        transaction_id xid8 NOT NULL,
        PRIMARY KEY (projection, version, transaction_id)
      );

      -- The documents of document read models, by model (\`name@version\`) and id.
      CREATE TABLE ${s}.read_documents (
        model text NOT NULL,
        id text NOT NULL,
        doc jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (model, id)
      );
    `,
  },
  {
    version: 4,
    name: 'idempotency keys',
    sql: (s) => `
      -- The requests sent with an Idempotency-Key, by scope (who sent them, to where) and key: pending while the
      -- first runs, then done with its response, replayed to repeats until expires_at. The response is json, not
      -- jsonb, so that a replay sends the body as first sent (jsonb would reorder its keys).
      CREATE TABLE ${s}.idempotency_keys (
        scope text NOT NULL,
        key text NOT NULL,
        fingerprint text NOT NULL,
        status text NOT NULL CHECK (status IN ('pending', 'done')),
        response json,
        expires_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (scope, key),
        CHECK ((status = 'done') = (response IS NOT NULL))
      );
      CREATE INDEX idempotency_keys_expiry ON ${s}.idempotency_keys (expires_at);
    `,
  },
  {
    version: 5,
    name: 'trace context',
    sql: (s) => `
      -- The W3C trace context of the work that wrote each event, when a span was active: whoever handles the event
      -- later (the relay, a projection, another service) continues that trace.
      ALTER TABLE ${s}.events ADD COLUMN traceparent text, ADD COLUMN tracestate text;
    `,
  },
  {
    version: 6,
    name: 'operations',
    sql: (s) => `
      -- The type of the message that caused each event (the command, or the event a handler was given), and an
      -- index on the correlation: the console tells a message's story from them.
      ALTER TABLE ${s}.events ADD COLUMN causation_type text;
      CREATE INDEX events_correlation ON ${s}.events (correlation_id);

      -- For each subscription: the event types it reads (null: all), the process holding its lease (while the
      -- lock is held), and how many events it has handled, for its lag and throughput.
      ALTER TABLE ${s}.subscriptions ADD COLUMN types jsonb, ADD COLUMN holder text,
        ADD COLUMN handled bigint NOT NULL DEFAULT 0;

      -- What operators did through the console: replays, discards and rebuilds, by whom and when.
      CREATE TABLE ${s}.operator_actions (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        actor text NOT NULL,
        action text NOT NULL CHECK (action IN ('replay', 'discard', 'rebuild')),
        subscription text,
        event_ids text[],
        projection text,
        affected integer NOT NULL
      );
    `,
  },
  {
    version: 7,
    name: 'scheduled messages',
    sql: (s) => `
      -- Commands and events for later, written by the unit of work that scheduled them (so they exist if and only if
      -- it committed) and removed by the transaction that delivers them (so each takes effect once). id is the
      -- schedule's (cancelled or replaced by it); message_id the message's own, new each time it is scheduled.
      -- due_at is by the application's clock, which the scheduler passes in (a test's clock is not the server's).
      CREATE TABLE ${s}.scheduled_messages (
        id text PRIMARY KEY,
        message_id text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('command', 'event')),
        type text NOT NULL,
        type_version integer NOT NULL,
        payload jsonb NOT NULL,
        due_at timestamptz NOT NULL,
        stream_id text,
        correlation_id text NOT NULL,
        causation_id text,
        principal jsonb,
        attempts integer NOT NULL DEFAULT 0,
        status text NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'parked')),
        error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        CHECK ((kind = 'event') = (stream_id IS NOT NULL))
      );
      CREATE INDEX scheduled_messages_due ON ${s}.scheduled_messages (due_at) WHERE status = 'scheduled';
    `,
  },
  {
    version: 8,
    name: 'partitioned projections',
    sql: (s) => `
      -- How many partitions an async projection's log is split into, each a subscription of its own, named after
      -- the version with ':p<index>'; and, for each subscription, whether it has caught up with the log since its
      -- version began building: a partitioned version serves once all its partitions have.
      ALTER TABLE ${s}.projections ADD COLUMN partitions integer NOT NULL DEFAULT 1
        CHECK (partitions BETWEEN 1 AND 64);
      ALTER TABLE ${s}.subscriptions ADD COLUMN caught_up boolean NOT NULL DEFAULT false;
    `,
  },
  {
    version: 9,
    name: 'personal data keys and erasures',
    sql: (s) => `
      -- Each subject's data key, wrapped by the application's master key (which is never stored here): the
      -- personal fields of their events are sealed with it. Forgetting the subject deletes the row, and with it
      -- every way to read those fields, in the log, its backups and on the bus. One key per subject at a time.
      CREATE TABLE ${s}.personal_keys (
        id text PRIMARY KEY,
        subject text NOT NULL UNIQUE,
        wrapped text NOT NULL,
        master_key text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      -- What each erasure reached, who asked and when: never the erased data.
      CREATE TABLE ${s}.erasures (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        subject text NOT NULL,
        requested_by text NOT NULL,
        reason text,
        erased_at timestamptz NOT NULL DEFAULT now(),
        keys integer NOT NULL,
        read_models jsonb NOT NULL,
        responses integer NOT NULL DEFAULT 0
      );
    `,
  },
  {
    version: 10,
    name: 'idempotency subjects',
    sql: (s) => `
      -- The subjects whose personal data a kept response's command wrote (an anonymous guest's order, say): the
      -- response may repeat it, so forgetting one of them deletes the record, whoever's scope it is in. NULL when
      -- there are none (nearly every record), which the partial index leaves out.
      ALTER TABLE ${s}.idempotency_keys ADD COLUMN subjects text[];
      CREATE INDEX idempotency_keys_subjects ON ${s}.idempotency_keys USING gin (subjects)
        WHERE subjects IS NOT NULL;
      -- A response completed after its subject was forgotten (the erasure fell between the command's commit and the
      -- response's keeping) is not kept: completing looks for an erasure of its subjects since the claim. The time
      -- an erasure was written, not its transaction's start, so that one begun before the claim still counts.
      CREATE INDEX erasures_subject ON ${s}.erasures (subject, erased_at);
      ALTER TABLE ${s}.erasures ALTER COLUMN erased_at SET DEFAULT clock_timestamp();
    `,
  },
  {
    version: 11,
    name: 'data keys by master key',
    sql: (s) => `
      -- A process refuses to start when some data key is wrapped by a master key it was not given: the check reads
      -- the distinct master keys through this index, a probe each, however many subjects there are.
      CREATE INDEX personal_keys_master_key ON ${s}.personal_keys (master_key);
    `,
  },
  {
    version: 12,
    name: 'erasures seen by claims, traces of scheduled messages',
    sql: (s) => `
      -- Whether an erasure had committed when a command was claimed: a response naming its subject is kept only if
      -- it had (the command could not read their data then). The erasure's transaction id, and the claim's
      -- snapshot, say so exactly; their times could not tell an erasure still open at the claim from one long
      -- committed (both older than the claim). NULL on rows written before this migration, which keep the old rule.
      ALTER TABLE ${s}.erasures ADD COLUMN xid xid8;
      ALTER TABLE ${s}.idempotency_keys ADD COLUMN claim_snapshot pg_snapshot;
      -- The trace of the execution that scheduled a message (W3C Trace Context): the event written when it is due
      -- carries it, and the command delivered then continues it.
      ALTER TABLE ${s}.scheduled_messages ADD COLUMN traceparent text, ADD COLUMN tracestate text;
    `,
  },
];
