// A viewer's token is renewed before it expires, for the same identity
// (issue 11, part 1): with tokens living 6 seconds, the page fetches a new
// one at four fifths of that, and after a drop reconnects with it.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './helpers/server.js';
import { launchBrowser, newPage } from './helpers/browser.js';

let server;
let browser;

before(async () => {
  server = await startServer({ env: { CHOPHIEN_AUTH__TOKEN_TTL_SECS: '6' } });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('the page renews its token before expiry and stays the same viewer', async () => {
  const page = await newPage(browser);
  await page.goto(server.viewerUrl);
  await page.getByTestId('join-name').fill('Lan');
  await page.getByTestId('join-button').click();
  await page.waitForFunction(() => Boolean(window.__chophien?.model?.me));
  const first = await page.evaluate(() => ({ token: window.__chophien.conn.token, me: window.__chophien.model.me.user_id }));

  await page.waitForFunction((old) => window.__chophien.conn.token !== old, first.token, { timeout: 10_000 });
  // Past the first token's expiry, a reconnect must use the renewed one.
  await page.waitForTimeout(3000);
  await page.evaluate(() => window.__chophien.conn.socket.close());
  await page.waitForFunction(() => window.__chophien.conn.status === 'open', null, { timeout: 10_000 });
  await page.waitForFunction((me) => window.__chophien.model.me?.user_id === me, first.me);
  await page.context().close();
});
