// The raw twin of the `protected` case: the same appends through raw.ts's hand-written statement, with the four
// personal fields sealed by hand into the envelope Myelin writes (node:crypto's AES-256-GCM, IVs cut from a pooled
// random buffer, the same additional data), under a key per customer held in a Map; or left in clear. Its on/off
// is the floor of what sealing costs on this machine and this PostgreSQL: a cipher per event and a larger row,
// without Myelin's key table, its guard on the append or its seal() around the cipher.
import { createCipheriv, createSecretKey, type KeyObject, randomBytes, randomFillSync } from 'node:crypto';
import type { NewEvent } from '@myelin/core';
import { type Customer, customer, customerOrders, type Side } from './protected.ts';
import { type RawTwin, setUpRaw } from './raw.ts';
import type { Appender } from './workload.ts';

const fields = ['name', 'phone', 'address', 'email'] as const;
const schemas: Record<Side, string> = { on: 'bench_protected_raw_on', off: 'bench_protected_raw_off' };

// 341 IVs per call to the random source, as Myelin's node:crypto adapter cuts them.
const ivPool = Buffer.alloc(12 * 341);
let nextIv = ivPool.length;
function freshIv(): Buffer {
  if (nextIv + 12 > ivPool.length) {
    randomFillSync(ivPool);
    nextIv = 0;
  }
  const iv = Buffer.from(ivPool.subarray(nextIv, nextIv + 12));
  nextIv += 12;
  return iv;
}

/** Seals an event's personal fields as Myelin does: the values as a JSON array, bound to type, key and names. */
function sealer(): (event: NewEvent) => NewEvent {
  const keys = new Map<string, { readonly id: string; readonly key: KeyObject }>();
  return ({ data, metadata }) => {
    const { name, phone, address, email, ...rest } = data as Record<(typeof fields)[number], string>;
    const subject = (data as { customerId: string }).customerId;
    let key = keys.get(subject);
    if (key === undefined) {
      key = { id: randomBytes(16).toString('base64url'), key: createSecretKey(randomBytes(32)) };
      keys.set(subject, key);
    }
    const iv = freshIv();
    const cipher = createCipheriv('aes-256-gcm', key.key, iv);
    cipher.setAAD(Buffer.from(`${metadata.type}\n${key.id}\n${fields.join('\n')}`, 'utf8'));
    const body = cipher.update(JSON.stringify([name, phone, address, email]), 'utf8');
    cipher.final();
    const sealed = Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64');
    return { data: { ...rest, $personal: { key: key.id, fields, sealed } }, metadata };
  };
}

/** The twin of each side: "on" seals by hand before the append, "off" appends the events as they are. */
export async function setUpRawProtected(): Promise<Record<Side, Appender>> {
  const on = await setUpRaw(schemas.on);
  const off = await setUpRaw(schemas.off).catch(async (error: unknown) => {
    await on.close();
    throw error;
  });
  const seal = sealer();
  const sealing: RawTwin = {
    ...on,
    append: (streamId, events, version) => on.append(streamId, events.map(seal), version),
  };
  try {
    for (const [side, twin] of [
      ['on', sealing],
      ['off', off],
    ] as const)
      await check(side, twin);
  } catch (error) {
    await Promise.all([on.close(), off.close()]);
    throw error;
  }
  return { on: sealing, off };
}

/** Checks that "on" stores none of a customer's strings in clear, and "off" stores them all. */
async function check(side: Side, twin: RawTwin): Promise<void> {
  const who = customer(0);
  const streamId = `check-raw-${side}`;
  await twin.append(streamId, customerOrders(side, who, 2), 0);
  const { rows } = await twin.pool.query<{ data: string }>(
    `SELECT data::text AS data FROM ${twin.schema}.events WHERE stream_id = $1`,
    [streamId],
  );
  const clear = rows.filter((row) => fields.some((field) => row.data.includes(who[field as keyof Customer])));
  if (rows.length !== 2 || clear.length !== (side === 'on' ? 0 : 2)) {
    throw new Error(
      `protected, raw ${side}: ${clear.length} of ${rows.length} stored events hold personal data in clear`,
    );
  }
  await twin.reset();
}
