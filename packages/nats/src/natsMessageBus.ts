import { createHash } from 'node:crypto';
import {
  type Application,
  activeTraceContext,
  type BusHandler,
  type BusMessage,
  contextOf,
  envelopeOf,
  Logger,
  type MessageBus,
  PersonalDataReader,
  type SubscribeOptions,
  tracingEnabled,
} from '@myelin/core';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  StorageType,
} from '@nats-io/jetstream';
import {
  connect,
  createInbox,
  headers,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  nanos,
  type Subscription,
} from '@nats-io/transport-node';
import {
  type Attributes,
  context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { cloudEventContentType, fromCloudEvent, toCloudEvent } from './cloudEvent.ts';

export interface NatsMessageBusOptions {
  /** The NATS servers; defaults to `NATS_URL`, then 127.0.0.1:4222. Or pass a `connection` you own. */
  readonly servers?: string | readonly string[];
  readonly connection?: NatsConnection;
  /** This service's name: the CloudEvents `source` (`myelin://<service>`) and the prefix of its consumers. */
  readonly service: string;
  /** The JetStream stream integration events are stored in; defaults to `MYELIN_EVENTS`. */
  readonly stream?: string;
  /** Events go to `<subjectPrefix>.<event type>`; defaults to `myelin.events`. */
  readonly subjectPrefix?: string;
  /** Messages a handler failed `maxDeliveries` times go to `<deadLetterPrefix>.<event type>`; defaults to `myelin.dead`. */
  readonly deadLetterPrefix?: string;
  /** Deliveries of a message to a subscription before it is dead-lettered; defaults to 5. */
  readonly maxDeliveries?: number;
  /**
   * How long a handler may run on one message before its delivery is given up; defaults to 5 minutes. Until
   * then the bus tells JetStream the message is being worked on; after it, it stops, so the message is
   * redelivered (a hung handler counts as a failed delivery, and is dead-lettered after `maxDeliveries`).
   */
  readonly handlerTimeoutMs?: number;
  /**
   * The most the dead-letter stream holds, in bytes; the oldest go first beyond it. Defaults to 256 MiB (hundreds
   * of the largest messages, thousands of usual ones). The server
   * sets that much of its storage aside for the stream when it is made, and refuses it when it has not so much.
   */
  readonly deadLetterMaxBytes?: number;
  /** How long a delivery may go unacknowledged before JetStream redelivers it; defaults to 30 s. */
  readonly ackWaitMs?: number;
  /** The wait before redelivering a failed message, doubled each time; defaults to 1000 ms. */
  readonly backoffMs?: number;
  /** The broker drops a second publication of an event id within this window; defaults to 2 min. */
  readonly duplicateWindowMs?: number;
  /** How long the stream keeps events; defaults to 7 days. */
  readonly maxAgeMs?: number;
  /** `file` (the default: survives a restart of the server) or `memory`. */
  readonly storage?: 'file' | 'memory';
  /**
   * Messages a subscription handles at once in this process; defaults to 1, which handles them in the order the
   * stream holds them. More is faster (with `@myelin/postgres`, concurrent deliveries share their commits) but
   * gives up that order, as competing consumers in several processes do anyway.
   */
  readonly concurrency?: number;
  /**
   * Put the subject of the principal whose request raised an event in its CloudEvent (`principal`); off by
   * default. A user id is personal data: every service reading the stream, and the stream's storage for
   * `maxAgeMs`, would hold it. Turn it on only when the consumers need to know who acted.
   */
  readonly includePrincipal?: boolean;
  /**
   * Where the errors a subscription survives (a malformed message, a lost connection) are written, as `err` with the
   * subscription as `worker`: a logger (pino, say). Without one, the `Logger` of the `application` given, if it
   * registered one; else the console.
   */
  readonly logger?: Pick<Logger, 'error'>;
  /** Told of those errors instead, when given. */
  readonly onError?: (error: unknown, subscription: string) => void;
  /**
   * The application whose handlers consume from this bus. Events with personal data arrive sealed (as the
   * publisher's log holds them); its `PersonalDataReader` (which `postgresPersistence` registers) opens them for
   * the handlers, or gives their placeholders once the subject was forgotten. It needs the publisher's data keys
   * and master key. Without a reader, a message carrying sealed personal data fails (it is redelivered, then
   * dead-lettered, and reported through `onError`) rather than reach a handler sealed.
   */
  readonly application?: Pick<Application, 'container'>;
}

/**
 * Integration events on NATS JetStream, as CloudEvents 1.0 in structured JSON. Publishing sets `Nats-Msg-Id` to the
 * event id, so a republished event (the relay delivers at least once) is dropped by the broker within the
 * duplicate window. Each subscription is a durable pull consumer with explicit acks, shared by every process that
 * subscribes with the same name (competing consumers): a message is acknowledged only after its handler resolved
 * (after the handler's transaction committed), redelivered with backoff when it rejects or when its process dies
 * before acknowledging, and moved to the dead-letter subject after `maxDeliveries`.
 */
export class NatsMessageBus implements MessageBus, AsyncDisposable {
  readonly #connection: NatsConnection;
  readonly #owned: boolean;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #options: Required<
    Omit<NatsMessageBusOptions, 'servers' | 'connection' | 'onError' | 'logger' | 'application'>
  >;
  readonly #onError: (error: unknown, subscription: string) => void;
  readonly #subscriptions = new Set<Promise<unknown>>();
  readonly #stops = new Set<() => void>();
  readonly #application: Pick<Application, 'container'> | undefined;
  /** The application's reader of sealed personal data, once looked up (null: it has none). */
  #reader: PersonalDataReader | null | undefined;
  #acks: PublishAcks | undefined;

  private constructor(
    connection: NatsConnection,
    owned: boolean,
    jsm: JetStreamManager,
    options: NatsMessageBusOptions,
  ) {
    this.#connection = connection;
    this.#owned = owned;
    this.#jsm = jsm;
    this.#js = jetstream(connection);
    this.#options = {
      service: options.service,
      stream: options.stream ?? 'MYELIN_EVENTS',
      subjectPrefix: options.subjectPrefix ?? 'myelin.events',
      deadLetterPrefix: options.deadLetterPrefix ?? 'myelin.dead',
      maxDeliveries: options.maxDeliveries ?? 5,
      handlerTimeoutMs: options.handlerTimeoutMs ?? 300_000,
      deadLetterMaxBytes: options.deadLetterMaxBytes ?? 256 * 1024 ** 2,
      ackWaitMs: options.ackWaitMs ?? 30_000,
      backoffMs: options.backoffMs ?? 1000,
      duplicateWindowMs: options.duplicateWindowMs ?? 120_000,
      maxAgeMs: options.maxAgeMs ?? 7 * 24 * 3600_000,
      storage: options.storage ?? 'file',
      concurrency: options.concurrency ?? 1,
      includePrincipal: options.includePrincipal ?? false,
    };
    this.#application = options.application;
    const container = options.application?.container;
    const logger = options.logger ?? (container?.has(Logger) ? container.root.resolve(Logger) : undefined);
    this.#onError =
      options.onError ??
      (logger === undefined
        ? (error, name) => console.error(`myelin: NATS subscription '${name}' failed:`, error)
        : (error, name) =>
            logger.error({ err: error, worker: `nats:${name}` }, `NATS subscription '${name}' failed`));
  }

  /** Connects and creates (or updates) the streams for events and dead letters. */
  static async connect(options: NatsMessageBusOptions): Promise<NatsMessageBus> {
    if (!/^[A-Za-z0-9_-]+$/.test(options.service)) {
      throw new TypeError(`Invalid service name '${options.service}': use letters, digits, '-' and '_'`);
    }
    for (const name of [
      'concurrency',
      'maxDeliveries',
      'ackWaitMs',
      'backoffMs',
      'handlerTimeoutMs',
      'deadLetterMaxBytes',
    ] as const) {
      const value = options[name];
      if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) {
        throw new TypeError(`${name} must be a positive integer, not ${value}`);
      }
    }
    const servers = options.servers ?? process.env.NATS_URL ?? '127.0.0.1:4222';
    // Without `noAsyncTraces`, every request (each publish is one) builds two Error objects up front, in case it
    // fails, to carry the caller's stack: a tenth of the relay's CPU time. Our failures name what failed.
    const connection =
      options.connection ?? (await connect({ servers: servers as string | string[], noAsyncTraces: true }));
    try {
      const jsm = await jetstreamManager(connection);
      const bus = new NatsMessageBus(connection, options.connection === undefined, jsm, options);
      await bus.#ensureStreams();
      return bus;
    } catch (error) {
      if (options.connection === undefined) await connection.close();
      throw error;
    }
  }

  /** The subject an event type is published on. */
  subjectOf(type: string): string {
    return `${this.#options.subjectPrefix}.${subjectToken(type)}`;
  }

  /** The subject a dead letter of an event type is published on. */
  deadLetterSubjectOf(type: string): string {
    return `${this.#options.deadLetterPrefix}.${subjectToken(type)}`;
  }

  async publish(messages: readonly BusMessage[]): Promise<void> {
    const source = `myelin://${this.#options.service}`;
    this.#acks ??= new PublishAcks(this.#connection);
    const traced = tracingEnabled();
    // All sent before any acknowledgement is awaited: one connection keeps them in order on the wire, and the
    // server stores a subject's messages in the order they arrive. When one fails, the caller sends the batch
    // again; what was stored the first time is dropped by id (so a retried message may land after later ones).
    await this.#acks.all(
      messages.map((message) => {
        const subject = this.subjectOf(message.metadata.type);
        // A send span in the trace of the work that wrote the event, ended by its acknowledgement; the CloudEvent
        // carries the send span, so the consumer's span is its child. Without an SDK, none: the message already
        // carries its own trace context.
        const span = traced
          ? tracer.startSpan(
              `send ${subject}`,
              { kind: SpanKind.PRODUCER, attributes: messagingAttributes(subject, message, 'send') },
              contextOf(message.metadata, context.active()),
            )
          : undefined;
        const sent =
          span?.isRecording() === true
            ? {
                ...message,
                metadata: {
                  ...message.metadata,
                  ...context.with(trace.setSpan(context.active(), span), activeTraceContext),
                },
              }
            : message;
        const h = headers();
        h.set('Content-Type', cloudEventContentType);
        // JetStream's dedupe key: a second publication of the id within the duplicate window is dropped.
        h.set('Nats-Msg-Id', message.metadata.eventId);
        const payload = JSON.stringify(
          toCloudEvent(sent, source, { includePrincipal: this.#options.includePrincipal }),
        );
        return { subject, payload, headers: h, span };
      }),
    );
  }

  subscribe(type: string, handler: BusHandler, options: SubscribeOptions = {}): () => void {
    const name = durableName(`${this.#options.service}-${options.name ?? type}`);
    const stop = new AbortController();
    const running = this.#consume(type, name, handler, stop.signal).catch((error: unknown) =>
      this.#onError(error, name),
    );
    this.#subscriptions.add(running);
    const unsubscribe = () => stop.abort();
    this.#stops.add(unsubscribe);
    void running.finally(() => {
      this.#subscriptions.delete(running);
      this.#stops.delete(unsubscribe);
    });
    return unsubscribe;
  }

  /**
   * Stops every subscription (in-flight handlers finish first, or are given up after `handlerTimeoutMs`, their
   * messages left to be redelivered) and closes the connection if it opened it.
   */
  async close(): Promise<void> {
    for (const stop of [...this.#stops]) stop();
    await Promise.all(this.#subscriptions);
    this.#acks?.close();
    if (this.#owned && !this.#connection.isClosed()) await this.#connection.drain();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #ensureStreams(): Promise<void> {
    const o = this.#options;
    const storage = o.storage === 'memory' ? StorageType.Memory : StorageType.File;
    const streams = [
      { name: o.stream, subjects: [`${o.subjectPrefix}.>`], duplicate_window: nanos(o.duplicateWindowMs) },
      // A flood of failures must not fill the disk: past its limit the oldest dead letters go.
      {
        name: `${o.stream}_DEAD`,
        subjects: [`${o.deadLetterPrefix}.>`],
        max_bytes: o.deadLetterMaxBytes,
        discard: DiscardPolicy.Old,
      },
    ];
    for (const config of streams) {
      // Dead letters wait for someone to look at them: they never expire.
      const maxAge = config.name === o.stream ? nanos(o.maxAgeMs) : 0;
      const full = { ...config, storage, max_age: maxAge };
      try {
        try {
          await this.#jsm.streams.info(config.name);
          const { storage: _fixed, ...updatable } = full; // storage cannot change once the stream exists
          await this.#jsm.streams.update(config.name, updatable);
        } catch (error) {
          if (!isNotFound(error)) throw error;
          await this.#jsm.streams.add(full);
        }
      } catch (error) {
        // The server sets aside a stream's max_bytes from its storage (or its memory) up front, and refuses a stream
        // it cannot set it aside for: say which option that is, rather than leave "insufficient resources".
        if (config.name !== o.stream && /insufficient .*resources/i.test(String((error as Error)?.message))) {
          throw new Error(
            `The NATS server refused the dead-letter stream ${config.name}: it sets aside deadLetterMaxBytes (${o.deadLetterMaxBytes} bytes) of its ${o.storage} storage for it, and has not that much left (${(error as Error).message}); give a smaller deadLetterMaxBytes`,
            { cause: error },
          );
        }
        throw error;
      }
    }
  }

  /** Consumes until stopped; a failure (JetStream not ready, a lost connection) is reported and retried. */
  async #consume(type: string, name: string, handler: BusHandler, signal: AbortSignal): Promise<void> {
    const remembered = new Remembered();
    for (let failures = 0; !signal.aborted; ) {
      try {
        await this.#consumeOnce(type, name, handler, signal, remembered);
        failures = 0;
      } catch (error) {
        if (signal.aborted || this.#connection.isClosed()) return;
        this.#onError(error, name);
        failures++;
      }
      if (signal.aborted || this.#connection.isClosed()) return;
      const wait = Math.min(this.#options.backoffMs * 2 ** Math.min(failures, 6), 30_000);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        const stop = () => {
          clearTimeout(timer);
          resolve();
        };
        signal.addEventListener('abort', stop, { once: true });
      });
    }
  }

  async #consumeOnce(
    type: string,
    name: string,
    handler: BusHandler,
    signal: AbortSignal,
    remembered: Remembered,
  ): Promise<void> {
    const o = this.#options;
    const config = {
      durable_name: name,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: this.subjectOf(type),
      ack_wait: nanos(o.ackWaitMs),
      // The bus itself dead-letters after maxDeliveries, with the error, and ends the delivery by the
      // (maxDeliveries + deadLetterAttempts + 1)th at the latest, even when no dead letter can be stored. The server
      // stops one delivery after that, should the bus not manage to (its term lost, its process dying each time
      // before it could): without a dead letter then, only the server's MAX_DELIVERIES advisory, and the message
      // stays in the stream until it expires.
      max_deliver: o.maxDeliveries + deadLetterAttempts + 2,
    };
    try {
      await this.#jsm.consumers.info(o.stream, name);
      await this.#jsm.consumers.update(o.stream, name, config);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      try {
        await this.#jsm.consumers.add(o.stream, config);
      } catch (missing) {
        if (!isStreamNotFound(missing)) throw missing;
        // The stream was deleted under the subscription (an operator, a reset): it is the bus's own, made at
        // connect, so it is made again, empty, and the subscription takes what is published from now on.
        await this.#ensureStreams();
        await this.#jsm.consumers.add(o.stream, config);
      }
    }
    if (signal.aborted) return;
    const consumer = await this.#js.consumers.get(o.stream, name);
    const concurrency = o.concurrency;
    // Twice what is handled at once, so the next are already here: messages waiting in this buffer count
    // against their ack wait.
    // Ended (and set up again by #consume) when its stream or consumer is deleted: left to itself, the client
    // would wait for them to come back, and nothing makes a durable consumer again but this bus.
    const messages = await consumer.consume({
      max_messages: Math.max(8, 2 * concurrency),
      abort_on_missing_resource: true,
    });
    const stop = () => void messages.stop();
    signal.addEventListener('abort', stop, { once: true });
    if (signal.aborted) stop(); // stopped while the consumer was being set up
    // How many handlings are running, and who waits for one to end: the loop, for a free slot, or the close, for
    // the last. (Not a set of their promises raced against each other: Promise.race adds a reaction to every one
    // of them, `concurrency` allocations per message.)
    let running = 0;
    let ended: (() => void) | undefined;
    const end = () => {
      running--;
      const waiting = ended;
      ended = undefined;
      waiting?.();
    };
    const oneEnds = () =>
      new Promise<void>((resolve) => {
        ended = resolve;
      });
    // A slow handler is still working: tell JetStream, so that it does not redeliver the message meanwhile. One
    // timer for the subscription, not one per message.
    // A handler past its time is hung: no longer said to be working, so JetStream redelivers its message, and its
    // place is given back, so that the subscription goes on (the hung call is left to itself).
    const working = new Map<JsMsg, Handling>();
    const heartbeat = setInterval(
      () => {
        const now = Date.now();
        for (const [message, handling] of working) {
          if (now - handling.started > o.handlerTimeoutMs) {
            working.delete(message);
            handling.release();
            this.#onError(
              new Error(
                `A handler has run for more than ${o.handlerTimeoutMs} ms on message ${message.info.streamSequence}: it is given up and redelivered`,
              ),
              name,
            );
            continue;
          }
          try {
            message.working();
          } catch {
            // the connection is going: the message will be redelivered, which is what should happen
          }
        }
      },
      Math.max(o.ackWaitMs / 3, 100),
    );
    // It keeps no process alive on its own: the connection does, while there is one.
    heartbeat.unref();
    const acks = new PendingAcks(remembered);
    try {
      for await (const message of messages) {
        running++;
        let released = false;
        const release = () => {
          if (released) return;
          released = true;
          end();
        };
        void this.#handle(message, type, name, handler, { working, release, remembered }, acks).then(
          release,
          (error: unknown) => {
            release();
            this.#onError(error, name);
          },
        );
        if (running >= concurrency) await oneEnds();
      }
    } finally {
      signal.removeEventListener('abort', stop);
      // The heartbeat goes on until the last handler ended or was given up: stopped first, it would never give up
      // a hung one, and the close would wait for it for ever.
      while (running > 0) await oneEnds();
      clearInterval(heartbeat);
      acks.flush();
    }
  }

  async #handle(
    message: JsMsg,
    type: string,
    name: string,
    handler: BusHandler,
    {
      working,
      release,
      remembered,
    }: {
      readonly working: Map<JsMsg, Handling>;
      readonly release: () => void;
      readonly remembered: Remembered;
    },
    acks: PendingAcks,
  ): Promise<void> {
    const sequence = message.info.streamSequence;
    if (remembered.ended(message)) {
      // A copy of a message this subscription already acknowledged or terminated: JetStream sent it again while
      // the first copy waited here, pulled ahead, past its ack wait (or the acknowledgement was lost). Handling it
      // again would do the work twice, and its delivery count, grown meanwhile, would dead-letter it below.
      acks.add(message);
      return;
    }
    const deliveries = message.info.deliveryCount;
    if (deliveries > this.#options.maxDeliveries) {
      // Delivered more often than a handler is given: its handlings never answered (the process died or hung
      // on it), or storing its dead letter failed (then with the error it failed with, when this process saw it).
      // Not handled once more: a message that kills its process would kill every process in turn, for ever.
      await this.#deadLetter(
        message,
        type,
        name,
        remembered.failure(message) ??
          `delivered ${deliveries} times without an answer: the process handling it stopped or hung`,
        remembered,
      );
      return;
    }
    let parsed: BusMessage;
    try {
      parsed = fromCloudEvent(message.json());
    } catch (error) {
      // Redelivering a message that cannot be read cannot help: dead-letter it at once.
      await this.#deadLetter(
        message,
        type,
        name,
        `malformed CloudEvent: ${(error as Error).message}`,
        remembered,
      );
      return;
    }
    if (parsed.metadata.type !== type) {
      await this.#deadLetter(
        message,
        type,
        name,
        `a ${parsed.metadata.type} event on the subject of ${type}`,
        remembered,
      );
      return;
    }
    // The event's trace, continued by a span of this delivery when an SDK records one. Without an SDK the handler
    // still runs in the event's trace (what it writes carries it on); without either, in no context at all, since
    // entering one would be only allocations.
    const parent = contextOf(parsed.metadata, ROOT_CONTEXT);
    const span = tracingEnabled()
      ? tracer.startSpan(
          `process ${message.subject}`,
          {
            kind: SpanKind.CONSUMER,
            attributes: messagingAttributes(message.subject, parsed, 'process', name),
          },
          parent,
        )
      : undefined;
    working.set(message, { started: Date.now(), release });
    try {
      const delivered = envelopeOf(parsed.data) === undefined ? parsed : await this.#opened(parsed, name);
      await (span !== undefined
        ? context.with(trace.setSpan(parent, span), handler, undefined, delivered)
        : parent !== ROOT_CONTEXT
          ? context.with(parent, handler, undefined, delivered)
          : handler(delivered));
      // Even once given up: the work is done, and the acknowledgement spares a redelivery still to come.
      acks.add(message);
    } catch (error) {
      span?.recordException(error instanceof Error ? error : String(error));
      span?.setStatus({ code: SpanStatusCode.ERROR });
      const reason = error instanceof Error ? error.message : String(error);
      if (!working.has(message)) {
        // Given up on already (past handlerTimeoutMs): its redelivery, counted, is what decides now.
        this.#onError(
          new Error(
            `A handler given up on message ${sequence} failed after all (its redelivery goes on): ${reason}`,
            { cause: error },
          ),
          name,
        );
      } else if (deliveries >= this.#options.maxDeliveries) {
        await this.#deadLetter(message, type, name, reason, remembered);
      } else {
        message.nak(Math.min(this.#options.backoffMs * 2 ** (deliveries - 1), 60_000));
      }
    } finally {
      working.delete(message);
      span?.end();
    }
  }

  /**
   * The message with its sealed personal data opened by the application's reader: clear while the subject's key
   * exists, placeholders once they were forgotten. A message that cannot be opened (no reader, no master key, a
   * key wrapped by another master key, altered bytes) throws, reported through `onError` as well: it is a fault of
   * the set-up, not of the handler, and its handler must never see the data sealed.
   */
  async #opened(message: BusMessage, name: string): Promise<BusMessage> {
    try {
      const reader = this.#personalDataReader();
      if (reader === undefined) {
        throw new Error(
          `A '${message.metadata.type}' event arrived with sealed personal data, and nothing here can open it: give NatsMessageBus.connect({ application }) the consuming application, with the publisher's data keys and master key (postgresPersistence(database, { personalData: { masterKey } }))`,
        );
      }
      const [opened] = await reader.reveal([message]);
      return opened as BusMessage;
    } catch (error) {
      this.#onError(error, name);
      throw error;
    }
  }

  #personalDataReader(): PersonalDataReader | undefined {
    if (this.#reader === undefined) {
      const container = this.#application?.container;
      this.#reader =
        container?.has(PersonalDataReader) === true ? container.root.resolve(PersonalDataReader) : null;
    }
    return this.#reader ?? undefined;
  }

  /**
   * Publishes the message to the dead-letter subject with why and where it failed, then stops its delivery. A
   * message too big to be stored again with those headers (near the server's max_payload) is dead-lettered as
   * the headers alone, naming where the original is (it stays in the stream until `maxAgeMs`). When even that
   * cannot be stored, the message is redelivered and tried again, a few times, then its delivery is stopped all
   * the same (reported): a message nothing can dead-letter must not block its subscription for ever.
   */
  async #deadLetter(
    message: JsMsg,
    type: string,
    name: string,
    reason: string,
    remembered: Remembered,
  ): Promise<void> {
    const sequence = message.info.streamSequence;
    const h = headers();
    h.set('Content-Type', cloudEventContentType);
    h.set('Myelin-Error', reason.replaceAll(/[\r\n]+/g, ' ').slice(0, 1000));
    h.set('Myelin-Subscription', name);
    h.set('Myelin-Deliveries', String(message.info.deliveryCount));
    h.set('Myelin-Stream-Sequence', `${this.#options.stream} ${sequence}`);
    // One dead letter per message and subscription: a publish whose answer was lost, tried again at the message's
    // redelivery, is dropped by the server as a duplicate (within the dead-letter stream's two minutes' window). By
    // the message's own id (its event's), not its place: places start again at 1 in a stream made again.
    const original = message.headers?.get('Nats-Msg-Id') || `${this.#options.stream}:${sequence}`;
    h.set('Nats-Msg-Id', `${original}:${name}`);
    try {
      try {
        await this.#js.publish(this.deadLetterSubjectOf(type), message.data, { headers: h });
      } catch (error) {
        if (!tooBig(error)) throw error;
        h.set('Myelin-Truncated', String(message.data.length));
        h.delete('Content-Type'); // there is no body to be a CloudEvent
        await this.#js.publish(this.deadLetterSubjectOf(type), new Uint8Array(0), { headers: h });
      }
      // A term, not an ack: both end the delivery on every server version, but a term says it was given up, not
      // handled (the server's MSG_TERMINATED advisory, for whoever watches). Without a reason: nats-server before
      // 2.10 does not read `+TERM <reason>` as a termination, and would deliver the message again at every ack
      // wait, each holding a place among the acks pending until the subscription stops receiving.
      message.term();
      remembered.end(message);
    } catch (error) {
      this.#onError(error, name);
      if (message.info.deliveryCount > this.#options.maxDeliveries + deadLetterAttempts) {
        this.#onError(
          new Error(
            `Message ${sequence} of ${this.#options.stream} could not be dead-lettered after ${deadLetterAttempts} attempts: its delivery is stopped; it stays in the stream until it expires. It failed with: ${reason}`,
          ),
          name,
        );
        message.term();
        remembered.end(message);
        return;
      }
      // Not stored as a dead letter: leave it to be redelivered rather than lose it, and keep why it failed, for
      // the dead letter of its redelivery (which is past maxDeliveries, and not handled again).
      remembered.failed(message, reason);
      message.nak(this.#options.backoffMs);
    }
  }
}

/** A message being handled: since when, and how to give its place back when it hangs. */
interface Handling {
  readonly started: number;
  readonly release: () => void;
}

/** Tries at storing a dead letter, past the deliveries a handler is given, before its delivery is stopped. */
const deadLetterAttempts = 5;

/**
 * What a subscription remembers of its messages, by stream sequence: those whose delivery it ended (acknowledged or
 * terminated), to know a copy sent again meanwhile, and why those it could not dead-letter failed. The last few
 * thousand only: a copy comes within a few pulls, and a redelivery to dead-letter within a few backoffs. Each with
 * the time the stream stored it, the same in every copy: a stream deleted and made again numbers from 1 again.
 */
class Remembered {
  /** Stream sequence → when the message was stored. */
  readonly #ended = new Map<number, number>();
  readonly #failures = new Map<number, { readonly stored: number; readonly reason: string }>();

  end({ info }: JsMsg): void {
    this.#failures.delete(info.streamSequence);
    remember(this.#ended, info.streamSequence, info.timestampNanos);
  }

  ended({ info }: JsMsg): boolean {
    return this.#ended.get(info.streamSequence) === info.timestampNanos;
  }

  failed({ info }: JsMsg, reason: string): void {
    remember(this.#failures, info.streamSequence, { stored: info.timestampNanos, reason });
  }

  failure({ info }: JsMsg): string | undefined {
    const failure = this.#failures.get(info.streamSequence);
    return failure?.stored === info.timestampNanos ? failure.reason : undefined;
  }
}

/** Sets a key as the newest of a map, forgetting the oldest beyond `rememberedSequences`. */
function remember<V>(map: Map<number, V>, key: number, value: V): void {
  map.delete(key); // to the end of the order of insertion
  map.set(key, value);
  if (map.size > rememberedSequences) map.delete(map.keys().next().value as number);
}

/** How many stream sequences a subscription remembers of each kind. */
const rememberedSequences = 4096;

/** Whether a publish failed because the message is larger than the server or the stream takes. */
function tooBig(error: unknown): boolean {
  const e = error as { message?: unknown; api_error?: { err_code?: number } };
  return (
    e?.api_error?.err_code === 10054 ||
    /max_payload|maximum message size|message size exceeds/i.test(String(e?.message))
  );
}

/** A stream not found (10059). */
function isStreamNotFound(error: unknown): boolean {
  const e = error as { api_error?: { err_code?: number }; message?: string };
  return e?.api_error?.err_code === 10059 || /stream not found/i.test(String(e?.message));
}

/** A stream or a consumer not found. */
function isNotFound(error: unknown): boolean {
  const e = error as { api_error?: { err_code?: number }; message?: string };
  return (
    isStreamNotFound(error) ||
    e?.api_error?.err_code === 10014 || // consumer not found
    /not found/i.test(String(e?.message))
  );
}

/** An event type as one subject token... or several: dots stay, what subjects forbid becomes `_`. */
function subjectToken(type: string): string {
  return type.replaceAll(/[\s*>]/g, '_');
}

/**
 * Durable names allow no dots, wildcards or spaces. When the name had some, a hash of it keeps apart names that
 * would read the same (`a.b` and `a_b`), which would otherwise share one consumer and split its messages.
 */
function durableName(name: string): string {
  const safe = name.replaceAll(/[^A-Za-z0-9_-]/g, '_');
  return safe === name ? name : `${safe}_${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
}

const tracer = trace.getTracer('@myelin/nats');

/** The messaging conventions' attributes of a send or a delivery on NATS. */
function messagingAttributes(
  subject: string,
  message: BusMessage,
  operation: 'send' | 'process',
  consumerGroup?: string,
): Attributes {
  return {
    'messaging.system': 'nats',
    'messaging.operation.type': operation,
    'messaging.destination.name': subject,
    'messaging.message.id': message.metadata.eventId,
    'messaging.message.conversation_id': message.metadata.correlationId,
    ...(consumerGroup === undefined ? {} : { 'messaging.consumer.group.name': consumerGroup }),
  };
}

/**
 * A subscription's acknowledgements, sent together at the end of the turn of the event loop in which their
 * deliveries ended: a group commit ends hundreds at once, and nats.js writes to the socket what was queued before
 * its flush (a microtask), so acknowledgements sent from each delivery's own chain of promises may go in several
 * writes, where sent in one loop they go in one. Sent a turn later, an acknowledgement is lost only with the
 * process, when the message is delivered again, as it would be anyway.
 */
class PendingAcks {
  readonly #remembered: Remembered;
  #messages: JsMsg[] = [];

  constructor(remembered: Remembered) {
    this.#remembered = remembered;
  }

  add(message: JsMsg): void {
    this.#remembered.end(message);
    if (this.#messages.push(message) === 1) setImmediate(() => this.flush());
  }

  flush(): void {
    const messages = this.#messages;
    this.#messages = [];
    for (const message of messages) {
      try {
        message.ack();
      } catch {
        // the connection is going: the message will be redelivered, which is what should happen
      }
    }
  }
}

/** How long a batch's publications may wait for their acknowledgements (a frozen server) before the batch fails. */
const publishTimeoutMs = 5000;

interface Publication {
  readonly subject: string;
  readonly payload: string;
  readonly headers: MsgHdrs;
  /** Its send span, when an SDK records spans. */
  readonly span: Span | undefined;
}

/** A batch's publications still unacknowledged, and its first failure. */
interface PendingBatch {
  unacknowledged: number;
  failure: Error | undefined;
  readonly settled: () => void;
}

/**
 * JetStream publications, acknowledged through one subscription. `js.publish` makes each publication a request of
 * its own: a timer, an entry in the connection's request table, and an Error object built for every reply (when
 * the settled request is cancelled). Here each publication's reply subject is a token under one inbox, and one
 * timer bounds a whole batch: the relay's publishing side went from about 70 to 35 µs of CPU per event.
 */
class PublishAcks {
  readonly #connection: NatsConnection;
  readonly #inbox: string;
  readonly #subscription: Subscription;
  readonly #waiting = new Map<string, { readonly batch: PendingBatch; readonly span: Span | undefined }>();
  #next = 0;

  constructor(connection: NatsConnection) {
    this.#connection = connection;
    // Under the connection's inbox prefix, as nats.js's own requests: an account may subscribe only there.
    this.#inbox = createInbox((connection as { options?: { inboxPrefix?: string } }).options?.inboxPrefix);
    this.#subscription = connection.subscribe(`${this.#inbox}.*`, {
      callback: (_error, reply) => this.#acknowledged(reply),
    });
  }

  /** Publishes every message, then resolves once all are stored, or rejects with the first failure. */
  all(publications: readonly Publication[]): Promise<void> {
    if (publications.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const replies: string[] = [];
      const timer = setTimeout(() => {
        for (const reply of replies)
          this.#settle(reply, new Error(`no acknowledgement from JetStream in ${publishTimeoutMs} ms`));
      }, publishTimeoutMs);
      const batch: PendingBatch = {
        unacknowledged: publications.length,
        failure: undefined,
        settled: () => {
          clearTimeout(timer);
          if (batch.failure === undefined) resolve();
          else reject(batch.failure);
        },
      };
      for (const { subject, payload, headers, span } of publications) {
        const reply = `${this.#inbox}.${(this.#next++).toString(36)}`;
        replies.push(reply);
        this.#waiting.set(reply, { batch, span });
        try {
          this.#connection.publish(subject, payload, { reply, headers });
        } catch (error) {
          this.#settle(reply, error as Error); // the connection is closed
        }
      }
    });
  }

  /** Fails the batches still waiting: their acknowledgements can no longer arrive. */
  close(): void {
    this.#subscription.unsubscribe();
    for (const reply of [...this.#waiting.keys()]) this.#settle(reply, new Error('the NATS bus was closed'));
  }

  #acknowledged(reply: Msg): void {
    let failure: Error | undefined;
    if (reply.headers?.hasError === true) {
      // 503, "no responders": no stream takes the subject
      failure = new Error(`no JetStream stream took the message (${reply.headers.status})`);
    } else {
      try {
        const ack = reply.json<{ error?: { description?: string } }>();
        if (ack.error !== undefined)
          failure = new Error(`JetStream refused the message: ${ack.error.description}`);
      } catch (error) {
        failure = error as Error;
      }
    }
    this.#settle(reply.subject, failure);
  }

  #settle(reply: string, failure: Error | undefined): void {
    const waiting = this.#waiting.get(reply);
    if (waiting === undefined) return; // settled already (it timed out)
    this.#waiting.delete(reply);
    const { batch, span } = waiting;
    if (failure !== undefined) {
      span?.recordException(failure);
      span?.setStatus({ code: SpanStatusCode.ERROR });
      batch.failure ??= failure;
    }
    span?.end();
    if (--batch.unacknowledged === 0) batch.settled();
  }
}
