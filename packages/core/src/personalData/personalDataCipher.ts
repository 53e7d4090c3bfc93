// Crypto-shredding: an event's personal fields are sealed (AES-256-GCM) with a data key of their subject's own when
// it is appended, and opened when it is read while that key exists. Forgetting the subject deletes the key: every
// copy of the sealed fields (the log, its backups, the bus, other services) is noise from then on, and reads give
// placeholders instead, so projections, handlers and aggregates carry on.
//
// A sealed event keeps its other fields as they were and its personal ones under `$personal`:
//   { orderId: 'o-1', customerId: 'c-7', $personal: { key: '<data key id>', fields: ['name', 'phone'],
//     sealed: '<base64: iv, then the fields' values as a JSON array encrypted, then the tag>' } }
// The field names stay in clear, so a reader that does not know the declaration (another service) still knows
// which fields to fill with placeholders once the key is gone; they are not sealed a second time (the values are,
// in the order of `fields`), and key ids are 22 characters, not a UUID's 36: a sealed event is bigger than its
// clear twin, and every byte of it is parsed and written by the database (bench/src/append's protected case).
import type { NewEvent } from '../persistence/eventStore.ts';
import { type AesGcm, webCryptoAesGcm } from './aesGcm.ts';
import { keyBytes, type MasterKey, MasterKeyRing, toBase64 } from './masterKey.ts';
import { erased, type PersonalFields, personalDataOf, sealedField } from './personalData.ts';

/** A subject's data key as stored: wrapped by the master key named `masterKey`. */
export interface StoredDataKey {
  readonly id: string;
  readonly subject: string;
  readonly wrapped: Uint8Array;
  readonly masterKey: string;
}

/** Where data keys live: a table beside the log (PostgreSQL) or memory. Adapters implement it. */
export interface DataKeyStore {
  /** The keys of these subjects that exist. */
  bySubject(subjects: readonly string[]): Promise<ReadonlyMap<string, StoredDataKey>>;
  /** Stores the keys of subjects that have none; answers each subject's key as it now is (theirs if they had one). */
  create(keys: readonly StoredDataKey[]): Promise<ReadonlyMap<string, StoredDataKey>>;
  /** The keys with these ids that exist: the authority on whether a subject is forgotten. */
  byId(ids: readonly string[]): Promise<ReadonlyMap<string, StoredDataKey>>;
}

/** Anything with an event's data and type: a new event, or a scheduled one waiting to be written. */
export interface Typed {
  readonly data: unknown;
  readonly metadata: { readonly type: string };
}

/** What `seal` made: the events to store, and the ids of the keys they were sealed with. */
export interface SealedEvents<TEvent extends Typed = NewEvent> {
  readonly events: readonly TEvent[];
  /** Distinct; empty when no event had personal data. An append must fail if one was deleted meanwhile. */
  readonly keyIds: readonly string[];
}

interface Envelope {
  readonly key: string;
  readonly fields: readonly string[];
  readonly sealed: string;
}

/** The additional data's type of a value sealed whole (`sealValue`): no event type is named so. */
const wholeValue = '$value';

/** Thrown by an append whose data key was deleted (the subject forgotten) after the events were sealed with it. */
export class DataKeyGoneError extends Error {
  override readonly name = 'DataKeyGoneError';
  readonly keyIds: readonly string[];
  constructor(keyIds: readonly string[]) {
    super(
      `The data key ${keyIds.join(', ')} was deleted (its subject forgotten) while the events were appended`,
    );
    this.keyIds = keyIds;
  }
}

/** What the cipher is made with besides the master key: the previous master keys, its AES-GCM and cache size. */
export interface PersonalDataCipherOptions {
  /**
   * Master keys that wrapped data keys before the current one (see `MasterKeyOptions`): each unwraps the data keys
   * that record its id; new data keys are wrapped by the current one.
   */
  readonly previousMasterKeys?: readonly MasterKey[];
  /** Unwrapped data keys kept in memory; defaults to 10,000. */
  readonly cacheSize?: number;
  /** AES-256-GCM; WebCrypto's by default. */
  readonly aesGcm?: AesGcm;
}

/**
 * Seals and opens events' personal fields. It caches unwrapped keys (a KMS would otherwise be asked per event),
 * but never trusts the cache on whether a key exists: each `reveal` asks the store.
 */
export class PersonalDataCipher {
  readonly #masterKeys: MasterKeyRing;
  readonly #cacheSize: number;
  readonly #aes: AesGcm;
  /** By subject: the key to seal their new events with. A stale entry is caught by the append (DataKeyGoneError). */
  readonly #bySubject = new Map<string, { readonly id: string; readonly key: Promise<unknown> }>();
  /** By key id: the unwrapped key. */
  readonly #byId = new Map<string, Promise<unknown>>();

  constructor(masterKey: MasterKey, options: PersonalDataCipherOptions = {}) {
    this.#masterKeys = new MasterKeyRing(masterKey, options.previousMasterKeys);
    this.#cacheSize = options.cacheSize ?? 10_000;
    this.#aes = options.aesGcm ?? webCryptoAesGcm;
  }

  /** Whether any of these event types declared personal data (most appends have none: they skip sealing). */
  static needed(events: readonly Typed[]): boolean {
    return events.some((event) => personalDataOf(event.metadata.type) !== undefined);
  }

  /** The events with their personal fields sealed by their subjects' keys (made for subjects who have none). */
  async seal<TEvent extends Typed>(
    events: readonly TEvent[],
    store: DataKeyStore,
  ): Promise<SealedEvents<TEvent>> {
    const wanted: { index: number; personal: PersonalFields; subject: string }[] = [];
    for (const [index, event] of events.entries()) {
      const personal = personalDataOf(event.metadata.type);
      if (personal === undefined || !hasAny(event.data, personal.fields)) continue;
      const subject = (event.data as Record<string, unknown>)[personal.subject];
      if (typeof subject !== 'string' || subject === '') {
        throw new TypeError(
          `Event '${personal.type}' has personal data but no subject: its field '${personal.subject}' must name one`,
        );
      }
      wanted.push({ index, personal, subject });
    }
    if (wanted.length === 0) return { events, keyIds: [] };
    const subjects = [...new Set(wanted.map((w) => w.subject))];
    await this.#keysFor(subjects, store);
    const keys = new Map<string, { readonly id: string; readonly key: unknown }>();
    for (const subject of subjects) {
      const entry = this.#bySubject.get(subject) as { id: string; key: Promise<unknown> };
      keys.set(subject, { id: entry.id, key: await entry.key });
    }
    // One loop, no promise per event when the AES-GCM answers at once (node:crypto): a sealed event's cost is the
    // encryption itself.
    const sealed = [...events];
    const pending: Promise<void>[] = [];
    const put = (index: number, rest: Record<string, unknown>, envelope: Envelope) => {
      rest[sealedField] = envelope;
      sealed[index] = { ...(events[index] as TEvent), data: rest };
    };
    for (const { index, personal, subject } of wanted) {
      const event = events[index] as TEvent;
      const { id, key } = keys.get(subject) as { id: string; key: unknown };
      const { rest, values, fields } = split(event.data as Record<string, unknown>, personal);
      const text = this.#aes.seal(
        key,
        JSON.stringify(values),
        additionalData(event.metadata.type, id, fields),
      );
      if (typeof text === 'string') put(index, rest, { key: id, fields, sealed: text });
      else pending.push(text.then((later) => put(index, rest, { key: id, fields, sealed: later })));
    }
    await Promise.all(pending);
    return { events: sealed, keyIds: [...new Set([...keys.values()].map((key) => key.id))] };
  }

  /**
   * The events with their personal fields opened, or set to their placeholders where the key is gone. Events
   * with none are answered as they are, and then the store is not asked.
   */
  async reveal<TEvent extends Typed>(events: readonly TEvent[], store: DataKeyStore): Promise<TEvent[]> {
    const ids = new Set<string>();
    for (const event of events) {
      const envelope = envelopeOf(event.data);
      if (envelope !== undefined) ids.add(envelope.key);
    }
    if (ids.size === 0) return events as TEvent[];
    const existing = await store.byId([...ids]);
    for (const id of ids) if (!existing.has(id)) this.#drop(id);
    return Promise.all(
      events.map(async (event) => {
        const envelope = envelopeOf(event.data);
        if (envelope === undefined) return event;
        const stored = existing.get(envelope.key);
        if (stored !== undefined) checkSubject(event, stored);
        const fields =
          stored === undefined
            ? placeholders(event.metadata.type, envelope.fields)
            : fieldsOf(
                envelope,
                await openEnvelope(this.#aes, event.metadata.type, envelope, await this.#unwrapped(stored)),
              );
        const { [sealedField]: _, ...rest } = event.data as Record<string, unknown>;
        return { ...event, data: { ...rest, ...fields } };
      }),
    );
  }

  /**
   * A value (an aggregate's state, say) sealed whole under an existing data key, as `{ $personal: envelope }`;
   * undefined when the key is gone (its subject forgotten): then the value must not be kept at all.
   */
  async sealValue(keyId: string, value: unknown, store: DataKeyStore): Promise<unknown> {
    const stored = (await store.byId([keyId])).get(keyId);
    if (stored === undefined) return undefined;
    const key = await this.#unwrapped(stored);
    const sealed = await this.#aes.seal(key, JSON.stringify(value), additionalData(wholeValue, keyId, []));
    const envelope: Envelope = { key: keyId, fields: [], sealed };
    return { [sealedField]: envelope };
  }

  /**
   * A value `sealValue` sealed, opened: `{ value }`, or undefined when its key is gone. A value that was not
   * sealed is answered as it is.
   */
  async openValue(sealed: unknown, store: DataKeyStore): Promise<{ readonly value: unknown } | undefined> {
    const envelope = envelopeOf(sealed);
    if (envelope === undefined) return { value: sealed };
    const stored = (await store.byId([envelope.key])).get(envelope.key);
    if (stored === undefined) {
      this.#drop(envelope.key);
      return undefined;
    }
    return { value: await openEnvelope(this.#aes, wholeValue, envelope, await this.#unwrapped(stored)) };
  }

  /** Forgets what this process cached of these subjects and keys (after it deleted them). */
  forgotten(subjects: readonly string[], keyIds: readonly string[]): void {
    for (const subject of subjects) this.#bySubject.delete(subject);
    for (const id of keyIds) this.#drop(id);
  }

  async #keysFor(subjects: readonly string[], store: DataKeyStore): Promise<void> {
    const missing = subjects.filter((subject) => !this.#bySubject.has(subject));
    if (missing.length === 0) return;
    const found = new Map(await store.bySubject(missing));
    const unknown = missing.filter((subject) => !found.has(subject));
    /** The keys made here, by id: used as they are, not unwrapped again (a KMS call each). */
    const made = new Map<string, Uint8Array<ArrayBuffer>>();
    if (unknown.length > 0) {
      const keys = await Promise.all(
        unknown.map(async (subject): Promise<StoredDataKey> => {
          const raw = crypto.getRandomValues(new Uint8Array(keyBytes));
          const id = newKeyId();
          made.set(id, raw);
          const masterKey = this.#masterKeys.current;
          return { id, subject, wrapped: await masterKey.wrap(raw), masterKey: masterKey.id };
        }),
      );
      for (const [subject, key] of await store.create(keys)) found.set(subject, key);
    }
    for (const subject of missing) {
      const stored = found.get(subject);
      if (stored === undefined) throw new Error(`No data key could be made for a subject`);
      const raw = made.get(stored.id);
      if (raw !== undefined) {
        remember(this.#byId, stored.id, Promise.resolve(this.#aes.importKey(raw)), this.#cacheSize);
      }
      remember(this.#bySubject, subject, { id: stored.id, key: this.#unwrapped(stored) }, this.#cacheSize);
    }
  }

  #unwrapped(stored: StoredDataKey): Promise<unknown> {
    let key = this.#byId.get(stored.id);
    if (key === undefined) {
      // By the master key that wrapped it, current or previous. The key in clear is the same after a rotation's
      // rewrap, so what is cached stays good.
      key = this.#masterKeys.unwrap(stored).then((raw) => this.#aes.importKey(raw));
      // A failed unwrap (a KMS outage, a master key not configured) is not kept: the next read asks again.
      key.catch(() => this.#byId.delete(stored.id));
      remember(this.#byId, stored.id, key, this.#cacheSize);
    }
    return key;
  }

  #drop(id: string): void {
    this.#byId.delete(id);
    for (const [subject, entry] of this.#bySubject) if (entry.id === id) this.#bySubject.delete(subject);
  }
}

/** The sealed part of an event's data, if it has one. */
export function envelopeOf(data: unknown): Envelope | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const envelope = (data as Record<string, unknown>)[sealedField] as Envelope | undefined;
  return typeof envelope === 'object' && envelope !== null && typeof envelope.key === 'string'
    ? envelope
    : undefined;
}

/** The ids of the data keys a set of stored events was sealed with. */
export function keyIdsOf(events: readonly { readonly data: unknown }[]): string[] {
  const ids = new Set<string>();
  for (const event of events) {
    const envelope = envelopeOf(event.data);
    if (envelope !== undefined) ids.add(envelope.key);
  }
  return [...ids];
}

function hasAny(data: unknown, fields: readonly string[]): boolean {
  const record = data as Record<string, unknown>;
  return fields.some((field) => record[field] !== undefined);
}

function remember<TValue>(cache: Map<string, TValue>, key: string, value: TValue, size: number): void {
  cache.delete(key);
  cache.set(key, value);
  // The oldest first: a Map iterates in insertion order.
  if (cache.size > size) cache.delete(cache.keys().next().value as string);
}

/** Binds the sealed bytes to their key, event type and field names: moved or relabelled, they do not open. */
function additionalData(type: string, key: string, fields: readonly string[]): string {
  return `${type}\n${key}\n${fields.join('\n')}`;
}

/** A data key's id: 16 random bytes in base64url (22 characters), unique without asking the store. */
function newKeyId(): string {
  return toBase64(crypto.getRandomValues(new Uint8Array(16)))
    .replace(/=+$/, '')
    .replaceAll('+', '-')
    .replaceAll('/', '_');
}

/**
 * An event's data parted into what stays in clear, and the personal fields it gives (in the payload's order) with
 * their values in the same order.
 */
function split(
  data: Record<string, unknown>,
  personal: PersonalFields,
): { rest: Record<string, unknown>; values: unknown[]; fields: string[] } {
  const rest: Record<string, unknown> = {};
  const values: unknown[] = [];
  const fields: string[] = [];
  for (const name in data) {
    if (!Object.hasOwn(data, name)) continue;
    const value = data[name];
    if (value !== undefined && personal.fields.includes(name)) {
      values.push(value);
      fields.push(name);
    } else {
      rest[name] = value;
    }
  }
  return { rest, values, fields };
}

async function openEnvelope(aes: AesGcm, type: string, envelope: Envelope, key: unknown): Promise<unknown> {
  let opened: string;
  try {
    opened = await aes.open(key, envelope.sealed, additionalData(type, envelope.key, envelope.fields));
  } catch {
    // Not an erasure (the key exists): the bytes were changed, or moved from another event. Loud, not a placeholder.
    throw new Error(`The personal data of a '${type}' event does not open with its key: it was altered`);
  }
  return JSON.parse(opened);
}

/**
 * Refuses sealed fields moved from one subject's event to another's of the same type. The additional data binds
 * them to their type, key and field names, not to the subject (the key is theirs alone, so it names them): copied
 * whole into another event, they would open, and show one person's data as another's (a publisher on a bus can do
 * that much without any key). The key's row says whose it is. An event whose subject field is absent (an older
 * version, read before its upcast) is not refused for it.
 */
function checkSubject(
  event: { readonly data: unknown; readonly metadata: { readonly type: string } },
  key: StoredDataKey,
) {
  const personal = personalDataOf(event.metadata.type);
  if (personal === undefined) return;
  const subject = (event.data as Record<string, unknown>)[personal.subject];
  if (subject !== undefined && subject !== key.subject) {
    throw new Error(
      `The personal data of a '${event.metadata.type}' event is sealed with another subject's key: it was moved`,
    );
  }
}

/** An event's personal fields from their values, sealed in the order of the envelope's `fields`. */
function fieldsOf(envelope: Envelope, values: unknown): Record<string, unknown> {
  if (!Array.isArray(values) || values.length !== envelope.fields.length) {
    throw new Error(
      `Sealed personal data holds ${typeof values}, not the values of ${envelope.fields.join(', ')}`,
    );
  }
  const fields: Record<string, unknown> = {};
  for (const [i, name] of envelope.fields.entries()) fields[name] = values[i];
  return fields;
}

function placeholders(type: string, fields: readonly string[]): Record<string, unknown> {
  const personal = personalDataOf(type);
  const values: Record<string, unknown> = {};
  for (const field of fields) values[field] = personal === undefined ? erased : personal.placeholder(field);
  return values;
}
