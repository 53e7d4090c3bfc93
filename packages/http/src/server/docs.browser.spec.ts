// The docs page in a real browser (Debian's Chromium through playwright-core), offline: Scalar renders the
// document from this server under the page's Content-Security-Policy, with nothing refused.
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { testServer } from '../testing/testApi.ts';

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

describe('the /docs page in Chromium', () => {
  it('renders every operation, loads nothing from elsewhere and breaks no security policy', async () => {
    const { server } = await testServer();
    await server.listen({ port: 0, host: '127.0.0.1' });
    const { port } = server.addresses()[0] as { port: number };
    const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      const elsewhere: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(message.text());
      });
      page.on('request', (request) => {
        if (!request.url().startsWith(`http://127.0.0.1:${port}/`) && !request.url().startsWith('data:')) {
          elsewhere.push(request.url());
        }
      });
      await page.goto(`http://127.0.0.1:${port}/docs`);
      await page.getByText('Write note').first().waitFor({ timeout: 20_000 });
      for (const operation of ['Get note', 'List notes', 'Edit note', 'Delete note']) {
        expect(await page.getByText(operation).count(), operation).toBeGreaterThan(0);
      }
      expect(problems.filter((p) => /Content Security Policy|Refused/i.test(p))).toEqual([]);
      expect(elsewhere).toEqual([]);
    } finally {
      await browser.close();
      await server.close();
    }
  }, 60_000);
});
