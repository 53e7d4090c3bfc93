// The web UI in a real browser (Debian's Chromium through playwright-core), against the real server on an
// in-memory PGlite with its projection daemon: a customer orders, the chef sees the order arrive on the kitchen
// board live, cooks it and calls it ready, and the customer's page turns to "ready" by itself; and a manager
// erases a customer from their order's page, after which staff see the order with the details marked erased and
// the customer's page finds no order. Nothing on the way may log an error or break the page's
// Content-Security-Policy.
import { existsSync } from 'node:fs';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { type TestServer, testServer } from './testing/testPizzeria.ts';

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** What went wrong in one page: console errors, uncaught exceptions, CSP violations, requests to elsewhere. */
interface Problems {
  readonly console: string[];
  readonly exceptions: string[];
  readonly violations: string[];
  readonly elsewhere: string[];
}

async function openPage(browser: Browser, origin: string, problems: Problems): Promise<Page> {
  const context: BrowserContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  // Run by the browser before the page's own scripts (and not subject to its policy): records each violation.
  await context.addInitScript({
    content: `
      window.cspViolations = [];
      document.addEventListener('securitypolicyviolation', (event) => {
        window.cspViolations.push(event.violatedDirective + ' blocked ' + (event.blockedURI || 'inline code'));
      });
    `,
  });
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') problems.console.push(message.text());
  });
  page.on('pageerror', (error) => problems.exceptions.push(error.message));
  page.on('request', (request) => {
    if (!request.url().startsWith(`${origin}/`) && !request.url().startsWith('data:')) {
      problems.elsewhere.push(request.url());
    }
  });
  return page;
}

// (The page's globals, read as expressions: this file is compiled without the DOM's types.)
const violationsOf = async (page: Page) => (await page.evaluate('window.cspViolations')) as string[];

/** Serves the pizzeria on a free port and opens Chromium; the test closes the browser. */
async function serveAndLaunch(pizzeria: TestServer): Promise<{ origin: string; browser: Browser }> {
  if (!existsSync(executablePath)) {
    throw new Error(
      `The browser test needs Chromium at ${executablePath}: install Debian's "chromium" package (as .ci/run does), or set CHROMIUM_PATH to a Chromium executable`,
    );
  }
  await pizzeria.server.listen({ port: 0, host: '127.0.0.1' });
  const { port } = pizzeria.server.addresses()[0] as { port: number };
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  return { origin: `http://127.0.0.1:${port}`, browser };
}

describe("Mario's Pizzeria in Chromium", () => {
  it('a customer orders, the chef cooks the order from the live kitchen board, the customer sees it ready', async () => {
    await using pizzeria = await testServer();
    const { origin, browser } = await serveAndLaunch(pizzeria);
    const problems: Problems = { console: [], exceptions: [], violations: [], elsewhere: [] };
    try {
      // The chef signs in through the sign-in panel and opens the kitchen board: nothing to cook yet.
      const chef = await openPage(browser, origin, problems);
      await chef.goto(`${origin}/#/kitchen`);
      await chef.getByTestId('gate').waitFor();
      await chef.getByTestId('signin-open').click();
      await chef.getByTestId('signin-user-chef').click();
      await expect.poll(() => chef.getByTestId('current-user').textContent()).toContain('chef');
      const kitchen = chef.getByTestId('kitchen-board');
      await kitchen.waitFor();
      await chef.locator('[data-testid="live-indicator"][data-state="live"]').waitFor();
      expect(await kitchen.getByTestId('kitchen-ticket').count()).toBe(0);

      // The customer, not signed in, orders from the menu; prices follow the server's rule as they choose.
      const customer = await openPage(browser, origin, problems);
      await customer.goto(`${origin}/`);
      await customer.waitForURL(/#\/menu$/);
      const margherita = customer.locator('[data-testid="pizza-card"][data-pizza="Margherita"]');
      await margherita.waitFor();
      await margherita.getByTestId('size-large').check();
      await margherita.getByTestId('topping-basil').check();
      expect(await margherita.getByTestId('item-price').textContent()).toBe('$23.38'); // 12.99 × (1.6 + 0.2)
      await margherita.getByTestId('add-to-order').click();
      const pepperoni = customer.locator('[data-testid="pizza-card"][data-pizza="Pepperoni"]');
      await pepperoni.getByTestId('size-small').check();
      expect(await pepperoni.getByTestId('item-price').textContent()).toBe('$11.99'); // 14.99 × 0.8
      await pepperoni.getByTestId('add-to-order').click();
      expect(await customer.getByTestId('cart-item').count()).toBe(2);
      expect(await customer.getByTestId('cart-total').textContent()).toBe('$35.37');
      await customer.getByTestId('customer-name').fill('Giulia Rossi');
      await customer.getByTestId('customer-phone').fill('+1 555 0199');
      await customer.getByTestId('customer-address').fill('12 Via Roma, 3rd floor');
      await customer.getByTestId('order-notes').fill('Extra crispy, please');
      await customer.getByTestId('place-order').click();

      // The order's page: confirmed, with the server's prices, followed live.
      await customer.waitForURL(/#\/orders\/[\w-]+$/);
      const orderPage = customer.getByTestId('order-page');
      await orderPage.waitFor();
      const orderId = (await orderPage.getAttribute('data-order-id')) ?? '';
      expect(orderId).toMatch(/^[0-9a-f-]{36}$/);
      const status = customer.getByTestId('order-status');
      await expect.poll(() => status.getAttribute('data-status')).toBe('confirmed');
      expect(await customer.getByTestId('order-total').textContent()).toBe('$35.37');
      await customer.locator('[data-testid="live-indicator"][data-state="live"]').waitFor();
      // A mark that a reload would wipe: the page must change by itself.
      await customer.evaluate('window.sameDocument = true');

      // The order arrives on the chef's board without a reload; one click each to cook it and call it ready.
      const ticket = kitchen.locator(`[data-testid="kitchen-ticket"][data-order-id="${orderId}"]`);
      await ticket.waitFor({ timeout: 15_000 });
      expect(await ticket.textContent()).toContain('Giulia Rossi');
      expect(await ticket.textContent()).toContain('Extra crispy, please');
      await ticket.getByTestId('start-cooking').click();
      await expect.poll(() => ticket.getAttribute('data-status')).toBe('cooking');
      await ticket.getByTestId('mark-ready').click();
      await ticket.waitFor({ state: 'detached' }); // ready orders leave the kitchen's queue

      // The customer's page turns to "ready" by itself.
      await expect.poll(() => status.getAttribute('data-status'), { timeout: 15_000 }).toBe('ready');
      expect(await status.textContent()).toBe('Ready');
      expect(await customer.getByTestId('order-headline').textContent()).toBe('Your order is ready');
      const readyStep = customer.locator('[data-testid="tracker-step"][data-step="ready"]');
      expect(await readyStep.getAttribute('data-state')).toBe('current');
      expect(await customer.locator('[data-testid="tracker-step"][data-state="done"]').count()).toBe(2);
      expect(await customer.evaluate('window.sameDocument')).toBe(true);
      // The customer can come back to it: the order is remembered on this device.
      await customer.getByTestId('nav-orders').click();
      await customer.getByTestId('order-row').first().waitFor();
      expect(await customer.getByTestId('order-row').first().textContent()).toContain(
        `#${orderId.slice(0, 8).toUpperCase()}`,
      );

      problems.violations.push(...(await violationsOf(chef)), ...(await violationsOf(customer)));
      expect(problems).toEqual({ console: [], exceptions: [], violations: [], elsewhere: [] });
    } finally {
      await browser.close();
    }
  }, 60_000);

  it("a manager erases an order's customer from its page: staff see the details erased, the customer finds no order", async () => {
    await using pizzeria = await testServer();
    const { origin, browser } = await serveAndLaunch(pizzeria);
    const problems: Problems = { console: [], exceptions: [], violations: [], elsewhere: [] };
    try {
      // A customer, not signed in, orders one pizza with their details and a note.
      const customer = await openPage(browser, origin, problems);
      await customer.goto(`${origin}/#/menu`);
      const margherita = customer.locator('[data-testid="pizza-card"][data-pizza="Margherita"]');
      await margherita.getByTestId('add-to-order').click();
      await customer.getByTestId('customer-name').fill('Giulia Rossi');
      await customer.getByTestId('customer-phone').fill('+1 555 0199');
      await customer.getByTestId('customer-address').fill('12 Via Roma, 3rd floor');
      await customer.getByTestId('order-notes').fill('Ring twice for Mrs Rossi');
      await customer.getByTestId('place-order').click();
      await customer.waitForURL(/#\/orders\/[\w-]+$/);
      const orderId = (await customer.getByTestId('order-page').getAttribute('data-order-id')) ?? '';
      await customer.getByTestId('order-headline').waitFor();
      const number = `#${orderId.slice(0, 8).toUpperCase()}`;

      // The manager signs in on the dashboard and opens the order from the orders in progress.
      const manager = await openPage(browser, origin, problems);
      await manager.goto(`${origin}/#/manager`);
      await manager.getByTestId('gate-signin-manager').click();
      const row = manager.locator(`[data-testid="active-order"][data-order-id="${orderId}"]`);
      await row.waitFor({ timeout: 15_000 });
      expect(await row.textContent()).toContain('Giulia Rossi');
      await row.getByRole('link', { name: number }).click();
      await manager.waitForURL(`${origin}/#/orders/${orderId}`);
      const data = manager.getByTestId('customer-data');
      await data.waitFor();
      expect(await data.getByTestId('customer-id').textContent()).toBe(`guest-${orderId}`); // a guest's order
      const details = manager.locator('.details');
      expect(await details.textContent()).toContain('12 Via Roma, 3rd floor');

      // The action asks first, naming what it erases and that it is for good; keeping the data changes nothing.
      await data.getByTestId('erase-customer').click();
      const dialog = manager.getByTestId('erase-dialog');
      await dialog.waitFor();
      expect(await dialog.getAttribute('open')).not.toBeNull();
      const warning = (await dialog.textContent()) ?? '';
      expect(warning).toContain(`guest-${orderId}`);
      expect(warning).toContain('name, phone, address, e-mail and notes');
      expect(warning).toContain('This cannot be undone.');
      await dialog.getByTestId('erase-keep').click();
      await dialog.waitFor({ state: 'detached' });
      expect(await details.textContent()).toContain('Giulia Rossi');

      // A refusal (here a 403, as for a manager whose role was just withdrawn) is told as the app tells problems,
      // and erases nothing.
      await manager.route('**/api/customers/**', (route) =>
        route.fulfill({
          status: 403,
          contentType: 'application/problem+json',
          body: JSON.stringify({
            type: 'about:blank',
            title: 'Forbidden',
            status: 403,
            detail: 'Not allowed',
          }),
        }),
      );
      await data.getByTestId('erase-customer').click();
      await dialog.getByTestId('erase-confirm').click();
      await dialog.waitFor({ state: 'detached' });
      const refusal = manager.locator('[data-testid="toast"][role="alert"]');
      await refusal.waitFor();
      expect(await refusal.textContent()).toContain("Could not erase the customer's personal data");
      expect(await refusal.textContent()).toContain('Not allowed');
      expect(await details.textContent()).toContain('Giulia Rossi');
      await manager.unroute('**/api/customers/**');

      // Erased, with a reason for the record: a toast says so, and the page shows the order as staff now see it.
      await data.getByTestId('erase-customer').click();
      await dialog.getByTestId('erase-reason').fill('Ticket 42');
      await dialog.getByTestId('erase-confirm').click();
      await dialog.waitFor({ state: 'detached' });
      await manager.getByTestId('customer-erased').waitFor();
      expect(await manager.getByTestId('toast-message').last().textContent()).toContain(
        `Customer guest-${orderId} is erased`,
      );
      expect(await manager.getByTestId('erase-customer').count()).toBe(0);
      // Name, address and phone in the details, and the note: each marked, in words for a screen reader.
      const marks = manager.getByTestId('order-page').getByTestId('erased');
      expect(await marks.count()).toBe(4);
      expect(await marks.first().getByText("Erased at the customer's request").count()).toBe(1);
      expect(await manager.getByTestId('order-page').textContent()).not.toMatch(
        /Giulia|Via Roma|0199|Mrs Rossi/,
      );

      // The staff boards show the order with its details erased: the dashboard, the kitchen queue...
      await manager.getByTestId('nav-manager').click();
      await row.getByTestId('erased').waitFor({ timeout: 15_000 });
      expect(await row.textContent()).not.toContain('Giulia');
      await manager.getByTestId('nav-kitchen').click();
      const ticket = manager.locator(`[data-testid="kitchen-ticket"][data-order-id="${orderId}"]`);
      await ticket.waitFor({ timeout: 15_000 });
      expect(await ticket.getByTestId('erased').count()).toBe(2); // for whom, and the note
      // ...and, once the chef has cooked it (the order goes on), the delivery board, with no number to call.
      for (const step of ['cooking', 'ready']) {
        const response = await pizzeria.call('POST', `/api/orders/${orderId}/${step}`, {
          as: 'chef',
          payload: {},
        });
        expect(response.statusCode, response.body).toBe(200);
      }
      await manager.getByTestId('nav-delivery').click();
      const delivery = manager.locator(`[data-testid="delivery-ticket"][data-order-id="${orderId}"]`);
      await delivery.waitFor({ timeout: 15_000 });
      expect(await delivery.getByTestId('erased').count()).toBe(4); // name, address, phone, note
      expect(await delivery.locator('a[href^="tel:"]').count()).toBe(0);

      // The customer's own page finds no order any more: their link reads as one that never existed.
      await customer.reload();
      await customer.getByText('We could not find this order').waitFor();
      // The errors on the way: the browser's own lines for the refusal and for that 404.
      expect(problems.console).toEqual([expect.stringContaining('403'), expect.stringContaining('404')]);
      problems.console.length = 0;

      problems.violations.push(...(await violationsOf(manager)), ...(await violationsOf(customer)));
      expect(problems).toEqual({ console: [], exceptions: [], violations: [], elsewhere: [] });
    } finally {
      await browser.close();
    }
  }, 90_000);
});
