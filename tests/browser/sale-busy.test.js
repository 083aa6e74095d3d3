// A crowded flash sale in the web client (issue 10): when the server's queue
// for a sale is full it answers `busy` (nothing reserved) and the page says
// so calmly, waits as told, and retries with the same idempotency key until
// the buy goes through — with the Redis store, a real Redis frozen and
// thawed, and a queue of one.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis } from './helpers/redis.js';
import { startServer } from './helpers/server.js';
import { launchBrowser, openSeller, openViewer, startSale } from './helpers/browser.js';

let redis;
let server;
let browser;

before(async () => {
  redis = await startRedis();
  server = await startServer({
    env: {
      CHOPHIEN_STORE__KIND: 'redis',
      CHOPHIEN_STORE__REDIS_URL: redis.url,
      // One buy in flight and one waiting fill this sale's queue.
      CHOPHIEN_STORE__BUY_QUEUE_LIMIT: '1',
      // The buy in flight outlives the freeze instead of failing.
      CHOPHIEN_STORE__OP_TIMEOUT_MS: '10000',
    },
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  redis?.stop();
});

async function readyToBuy(viewer) {
  await viewer.getByTestId('buy-button').waitFor();
  await viewer.waitForFunction(() => !document.querySelector('[data-testid=buy-button]')?.disabled);
}

test('a buyer told busy sees "Đang đông, thử lại…" and gets her hold once the queue drains', async () => {
  const seller = await openSeller(browser, server);
  await startSale(seller, { limit: '1' });
  const viewers = [];
  for (const name of ['An', 'Bình', 'Chi']) {
    const viewer = await openViewer(browser, server, name);
    await readyToBuy(viewer);
    viewers.push(viewer);
  }
  const [an, binh, chi] = viewers;

  redis.freeze();
  try {
    await an.getByTestId('buy-button').click();
    await an.waitForTimeout(300);
    await binh.getByTestId('buy-button').click();
    await binh.waitForTimeout(300);
    await chi.getByTestId('buy-button').click();
    await chi.waitForFunction(
      () => document.querySelector('[data-testid=sale-status]')?.textContent === 'Đang đông, thử lại…',
      null, { timeout: 3000 });
    assert.equal(await chi.getByTestId('buy-button').isDisabled(), true, 'no second tap while retrying');
  } finally {
    redis.thaw();
  }

  for (const viewer of viewers) await viewer.getByTestId('hold').waitFor({ timeout: 10_000 });
  await chi.waitForFunction(
    () => document.querySelector('[data-testid=sale-status]')?.textContent === 'Đã giữ hàng cho bạn');
  // Three holds of one unit each, never a fourth: the retries reused the key.
  const fresh = await openViewer(browser, server, 'Dung');
  await fresh.waitForFunction(
    () => /Còn 2\/5 suất/.test(document.querySelector('[data-testid=sale-remaining]')?.textContent || ''),
    null, { timeout: 5000 });
  for (const page of [seller, ...viewers, fresh]) await page.context().close();
});
