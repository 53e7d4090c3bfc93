// Myelin's console in a real browser (Debian's Chromium through playwright-core), against the pizzeria's server on
// an in-memory PGlite with its projection daemon and its event relay: the manager opens the console from the
// dashboard, finds an event the relay could not deliver (a database refusing the customer's delivery count),
// replays it once the fault is gone and sees its effect in the order's story; then rebuilds the statistics from
// the page, to serving and to the same figures; and, once the customer is erased from the dashboard, finds the
// erasure listed. Nothing may break the page's Content-Security-Policy.
import { existsSync } from 'node:fs';
import { correlationHeader } from '@myelin/http';
import { EventRelay } from '@myelin/postgres';
import { type Browser, chromium, type Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { DeliveryRecorded } from './domain/customer.ts';
import type { StatisticsDto } from './shared/dtos.ts';
import { fastRunners, testServer } from './testing/testPizzeria.ts';

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

describe("Myelin's console in Chromium", () => {
  it('replays a dead letter from the page, with its effect in the story, rebuilds a projection to serving, and lists an erasure', async () => {
    if (!existsSync(executablePath)) {
      throw new Error(
        `The browser test needs Chromium at ${executablePath}: install Debian's "chromium" package (as .ci/run does), or set CHROMIUM_PATH to a Chromium executable`,
      );
    }
    await using t = await testServer();
    const { app, database } = t.pizzeria;
    const s = database.schema;
    await using _relay = new EventRelay(app, database, {
      ...fastRunners,
      maxAttempts: 2,
      backoffMs: 10,
    }).start();
    // The fault: the database refuses the customer's delivery count, as a broken dependency would.
    await database.exec(`
      CREATE FUNCTION ${s}.refuse_delivery_counts() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'the loyalty ledger is closed'; END $$;
      CREATE TRIGGER refuse_delivery_counts BEFORE INSERT ON ${s}.events FOR EACH ROW
        WHEN (NEW.type = '${DeliveryRecorded.type}') EXECUTE FUNCTION ${s}.refuse_delivery_counts();
    `);

    let position = '';
    const write = async (url: string, as: string, payload: object = {}) => {
      const response = await t.server.inject({
        method: 'POST',
        url,
        payload,
        headers: { authorization: `Bearer ${await t.token(as)}` },
      });
      expect(response.statusCode, response.body).toBeLessThan(300);
      position = String(response.headers['myelin-position']);
      return response;
    };
    const placed = await write('/api/orders', 'customer', {
      customerName: 'Toad',
      customerPhone: '555 0200',
      customerAddress: 'Mushroom Kingdom',
      pizzas: [{ name: 'margherita', size: 'medium' }],
    });
    const orderId = (placed.json() as { id: string }).id;
    await write(`/api/orders/${orderId}/cooking`, 'chef');
    await write(`/api/orders/${orderId}/ready`, 'chef');
    await write(`/api/orders/${orderId}/delivery`, 'driver');
    const delivered = await write(`/api/orders/${orderId}/delivered`, 'driver');
    const correlationId = String(delivered.headers[correlationHeader]);
    const statistics = async () => {
      const response = await t.server.inject({
        url: '/api/stats',
        headers: { authorization: `Bearer ${await t.token('manager')}`, 'myelin-position': position },
      });
      expect(response.statusCode, response.body).toBe(200);
      return response.json() as StatisticsDto;
    };
    const figures = await statistics();
    expect(figures.ordersByStatus.delivered).toBe(1);
    const deliveredOrders = async () =>
      (
        await database.query<{ state: { deliveredOrders: number } }>(
          `SELECT state FROM ${s}.documents WHERE collection = 'Customer'`,
        )
      ).rows[0]?.state.deliveredOrders;

    await t.server.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.server.addresses()[0] as { port: number };
    const origin = `http://127.0.0.1:${port}`;
    const browser: Browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
    const problems = { console: [] as string[], exceptions: [] as string[], violations: [] as string[] };
    try {
      const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
      await context.addInitScript({
        content: `
          window.cspViolations = [];
          document.addEventListener('securitypolicyviolation', (event) => {
            window.cspViolations.push(event.violatedDirective + ' blocked ' + (event.blockedURI || 'inline code'));
          });
        `,
      });
      context.on('page', (page) => {
        page.on('console', (message) => {
          if (message.type() === 'error') problems.console.push(message.text());
        });
        page.on('pageerror', (error) => problems.exceptions.push(error.message));
        page.on('response', (response) => {
          if (response.status() >= 400) problems.console.push(`${response.status()} ${response.url()}`);
        });
        page.on('dialog', (dialog) => void dialog.accept()); // the console confirms rebuilds and discards
      });

      // The manager signs in on the dashboard and opens the console in a tab of its own.
      const dashboard = await context.newPage();
      await dashboard.goto(`${origin}/#/manager`);
      await dashboard.getByTestId('signin-open').click();
      await dashboard.getByTestId('signin-user-manager').click();
      const [consolePage] = await Promise.all([
        context.waitForEvent('page'),
        dashboard.getByTestId('open-console').click(),
      ]);
      const page = consolePage as Page;
      await page.waitForURL(`${origin}/_myelin`); // the token has left the address
      await page.locator('#connection.live').waitFor();

      // The relay parked the delivery count: the page lists it with its handler and its error.
      const letter = page.locator('#dead-letters tbody tr');
      await letter.waitFor({ timeout: 20_000 });
      expect(await letter.textContent()).toContain('the loyalty ledger is closed');
      expect(await letter.textContent()).toContain('customers.countDeliveries');
      expect(await deliveredOrders()).toBe(0);

      // The fault is repaired; the manager replays the event from the page, and the relay delivers it.
      await database.exec(`DROP TRIGGER refuse_delivery_counts ON ${s}.events`);
      await letter.getByRole('button', { name: /^Replay/ }).click();
      await page.locator('#no-dead').waitFor({ state: 'visible' });
      await expect.poll(deliveredOrders, { timeout: 20_000 }).toBe(1);
      await page.locator('#actions li', { hasText: 'manager replayed 1' }).waitFor();

      // The delivery's story: the command, its event, the handler that took it and the event that handler wrote.
      await page.locator('#correlation').fill(correlationId);
      await page.getByRole('button', { name: 'Show' }).click();
      const story = page.locator('#story');
      await story.getByText('Command MarkDelivered').waitFor();
      await expect.poll(() => story.textContent()).toContain(DeliveryRecorded.type);
      expect(await story.textContent()).toMatch(/done relay:[^ ]+:customers\.countDeliveries/);

      // A rebuild of the statistics, started from the page, runs to serving with the same figures.
      const row = page.locator('#subscriptions tr[data-subscription="projection:statistics:v1"]');
      await row.getByRole('button', { name: 'Rebuild statistics' }).click();
      await page.locator('#actions li', { hasText: 'manager rebuilt statistics' }).waitFor();
      await row.getByText('serving').waitFor();
      expect(await row.getByRole('button', { name: 'Rebuild statistics' }).count()).toBe(1);
      const { rows } = await database.query<{ status: string; activated_at: Date }>(
        `SELECT status, activated_at FROM ${s}.projections WHERE name = 'statistics'`,
      );
      expect(rows).toEqual([{ status: 'active', activated_at: expect.any(Date) }]);
      expect(await statistics()).toEqual(figures);

      // The customer asks to be forgotten: from the dashboard's tab, the manager opens their order from its link
      // and erases them, with a ticket number; the console lists the erasure, who asked and why, never the data.
      expect(await page.locator('#no-erasures').isVisible()).toBe(true);
      await dashboard.getByTestId('forget-order').fill(`${origin}/#/orders/${orderId}`);
      await dashboard.getByTestId('forget-open').click();
      const customerId = (await dashboard.getByTestId('customer-id').textContent()) ?? '';
      expect(customerId).toMatch(/^customer-./);
      await dashboard.getByTestId('erase-customer').click();
      await dashboard.getByTestId('erase-reason').fill('Ticket 7');
      await dashboard.getByTestId('erase-confirm').click();
      await dashboard.getByTestId('customer-erased').waitFor();
      const erasure = page.locator('#erasures tbody tr');
      await erasure.waitFor({ timeout: 20_000 });
      const record = (await erasure.textContent()) ?? '';
      expect(record).toContain(customerId);
      expect(record).toContain('manager');
      expect(record).toContain('Ticket 7');
      expect(record).not.toMatch(/Toad|Mushroom|0200/);

      for (const open of context.pages()) {
        problems.violations.push(...((await open.evaluate('window.cspViolations')) as string[]));
      }
      expect(problems).toEqual({ console: [], exceptions: [], violations: [] });
    } finally {
      await browser.close();
    }
  }, 90_000);
});
