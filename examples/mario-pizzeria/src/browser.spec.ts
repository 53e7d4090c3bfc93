// The web UI in a real browser (Debian's Chromium through playwright-core), against the real server on an
// in-memory PGlite with its projection daemon: a customer orders, the chef sees the order arrive on the kitchen
// board live, cooks it and calls it ready, and the customer's page turns to "ready" by itself. Nothing on the way
// may log an error or break the page's Content-Security-Policy.
import { existsSync } from 'node:fs';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { testServer } from './testing/testPizzeria.ts';

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

describe("Mario's Pizzeria in Chromium", () => {
  it('a customer orders, the chef cooks the order from the live kitchen board, the customer sees it ready', async () => {
    if (!existsSync(executablePath)) {
      throw new Error(
        `The browser test needs Chromium at ${executablePath}: install Debian's "chromium" package (as .ci/run does), or set CHROMIUM_PATH to a Chromium executable`,
      );
    }
    await using pizzeria = await testServer();
    await pizzeria.server.listen({ port: 0, host: '127.0.0.1' });
    const { port } = pizzeria.server.addresses()[0] as { port: number };
    const origin = `http://127.0.0.1:${port}`;
    const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
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
});
