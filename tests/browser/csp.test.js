// The security headers as Chromium enforces them (issue 8, section 6): every
// page runs its main flow under the server's Content-Security-Policy without
// a single violation, and every response of ours carries the headers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServerAndBrowser } from './helpers/fixture.js';
import { newPage, openSeller, openViewer, sendChat, startSale } from './helpers/browser.js';
import { PolicyWatch } from './helpers/policy.js';

const LIVE_TIMEOUT_MS = 15_000;

let server;
let browser;

useServerAndBrowser((s, b) => {
  server = s;
  browser = b;
});

/** `Content-Security-Policy` as a map from directive to its sources. */
function parsePolicy(value) {
  const policy = new Map();
  for (const part of value.split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (name) policy.set(name.toLowerCase(), sources);
  }
  return policy;
}

test('every page runs its main flow without a Content-Security-Policy violation', async () => {
  const startedAt = Date.now();
  const watch = new PolicyWatch(server.base);

  // Landing page: the demo room is listed.
  const landing = await newPage(browser, { prepare: watch.attach('index') });
  await landing.goto(server.base + '/');
  await landing.getByTestId('room-card').filter({ hasText: 'Trà Thái Nguyên' }).waitFor();

  // Seller studio: go live with the fake camera.
  const seller = await openSeller(browser, server, { prepare: watch.attach('seller') });
  await seller.getByTestId('go-live').click();
  await seller.waitForFunction(() => window.__chophien.pc?.connectionState === 'connected', null, { timeout: LIVE_TIMEOUT_MS });

  // Add products whose images live elsewhere (https and http; nothing listens
  // on port 9, the policy is checked before the fetch), and pin one.
  await seller.locator('details', { has: seller.getByTestId('add-product') }).locator('summary').click();
  const addProduct = async (name, image) => {
    await seller.locator('#new-name').fill(name);
    await seller.locator('#new-price').fill('60000');
    // An image URL typed by hand is under "Nâng cao" (the photo picker is above it).
    const advanced = seller.getByTestId('new-advanced').getByTestId('advanced-toggle');
    if ((await advanced.getAttribute('aria-expanded')) !== 'true') await advanced.click();
    await seller.locator('#new-image').fill(image);
    await seller.getByTestId('add-product').locator('button[type=submit]').click();
    const row = seller.getByTestId('product-row').filter({ hasText: name });
    await row.waitFor();
    return row;
  };
  const httpsRow = await addProduct('Chè búp 100g', 'https://127.0.0.1:9/che-bup.jpg');
  await addProduct('Chè nõn tôm 100g', 'http://127.0.0.1:9/che-non-tom.jpg');
  await httpsRow.getByTestId('pin').click();
  await httpsRow.getByTestId('unpin').waitFor();

  // Viewer: joins, sees the video and the pinned product, chats, taps a heart.
  const viewer = await openViewer(browser, server, 'Lan', { prepare: watch.attach('viewer') });
  await viewer.waitForFunction(() => document.querySelector('[data-testid=video]').videoWidth > 0, null, { timeout: LIVE_TIMEOUT_MS });
  const pinned = viewer.getByTestId('pinned').getByTestId('product-card');
  await pinned.waitFor();
  assert.equal(await pinned.locator('img').getAttribute('src'), 'https://127.0.0.1:9/che-bup.jpg');

  await sendChat(viewer, 'Chào shop, chè này pha mấy nước?');
  await seller.getByTestId('chat-message').filter({ hasText: 'pha mấy nước' }).waitFor();
  await viewer.getByTestId('heart').click();
  await viewer.locator('.float-heart').first().waitFor({ state: 'attached' });
  await seller.waitForFunction(() => document.querySelector('[data-testid=stat-hearts]').textContent !== '0');

  // Flash sale: the seller starts it, the viewer buys and confirms.
  await startSale(seller);

  const sale = viewer.getByTestId('sale');
  await sale.waitFor();
  await viewer.waitForFunction(() => document.querySelector('[data-testid=buy-button]')?.disabled === false);
  const barWidth = await sale.locator('.progress-bar').evaluate((bar) => bar.style.width);
  await sale.getByTestId('buy-button').click();
  await sale.getByTestId('hold').waitFor();
  await sale.getByTestId('checkout-name').fill('Nguyễn Thị Lan');
  await sale.getByTestId('checkout-phone').fill('0912 345 678');
  await sale.getByTestId('checkout-address').fill('12 Hoàng Văn Thụ, TP Thái Nguyên');
  await sale.getByTestId('payment-bank_transfer').check();
  await sale.getByTestId('checkout-submit').click();
  await sale.getByTestId('order-confirmed').waitFor();
  await sale.getByTestId('order-vietqr').waitFor();

  // The bag: a catalog product into it, and the sheet (a modal <dialog>) with its line and countdown.
  await viewer.getByTestId('catalog').locator('summary').click();
  await viewer.waitForFunction(() => document.querySelector('#catalog-list [data-product-id=p3] [data-testid=add-to-bag]')?.disabled === false);
  await viewer.locator('#catalog-list [data-product-id=p3] [data-testid=add-to-bag]').click();
  await viewer.getByTestId('bag-count').filter({ hasText: '1' }).waitFor();
  await viewer.getByTestId('bag-button').click();
  const bag = viewer.getByTestId('bag-panel');
  await bag.getByTestId('bag-line-countdown').filter({ hasText: /^\d+:\d\d$/ }).waitFor();
  await bag.getByTestId('bag-close').click();
  await bag.waitFor({ state: 'hidden' });

  // The seller sees the order and downloads the CSV (a blob download).
  await seller.getByTestId('order-row').filter({ hasText: 'Nguyễn Thị Lan' }).waitFor();
  const [download] = await Promise.all([
    seller.waitForEvent('download'),
    seller.getByTestId('orders-csv').click(),
  ]);
  assert.match(download.suggestedFilename(), /^don-hang-tra-thai-nguyen\.csv$/);

  // The seller marks the transfer paid (the buyer's card follows), and the
  // order page finds the order by its code and phone.
  const orderRow = seller.getByTestId('order-row').filter({ hasText: 'Nguyễn Thị Lan' });
  await orderRow.getByTestId('order-paid').click();
  await sale.getByTestId('order-status').filter({ hasText: 'Đã thanh toán' }).waitFor();
  const orderLink = await sale.getByTestId('order-link').getAttribute('href');
  const orderPage = await newPage(browser, { prepare: watch.attach('order') });
  await orderPage.goto(server.base + orderLink);
  await orderPage.getByTestId('lookup-phone').fill('0912 345 678');
  await orderPage.getByTestId('lookup-submit').click();
  await orderPage.getByTestId('order-result').getByTestId('order-status').filter({ hasText: 'Đã thanh toán' }).waitFor();

  const pageErrors = watch.pages.flatMap(({ label, page }) => page.errors.map((e) => `${label}: ${e.message}`));
  const headers = await watch.headers();
  for (const { page } of watch.pages) await page.context().close();
  console.log(`# csp flow took ${Date.now() - startedAt} ms, ${headers.length} responses checked`);

  assert.deepEqual(watch.violations, [], 'no Content-Security-Policy violations');
  assert.deepEqual(pageErrors, [], 'no page errors');
  // The stock bar's width is set through CSSOM, which the policy allows (a style attribute it would not).
  assert.match(barWidth, /^\d+%$/, 'the stock bar has its width');

  const documents = headers.filter((r) => r.type === 'document');
  assert.deepEqual(documents.map((r) => r.url.split('?')[0]).sort(), ['/', '/order.html', '/seller.html', '/viewer.html']);
  for (const r of documents) {
    const value = r.headers['content-security-policy'];
    assert.ok(value, `${r.url} has a Content-Security-Policy`);
    const policy = parsePolicy(value);
    assert.deepEqual(policy.get('script-src'), ["'self'"], `${r.url}: only our own scripts`);
    assert.deepEqual(policy.get('style-src'), ["'self'"], `${r.url}: only our own style sheets`);
    assert.deepEqual(policy.get('frame-ancestors'), ["'none'"], `${r.url}: never framed`);
    assert.deepEqual(policy.get('object-src') ?? policy.get('default-src'), ["'none'"], `${r.url}: no plugins`);
    assert.deepEqual(policy.get('base-uri'), ["'none'"], `${r.url}: no <base>`);
    assert.doesNotMatch(value, /unsafe-|\*/, `${r.url}: no unsafe-* source and no wildcard`);
  }
  assert.ok(headers.some((r) => r.type === 'script'), 'scripts were checked');
  assert.ok(headers.some((r) => r.type === 'stylesheet'), 'style sheets were checked');
  for (const r of headers) {
    assert.equal(r.headers['x-content-type-options'], 'nosniff', `${r.url} (${r.type}) has X-Content-Type-Options`);
    assert.equal(r.headers['referrer-policy'], 'no-referrer', `${r.url} (${r.type}) has Referrer-Policy`);
  }
  const path = (r) => r.url.split('?')[0];
  const orders = headers.filter((r) => /^\/api\/(rooms\/[^/]+\/orders(\.csv|\/.*)?|orders\/lookup)$/.test(path(r)));
  assert.ok(orders.some((r) => path(r).endsWith('.csv')), 'the CSV download was checked');
  assert.ok(orders.some((r) => r.url.endsWith('/status')), 'a status change was checked');
  assert.ok(orders.some((r) => r.url === '/api/orders/lookup'), 'the order page lookup was checked');
  for (const r of orders) {
    assert.equal(r.headers['cache-control'], 'no-store', `${r.url} is never stored`);
  }
});
