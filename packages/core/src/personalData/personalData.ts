// Personal data in events: which fields of an event are a person's, and whose. The declaration sits on the event
// (`event(type, schema, { personal })`), so the type, the schema and the protection are one statement; the
// stores look it up by type when they append (see personalDataCipher.ts for what they do with it).
import { token } from '../dependencyInjection/token.ts';

/** The fields of a payload whose values are text (optional or not). */
export type TextFieldOf<TPayload> = {
  [K in keyof TPayload]-?: NonNullable<TPayload[K]> extends string ? K : never;
}[keyof TPayload] &
  string;

/**
 * What of an event is personal data, and whose it is. The fields are sealed with a key of the subject's own when
 * the event is appended, and read back in clear while the key exists; once the subject is forgotten (its key
 * deleted) they read as placeholders, everywhere, for ever, backups included.
 * @example
 * event('customer.registered.v1', schema, { personal: { subject: 'customerId', fields: ['name', 'phone'] } })
 */
export interface PersonalDataDeclaration<TPayload = any> {
  /** The field naming whom the data is about (a customer id). It stays in clear: it is how they are found. */
  readonly subject: TextFieldOf<TPayload>;
  /** Personal fields holding text: once the subject is forgotten they read as {@link erased}. */
  readonly fields?: readonly TextFieldOf<TPayload>[];
  /** Personal fields of other types, with the value each reads as once the subject is forgotten. */
  readonly placeholders?: { readonly [K in keyof TPayload]?: TPayload[K] };
}

/** What a forgotten subject's text fields read as. */
export const erased = '[erased]';

/** A declaration made ready for sealing: its personal fields in one list, each with its placeholder. */
export interface PersonalFields {
  readonly type: string;
  readonly subject: string;
  readonly fields: readonly string[];
  readonly placeholder: (field: string) => unknown;
}

/** The key under which a sealed event's data keeps its personal fields. No declared field may be named so. */
export const sealedField = '$personal';

// By event type: the type is the event's identity in the log, so what is personal in it is known by its name
// wherever the log is read or appended to (the event store takes types, not classes).
const declared = new Map<string, PersonalFields>();

/** @internal Checks a declaration and records it under its event type; called by `event()`. */
export function declarePersonalData(type: string, declaration: PersonalDataDeclaration): PersonalFields {
  const placeholders = (declaration.placeholders ?? {}) as Record<string, unknown>;
  const fields = [...(declaration.fields ?? []), ...Object.keys(placeholders)];
  const problem =
    typeof declaration.subject !== 'string' || declaration.subject === ''
      ? 'names no subject field'
      : fields.length === 0
        ? 'names no personal field'
        : fields.includes(declaration.subject)
          ? `seals its subject field '${declaration.subject}', which must stay in clear to find whose data it is`
          : new Set(fields).size !== fields.length
            ? 'names a personal field twice'
            : fields.includes(sealedField)
              ? `names a field '${sealedField}', which Myelin keeps sealed data in`
              : undefined;
  if (problem !== undefined) throw new TypeError(`The personal data of event '${type}' ${problem}`);
  const entry: PersonalFields = Object.freeze({
    type,
    subject: declaration.subject,
    fields: Object.freeze(fields),
    placeholder: (field: string) => (Object.hasOwn(placeholders, field) ? placeholders[field] : erased),
  });
  const known = declared.get(type);
  if (known !== undefined && !samePersonalFields(known, entry)) {
    throw new TypeError(`Event '${type}' is declared twice with different personal data`);
  }
  declared.set(type, entry);
  return entry;
}

function samePersonalFields(a: PersonalFields, b: PersonalFields): boolean {
  return (
    a.subject === b.subject &&
    a.fields.length === b.fields.length &&
    a.fields.every((field, i) => field === b.fields[i] && a.placeholder(field) === b.placeholder(field))
  );
}

/** The personal fields an event type declared, or undefined when it declared none. */
export function personalDataOf(type: string): PersonalFields | undefined {
  return declared.get(type);
}

/** The event types of this process that declared personal data. @internal */
export function personalDataTypes(): string[] {
  return [...declared.keys()];
}

/**
 * Whether any event type of this process declared personal data: then its read models may hold some in clear, and
 * its cached queries answer it, whether or not the process can open sealed fields. @internal
 */
export function anyPersonalDataDeclared(): boolean {
  return declared.size > 0;
}

/** Whom an erasure was asked for by, and why: kept with the erasure's record. Never the erased data. */
export interface ForgetOptions {
  /** Who asked (a user id, a ticket's author): the record of the erasure names them. */
  readonly requestedBy: string;
  /** Why, in words with no personal data in them (a ticket number, "customer's request"). */
  readonly reason?: string;
  /**
   * The subject's own user id (a token's subject), when they have one: the answers kept for their requests'
   * idempotency keys (which may repeat what they sent) are deleted too.
   */
  readonly principal?: string;
}

/** @internal Throws unless forget was told whom to forget and who asked: an erasure's record needs both. */
export function checkForget(subject: unknown, options: ForgetOptions | undefined): void {
  if (typeof subject !== 'string' || subject === '') throw new TypeError('forget needs a subject');
  if (typeof options?.requestedBy !== 'string' || options.requestedBy === '') {
    throw new TypeError('forget needs requestedBy: who asked for the erasure');
  }
}

/** What an erasure did, as its record keeps it (the console lists these). */
export interface Erasure {
  readonly id: string;
  readonly subject: string;
  readonly requestedBy: string;
  readonly reason: string | undefined;
  readonly at: Date;
  /** How many keys of the subject were deleted (0: the subject had written nothing personal). */
  readonly keys: number;
  /** The read models whose erasure hooks ran, each with its version. */
  readonly readModels: readonly string[];
  /** How many kept answers to the subject's idempotent requests were deleted. */
  readonly responses: number;
}

/**
 * Forgets people: deletes a subject's keys, so that every personal field sealed for them reads as a placeholder
 * from then on, and runs the read models' erasure hooks (`projection(...).erase(...)`) in the same transaction.
 * Inside a command it commits with the command's other changes.
 * @example await personalData.forget(customerId, { requestedBy: principal.subject, reason: 'ticket 4711' });
 */
export interface PersonalData {
  forget(subject: string, options: ForgetOptions): Promise<void>;
}

/** The service that forgets subjects; persistence adapters register it. */
export const PersonalData = token<PersonalData>('PersonalData');

/**
 * Opens the personal data of events that arrive from elsewhere (a bus consumer's), with the application's keys:
 * placeholders once forgotten. Persistence adapters register it.
 */
export interface PersonalDataReader {
  reveal<TEvent extends { readonly data: unknown; readonly metadata: { readonly type: string } }>(
    events: readonly TEvent[],
  ): Promise<TEvent[]>;
}

/** The application's reader of sealed personal data. */
export const PersonalDataReader = token<PersonalDataReader>('PersonalDataReader');
