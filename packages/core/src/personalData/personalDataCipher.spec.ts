import { describe, expect, it } from 'vitest';
import { event, unchecked } from '../messages/message.ts';
import type { NewEvent } from '../persistence/eventStore.ts';
import { newEvent } from '../testing/events.ts';
import { localMasterKey, type MasterKey, newMasterKey } from './masterKey.ts';
import { erased } from './personalData.ts';
import { type DataKeyStore, PersonalDataCipher, type StoredDataKey } from './personalDataCipher.ts';

const Signed = event(
  'cipher.signed.v1',
  unchecked<{ memberId: string; name: string; email?: string; age: number; club: string }>(),
  { personal: { subject: 'memberId', fields: ['name', 'email'], placeholders: { age: -1 } } },
);

/** Keys in a Map: what an adapter's table does, with a way to delete them. */
function keyStore() {
  const keys = new Map<string, StoredDataKey>();
  const store: DataKeyStore = {
    async bySubject(subjects) {
      return new Map(
        [...keys.values()].filter((k) => subjects.includes(k.subject)).map((k) => [k.subject, k]),
      );
    },
    async create(made) {
      for (const key of made) {
        if (![...keys.values()].some((k) => k.subject === key.subject)) keys.set(key.id, key);
      }
      return store.bySubject(made.map((key) => key.subject));
    },
    async byId(ids) {
      return new Map(ids.flatMap((id) => (keys.has(id) ? [[id, keys.get(id) as StoredDataKey]] : [])));
    },
  };
  const forget = (subject: string) => {
    for (const [id, key] of keys) if (key.subject === subject) keys.delete(id);
  };
  return { store, keys, forget };
}

const signed = (memberId: string, extra: Partial<{ email: string }> = {}) =>
  newEvent(Signed.type, { memberId, name: `Name of ${memberId}`, age: 73_519, club: 'chess', ...extra });

describe('sealing personal data', () => {
  it('seals the declared fields under the subject’s key and opens them while it exists', async () => {
    const { store, keys } = keyStore();
    const cipher = new PersonalDataCipher(localMasterKey(newMasterKey()));
    const events: NewEvent[] = [signed('m1', { email: 'm1@example.com' }), signed('m2'), signed('m1')];
    const sealed = await cipher.seal(events, store);
    expect(keys.size).toBe(2);
    expect(sealed.keyIds).toHaveLength(2);
    const text = JSON.stringify(sealed.events.map((e) => e.data));
    expect(text).not.toContain('Name of');
    expect(text).not.toContain('m1@example.com');
    expect(text).not.toContain('73519'); // five digits: base64 and key ids hold short ones by chance
    expect(sealed.events[0]?.data).toEqual({
      memberId: 'm1',
      club: 'chess',
      // A key id of 22 characters, not a UUID's 36: every byte of a sealed event is the database's to parse.
      $personal: {
        key: expect.stringMatching(/^[\w-]{22}$/),
        fields: ['name', 'age', 'email'],
        sealed: expect.any(String),
      },
    });
    const opened = await cipher.reveal(sealed.events, store);
    expect(opened.map((e) => e.data)).toEqual(events.map((e) => e.data));
  });

  it('reads placeholders once the subject’s key is gone, and carries on', async () => {
    const { store, forget } = keyStore();
    const cipher = new PersonalDataCipher(localMasterKey(newMasterKey()));
    const sealed = await cipher.seal([signed('m1', { email: 'e' }), signed('m2')], store);
    forget('m1');
    const opened = await cipher.reveal(sealed.events, store);
    // The declared placeholder for a number; the text fields read as erased; the rest is as it was.
    expect(opened[0]?.data).toEqual({ memberId: 'm1', club: 'chess', name: erased, email: erased, age: -1 });
    expect(opened[1]?.data).toMatchObject({ memberId: 'm2', name: 'Name of m2' });
    // A subject that writes again gets a new key: the old events stay erased, the new ones open.
    cipher.forgotten(['m1'], []);
    const again = await cipher.seal([signed('m1')], store);
    expect(again.keyIds[0]).not.toBe(sealed.keyIds[0]);
    expect((await cipher.reveal(again.events, store))[0]?.data).toMatchObject({ name: 'Name of m1' });
  });

  it('refuses sealed fields moved into another subject’s event, rather than show one person’s data as another’s', async () => {
    const { store } = keyStore();
    const cipher = new PersonalDataCipher(localMasterKey(newMasterKey()));
    const sealed = await cipher.seal([signed('m1'), signed('m2')], store);
    const [m1, m2] = sealed.events as [NewEvent, NewEvent];
    const moved = {
      ...m2,
      data: { ...(m2.data as object), $personal: (m1.data as { $personal: unknown }).$personal },
    };
    await expect(cipher.reveal([moved], store)).rejects.toThrow(
      "The personal data of a 'cipher.signed.v1' event is sealed with another subject's key: it was moved",
    );
    // Each in its own event still opens.
    expect((await cipher.reveal([m1, m2], store)).map((e) => (e.data as { name: string }).name)).toEqual([
      'Name of m1',
      'Name of m2',
    ]);
  });

  it('leaves events with no personal data, or none given, as they are', async () => {
    const { store, keys } = keyStore();
    const cipher = new PersonalDataCipher(localMasterKey(newMasterKey()));
    const plain = newEvent('cipher.other.v1', { name: 'not declared' });
    const sealed = await cipher.seal([plain], store);
    expect(sealed).toEqual({ events: [plain], keyIds: [] });
    expect(keys.size).toBe(0);
  });

  it('refuses an event with personal data but no subject', async () => {
    const cipher = new PersonalDataCipher(localMasterKey(newMasterKey()));
    await expect(cipher.seal([signed('')], keyStore().store)).rejects.toThrow(
      "Event 'cipher.signed.v1' has personal data but no subject: its field 'memberId' must name one",
    );
  });

  it('opens with the master key that wrapped the key, and says so when it is another', async () => {
    const { store } = keyStore();
    const sealed = await new PersonalDataCipher(localMasterKey(newMasterKey(), 'k1')).seal(
      [signed('m1')],
      store,
    );
    await expect(
      new PersonalDataCipher(localMasterKey(newMasterKey(), 'k2')).reveal(sealed.events, store),
    ).rejects.toThrow(`is wrapped by master key 'k1', which is not among those configured ('k2' (current))`);
    // Same name, other bytes: the wrapped key does not open.
    await expect(
      new PersonalDataCipher(localMasterKey(newMasterKey(), 'k1')).reveal(sealed.events, store),
    ).rejects.toThrow();
  });

  it('asks a KMS once per key, and again after it failed', async () => {
    const { store } = keyStore();
    const local = localMasterKey(newMasterKey());
    let unwraps = 0;
    let down = false;
    const kms: MasterKey = {
      id: 'kms',
      wrap: (key) => local.wrap(key),
      unwrap: async (wrapped) => {
        unwraps += 1;
        if (down) throw new Error('KMS unavailable');
        return local.unwrap(wrapped);
      },
    };
    const sealed = await new PersonalDataCipher(kms).seal([signed('m1')], store);
    const reader = new PersonalDataCipher(kms);
    down = true;
    await expect(reader.reveal(sealed.events, store)).rejects.toThrow('KMS unavailable');
    down = false;
    for (let i = 0; i < 3; i++) await reader.reveal(sealed.events, store);
    expect(unwraps).toBe(2);
  });

  it('checks a master key given to localMasterKey', () => {
    expect(() => localMasterKey(undefined)).toThrow(/A master key is required/);
    expect(() => localMasterKey('c2hvcnQ=')).toThrow(
      'A master key is 32 bytes (44 characters of base64), not 5',
    );
    expect(() => localMasterKey('not base64 at all!')).toThrow('Not base64');
    // The right length, but typed or zeroed rather than made: refused before it protects anything.
    expect(() => localMasterKey(new Uint8Array(32))).toThrow(
      'A master key must be random (openssl rand -base64 32): this one has only 1 distinct byte values',
    );
    expect(() => localMasterKey(Buffer.from('abcdefghijklmnoabcdefghijklmnoab').toString('base64'))).toThrow(
      'only 15 distinct',
    );
    for (let i = 0; i < 1000; i++) expect(() => localMasterKey(newMasterKey())).not.toThrow();
  });
});

describe('rotating the master key', () => {
  const k1 = localMasterKey(newMasterKey(), 'k1');
  const k2 = localMasterKey(newMasterKey(), 'k2');
  const k3 = localMasterKey(newMasterKey(), 'k3');
  const names = (events: readonly NewEvent[]) => events.map((e) => (e.data as { name: string }).name);

  it('opens keys wrapped by a previous master key, and wraps new keys with the current one', async () => {
    const { store, keys } = keyStore();
    const before = await new PersonalDataCipher(k1).seal([signed('m1')], store);
    const rotated = new PersonalDataCipher(k2, { previousMasterKeys: [k3, k1] });
    const after = await rotated.seal([signed('m2'), signed('m1')], store);
    expect([...keys.values()].map((key) => [key.subject, key.masterKey])).toEqual([
      ['m1', 'k1'],
      ['m2', 'k2'],
    ]);
    expect(names(await rotated.reveal([...before.events, ...after.events], store))).toEqual([
      'Name of m1',
      'Name of m2',
      'Name of m1',
    ]);
    // The old master key alone opens what it wrapped, not what the new one did.
    const old = new PersonalDataCipher(k1);
    expect(names(await old.reveal(before.events, store))).toEqual(['Name of m1']);
    await expect(old.reveal(after.events, store)).rejects.toThrow(/wrapped by master key 'k2'/);
  });

  it('names the master key a data key needs, and those configured, when it is not one of them', async () => {
    const { store } = keyStore();
    const sealed = await new PersonalDataCipher(k1).seal([signed('m1')], store);
    const [keyId] = sealed.keyIds;
    await expect(
      new PersonalDataCipher(k2, { previousMasterKeys: [k3] }).reveal(sealed.events, store),
    ).rejects.toThrow(
      `Data key ${keyId} is wrapped by master key 'k1', which is not among those configured ('k2' (current), 'k3'): give it in previousMasterKeys until its data keys are rewrapped`,
    );
  });

  it('refuses two master keys of one id, saying how to name them', () => {
    const twice =
      "Two master keys are named 'local': each needs an id of its own, which the data keys it wraps record (localMasterKey(secret, 'k2'))";
    const [one, other] = [localMasterKey(newMasterKey()), localMasterKey(newMasterKey())];
    expect(() => new PersonalDataCipher(one, { previousMasterKeys: [other] })).toThrow(twice);
    expect(() => new PersonalDataCipher(k1, { previousMasterKeys: [one, other] })).toThrow(twice);
    expect(() => new PersonalDataCipher(k1, { previousMasterKeys: [k1] })).toThrow("named 'k1'");
  });
});
