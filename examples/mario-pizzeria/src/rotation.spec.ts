// Rotating the master key of personal data, as an operator does it (README.md, "Rotating the master key"), with the
// processes a deployment runs. A guest orders under key A. Started with key B alone, before any rewrap, the pizzeria
// refuses to start, naming the missing key (it could not read the customer's details, and a step of the order would
// fail), and so does the rewrap command. Started with B current and A previous, it rewraps the data key at start
// and reads the order; started with B alone again, it still does. On PostgreSQL, the projector's start does the
// rewrap; on PGlite, in embedded mode, the command.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newMasterKey } from '@myelin/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { developmentMasterKey } from './keptKeys.ts';
import type { OrderDto } from './shared/dtos.ts';
import { json, PizzeriaRun, requireServices, type Started, stop } from './testing/pizzeriaProcesses.ts';

const pizzeria = new PizzeriaRun();
afterAll(() => pizzeria.cleanUp(), 30_000);
const exampleDir = fileURLToPath(new URL('..', import.meta.url));

/** The open pizzeria's address, once it says it. */
async function urlOf(started: Started): Promise<string> {
  return (await started.line(/open at (http:\/\/\S+)/))[1] ?? '';
}

/** A guest's order, with details of this run's own; its page's path (which carries its key) and what it showed. */
async function placeOrder(url: string): Promise<{ location: string; order: Omit<OrderDto, 'accessKey'> }> {
  const placed = await fetch(`${url}/api/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      customerName: `Toadette ${pizzeria.id}`,
      customerPhone: '555 0190',
      customerAddress: `${pizzeria.id} Mushroom Way`,
      pizzas: [{ name: 'margherita', size: 'medium' }],
    }),
  });
  const { accessKey: _key, ...order } = await json<OrderDto>(placed);
  return { location: placed.headers.get('location') ?? '', order };
}

/** A step of the order, as staff take it: the answer is the order as the log has it. */
function step(url: string, id: string, name: 'cooking' | 'ready', token: string): Promise<Response> {
  return fetch(`${url}/api/orders/${id}/${name}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
  });
}

const details = (order: Omit<OrderDto, 'accessKey'>) => ({
  customerName: order.customerName,
  customerPhone: order.customerPhone,
  customerAddress: order.customerAddress,
});

/** The exit code of a process that ends by itself. */
async function exitOf(started: Started): Promise<number | null> {
  const { child } = started;
  if (child.exitCode !== null) return child.exitCode;
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** `npm run rewrap-keys` in the pizzeria's folder, with this environment; its exit code and what it printed. */
async function rewrapKeys(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const { DATABASE_URL: _url, NATS_URL: _nats, ...inherited } = process.env;
  const child: ChildProcess = spawn('npm', ['run', '--silent', 'rewrap-keys'], {
    cwd: exampleDir,
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, output };
}

describe('rotating the master key on PostgreSQL', () => {
  beforeAll(() => requireServices(), 15_000);

  it('reads the personal data under the new key once the projector has rewrapped it, and not before', {
    timeout: 180_000,
  }, async () => {
    const keyA = pizzeria.production.MYELIN_MASTER_KEY ?? '';
    const keyB = newMasterKey();
    // At info, the rewrap's report is in the log.
    const withA = { ...pizzeria.production, LOG_LEVEL: 'info' };
    const onlyB = { ...withA, MYELIN_MASTER_KEY: keyB, MYELIN_MASTER_KEY_ID: 'k2' };
    const bWithA = { ...onlyB, MYELIN_PREVIOUS_MASTER_KEYS: `local:${keyA}` };
    const chef = await pizzeria.tokenFor('chef');

    const first = pizzeria.start('all', withA);
    const { order } = await placeOrder(await urlOf(first));
    await stop(first);

    // B alone, A forgotten: the pizzeria refuses to start, and both it and the rewrap command say which key is
    // missing, rather than a process that serves and then fails the steps of older orders.
    const forgotten = pizzeria.start('all', onlyB);
    expect(await exitOf(forgotten)).toBe(2);
    expect(forgotten.output()).toContain(
      "Mario's Pizzeria cannot start: customers' data keys are wrapped by a master key it is not given (1 under 'local'), so their personal data could not be read. Give it in MYELIN_PREVIOUS_MASTER_KEYS as id:key",
    );
    const missing = await rewrapKeys(onlyB);
    expect(missing.code, missing.output).toBe(1);
    expect(missing.output).toContain(
      "1 data key is wrapped by master key 'local', which this process is not given",
    );

    // B current, A previous: the start rewraps, and the order reads under both meanwhile.
    const rotating = pizzeria.start('all', bWithA);
    const rotatingUrl = await urlOf(rotating);
    await rotating.line(/rewrapped 1 data key under master key 'k2'; none is left under 'local': drop them/);
    const cooking = await step(rotatingUrl, order.id, 'cooking', chef);
    expect(await json<OrderDto>(cooking)).toMatchObject({ ...details(order), status: 'cooking' });
    // The command, beside the running process, finds nothing left to do: the deploy script's signal.
    const done = await rewrapKeys(bWithA);
    expect(done.code, done.output).toBe(0);
    expect(done.output).toContain('{"rewrapped":0,"left":0,"unknown":0,"unknownMasterKeys":[]}');
    await stop(rotating);

    // A dropped: B alone reads it all.
    const rotated = pizzeria.start('all', onlyB);
    const ready = await step(await urlOf(rotated), order.id, 'ready', chef);
    expect(await json<OrderDto>(ready)).toMatchObject({ ...details(order), status: 'ready' });
    const checked = await rewrapKeys(onlyB);
    expect(checked.code, checked.output).toBe(0);
    expect(checked.output).toContain("every data key is under master key 'k2'");
    await stop(rotated);

    // No key was ever shown, in any log or answer.
    for (const started of [first, forgotten, rotating, rotated]) {
      for (const key of [keyA, keyB]) expect(started.output()).not.toContain(key);
    }
    for (const key of [keyA, keyB]) {
      expect(missing.output + done.output + checked.output).not.toContain(key);
    }
  });
});

describe('the rewrap command', () => {
  it('gives up on a PostgreSQL that does not answer, after REWRAP_WAIT_SECONDS, with exit code 3', {
    timeout: 60_000,
  }, async () => {
    // Nothing listens on port 1: each attempt is refused, as by a server that is down.
    const down = {
      ...pizzeria.production,
      DATABASE_URL: 'postgres://127.0.0.1:1/test',
      REWRAP_WAIT_SECONDS: '2',
    };
    const started = performance.now();
    const gaveUp = await rewrapKeys(down);
    expect(gaveUp.code, gaveUp.output).toBe(3);
    expect(gaveUp.output).toContain(
      'The rewrap failed: PostgreSQL did not answer within 2 s (REWRAP_WAIT_SECONDS)',
    );
    expect(performance.now() - started).toBeLessThan(30_000);
    const wrong = await rewrapKeys({ ...down, REWRAP_WAIT_SECONDS: 'soon' });
    expect(wrong.code, wrong.output).toBe(2);
    expect(wrong.output).toContain('REWRAP_WAIT_SECONDS must be a whole number of seconds from 1 to 3600');
  });
});

describe('rotating the development key in embedded mode', () => {
  let dataDir = '';
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'pizzeria-rotation-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('rewraps with the command while the pizzeria is stopped, then reads under the new key alone', {
    timeout: 120_000,
  }, async () => {
    const first = pizzeria.start('all', { DATA_DIR: dataDir });
    const url = await urlOf(first);
    const { order } = await placeOrder(url);
    const login = await fetch(`${url}/api/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'chef', password: 'chef' }),
    });
    const chef = (await json<{ accessToken: string }>(login)).accessToken;
    // The embedded database is the running process's own: the command says so and leaves it alone.
    const newKey = { DATA_DIR: dataDir, MYELIN_MASTER_KEY: newMasterKey(), MYELIN_MASTER_KEY_ID: 'k2' };
    const development = readFileSync(join(dataDir, developmentMasterKey.file), 'utf8').trim();
    const rotation = { ...newKey, MYELIN_PREVIOUS_MASTER_KEYS: `local:${development}` };
    const locked = await rewrapKeys(rotation);
    expect(locked.code, locked.output).toBe(2);
    expect(locked.output).toMatch(
      /The rewrap cannot run: The embedded database in .* is in use by process \d+/,
    );
    await stop(first);

    // A previous key under the right id that is not the key that wrapped: the rewrap fails, exit code 3, no key shown.
    const wrongKey = newMasterKey();
    const wrong = await rewrapKeys({ ...newKey, MYELIN_PREVIOUS_MASTER_KEYS: `local:${wrongKey}` });
    expect(wrong.code, wrong.output).toBe(3);
    expect(wrong.output).toContain('The rewrap failed: a previous master key did not open a data key');
    for (const secret of [wrongKey, newKey.MYELIN_MASTER_KEY, development])
      expect(wrong.output).not.toContain(secret);

    const rewrapped = await rewrapKeys(rotation);
    expect(rewrapped.code, rewrapped.output).toBe(0);
    expect(rewrapped.output).toContain(
      "rewrapped 1 data key under master key 'k2'; none is left under 'local'",
    );

    const rotated = pizzeria.start('all', newKey);
    const cooking = await step(await urlOf(rotated), order.id, 'cooking', chef);
    expect(await json<OrderDto>(cooking)).toMatchObject({ ...details(order), status: 'cooking' });
    await stop(rotated);
    const checked = await rewrapKeys(newKey);
    expect(checked.code, checked.output).toBe(0);
    expect(checked.output).toContain("every data key is under master key 'k2'");
  });
});
