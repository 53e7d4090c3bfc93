// The console's page in a real browser (Debian's Chromium through playwright-core): an erasure recorded while an
// operator watches appears in its list, from the live status alone, under the page's Content-Security-Policy.
import { existsSync } from 'node:fs';
import {
  createApplication,
  type Erasure,
  type LogPosition,
  Operations,
  type Story,
  type SubscriptionStatus,
} from '@myelin/core';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { api, auth, testModule } from '../../testing/testApi.ts';
import { issueToken } from '../devTokens.ts';
import { createServer } from '../server.ts';

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * A console over a stand-in for the operations, and a token of its role; `subscriptions` gives the status's at each
 * call, `story` the story of any correlation id.
 */
async function consoleServer(
  given: { readonly subscriptions?: () => SubscriptionStatus[]; readonly story?: Story } = {},
) {
  if (!existsSync(executablePath)) {
    throw new Error(
      `The browser test needs Chromium at ${executablePath}: install Debian's "chromium" package, or set CHROMIUM_PATH`,
    );
  }
  const erasures: Erasure[] = [];
  const unused = () => Promise.reject(new Error('not used by this test'));
  const operations: Operations = {
    status: async () => ({
      at: new Date(),
      head: '1.0' as LogPosition,
      subscriptions: given.subscriptions?.() ?? [],
      actions: [],
      lastErasure: erasures[0]?.id,
    }),
    deadLetters: async () => [],
    erasures: async () => erasures,
    processes: async () => [],
    replay: unused,
    discard: unused,
    rebuild: unused,
    story: given.story === undefined ? unused : async () => given.story as Story,
  };
  const app = await createApplication()
    .include(testModule)
    .singleton(Operations, () => operations)
    .build();
  const server = await createServer({
    app,
    routes: api,
    auth,
    fastify: { logger: false },
    console: { role: 'operator', refreshMs: 100 },
  });
  await server.listen({ port: 0, host: '127.0.0.1' });
  const { port } = server.addresses()[0] as { port: number };
  const token = await issueToken(auth, { username: 'ops-1', password: '', roles: ['operator'] }, 60);
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  return {
    erasures,
    browser,
    url: `http://127.0.0.1:${port}/_myelin#token=${token}`,
    async close() {
      await browser.close();
      await server.close();
      await app.dispose();
    },
  };
}

describe('the console in Chromium', () => {
  it('shows each subscription’s state, a rebuild’s progress, the outbox’s backlog, throughput, and a story’s received events', async () => {
    const at = (ms: number) => new Date(Date.now() - ms);
    const row = (name: string, more: Partial<SubscriptionStatus>): SubscriptionStatus => ({
      name,
      kind: 'projection',
      position: '1.0' as LogPosition,
      lagEvents: 0,
      lagMs: 0,
      handled: 0,
      holder: 'host-1/42',
      retrying: 0,
      parked: 0,
      ...more,
    });
    let published = 0;
    const version = (v: number, state: 'building' | 'serving' | 'retired') => ({
      name: 'kitchen',
      version: v,
      mode: 'async' as const,
      state,
    });
    const { browser, url, close } = await consoleServer({
      subscriptions: () => [
        row('projection:kitchen:v1', { projection: version(1, 'retired'), holder: undefined }),
        row('projection:kitchen:v2', { projection: version(2, 'serving'), handled: 900 }),
        row('projection:kitchen:v3', { projection: version(3, 'building'), progress: 0.4, lagEvents: 540 }),
        // The outbox: the integration publisher, with events waiting and one retrying; 50 more sent each look.
        row('integration-publisher', {
          kind: 'publisher',
          lagEvents: 3,
          lagMs: 1500,
          retrying: 1,
          handled: (published += 50),
        }),
      ],
      story: {
        correlationId: 'c-1',
        causes: [
          {
            id: 'm-1',
            type: 'MarkReady',
            kind: 'command',
            events: [
              {
                eventId: 'e-1',
                type: 'order.ready.v1',
                streamId: 'Order-1',
                occurredAt: at(2000),
                position: '5.0' as LogPosition,
                deliveries: [
                  { subscription: 'integration-publisher', kind: 'publisher', state: 'done', at: at(1500) },
                ],
              },
            ],
          },
        ],
        received: [
          { eventId: 'e-9', subscription: 'deliveries.notify', kind: 'handler', state: 'done', at: at(1000) },
        ],
      },
    });
    try {
      const page = await browser.newPage();
      await page.goto(url);
      await page.locator('#connection.live').waitFor({ timeout: 20_000 });
      const cells = (name: string) => page.locator(`#subscriptions tr[data-subscription="${name}"] td`);
      expect(await cells('projection:kitchen:v1').nth(1).textContent()).toBe('retired async v1');
      expect(await cells('projection:kitchen:v1').nth(8).textContent()).toBe('no process');
      expect(await cells('projection:kitchen:v2').nth(1).textContent()).toBe('serving async v2');
      const bar = page.getByLabel('kitchen built 40%');
      expect(await bar.getAttribute('title')).toBe('40%');
      const outbox = await cells('integration-publisher').allTextContents();
      expect(outbox.slice(1, 5)).toEqual(['publisher', '1.0', '3', '1.5 s']);
      expect(outbox[6]).toBe('1');
      // Throughput, from the growth of what it handled between two looks: 50 events each.
      const throughput = cells('integration-publisher').nth(5);
      await expect.poll(() => throughput.textContent(), { timeout: 20_000 }).toMatch(/^[0-9.]+$/);
      expect(Number(await cells('integration-publisher').nth(5).textContent())).toBeGreaterThan(0);
      expect(await cells('projection:kitchen:v1').nth(5).textContent()).toBe('0.0'); // handled nothing since

      await page.fill('#correlation', 'c-1');
      await page.click('#story-form button[type="submit"]');
      const story = page.locator('#story');
      await story.getByText('Received from the bus').waitFor({ timeout: 20_000 });
      const text = await story.textContent();
      expect(text).toContain('Command MarkReady');
      expect(text).toContain('done integration-publisher at ');
      expect(text).toContain('deliveries.notify received e-9 from the bus');
    } finally {
      await close();
    }
  }, 60_000);

  it('lists an erasure recorded while the operator watches, and breaks no security policy', async () => {
    const { erasures, browser, url, close } = await consoleServer();
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(message.text());
      });
      await page.goto(url);
      await page.locator('#connection.live').waitFor({ timeout: 20_000 });
      expect(await page.locator('#no-erasures').isVisible()).toBe(true);

      erasures.unshift({
        id: '1',
        subject: 'customer-7',
        requestedBy: 'dpo-1',
        reason: 'ticket 4711',
        at: new Date(),
        keys: 1,
        readModels: ['customers v2'],
        responses: 2,
      });
      const row = page.locator('#erasures tr[data-erasure="1"]');
      await row.waitFor({ timeout: 20_000 });
      const cells = await row.locator('td').allTextContents();
      expect(cells.slice(1)).toEqual(['customer-7', 'dpo-1', 'ticket 4711', '1', 'customers v2', '2']);
      expect(await page.locator('#no-erasures').isVisible()).toBe(false);
      expect(problems).toEqual([]);
    } finally {
      await close();
    }
  }, 60_000);

  it('reopens a refused live stream after a pause that doubles, not in a loop, and goes live when it can', async () => {
    const { browser, url, close } = await consoleServer();
    try {
      const page = await browser.newPage();
      // The page's clock is the test's, stopped: each pause passes only when the test moves it on.
      await page.clock.install({ time: 0 });
      await page.clock.pauseAt(1000);
      let refusing = true;
      let attempts = 0;
      await page.route('**/_myelin/api/live?*', async (route) => {
        attempts++;
        if (refusing) await route.fulfill({ status: 503, body: '' });
        else await route.fallback();
      });
      const pill = page.locator('#connection');
      await page.goto(url);
      for (const pause of [1000, 2000, 4000, 8000]) {
        // Refused, the page says when it tries again; not a moment before does it.
        await page.locator(`#connection.down[data-retry-ms="${pause}"]`).waitFor({ timeout: 20_000 });
        const before = attempts;
        await page.clock.runFor(pause - 1);
        expect(attempts).toBe(before);
        await page.clock.runFor(1); // tried again: the next refusal names the next pause
      }
      await page.locator('#connection.down[data-retry-ms="16000"]').waitFor({ timeout: 20_000 });
      expect(attempts).toBe(5);
      expect(await pill.textContent()).toBe('disconnected: retrying in 16.0 s');
      refusing = false;
      await page.clock.runFor(16_000);
      await page.locator('#connection.live').waitFor({ timeout: 20_000 });
      expect(attempts).toBe(6);
    } finally {
      await close();
    }
  }, 60_000);
});
