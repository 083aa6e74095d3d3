// A viewer stays herself across reloads (issue 11, part 1): the server binds
// her identity to the browser with an HttpOnly device cookie, so a reload —
// even under another display name — is the same person, and a ban of hers
// still holds after it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServerAndBrowser } from './helpers/fixture.js';
import { newPage, openSeller, sendChat, startSale } from './helpers/browser.js';

let server;
let browser;

useServerAndBrowser((s, b) => {
  server = s;
  browser = b;
});

/** Join the room on `page` (already opened) as `name`; her identity. */
async function join(page, name) {
  await page.goto(server.viewerUrl);
  await page.getByTestId('join-name').fill(name);
  await page.getByTestId('join-button').click();
  await page.waitForFunction(() => Boolean(window.__chophien?.model?.me));
  return page.evaluate(() => window.__chophien.model.me.user_id);
}

test('a reload under another name is the same viewer, and a second tab too', async () => {
  const page = await newPage(browser);
  const first = await join(page, 'Lan');
  assert.match(first, /^g-[0-9a-f]{24}$/);
  const cookies = await page.context().cookies();
  const device = cookies.find((c) => c.name === 'chophien_device');
  assert.equal(device?.httpOnly, true, 'the device cookie is HttpOnly');
  assert.equal(await page.evaluate(() => document.cookie.includes('chophien_device')), false);

  await page.reload();
  assert.equal(await join(page, 'Lan (điện thoại)'), first);
  const tab = await page.context().newPage();
  assert.equal(await join(tab, 'Lan'), first);

  const stranger = await newPage(browser);
  assert.notEqual(await join(stranger, 'Lan'), first, 'another browser is another person');
  await page.context().close();
  await stranger.context().close();
});

test('a banned viewer who reloads is still banned, whatever name she gives', async () => {
  const seller = await openSeller(browser, server);
  const viewer = await newPage(browser);
  await join(viewer, 'Kẻ phá');
  await sendChat(viewer, 'quảng cáo bậy');
  seller.on('dialog', (dialog) => dialog.accept());
  await seller.getByTestId('chat-message').filter({ hasText: 'quảng cáo bậy' }).getByTestId('mod-ban').click();
  await viewer.getByTestId('connection').filter({ hasText: 'Bạn đã bị chặn khỏi phòng này' }).waitFor();

  await viewer.reload();
  await viewer.getByTestId('join-name').fill('Người mới');
  await viewer.getByTestId('join-button').click();
  const error = viewer.locator('#join-error');
  await error.filter({ hasText: 'Bạn đã bị chặn khỏi phòng này' }).waitFor();
  assert.equal(await viewer.evaluate(() => window.__chophien?.model?.me ?? null), null);
  await seller.context().close();
  await viewer.context().close();
});

test('after a reload the hold card and its countdown come back', async () => {
  const seller = await openSeller(browser, server);
  await startSale(seller);

  const viewer = await newPage(browser);
  await join(viewer, 'Lan');
  const buy = viewer.getByTestId('buy-button');
  await buy.waitFor();
  await viewer.waitForFunction(() => !document.querySelector('[data-testid=buy-button]')?.disabled);
  await buy.click();
  await viewer.getByTestId('hold').waitFor();
  const expiresAt = await viewer.evaluate(() => window.__chophien.sale.hold.expires_at);

  await viewer.reload();
  await join(viewer, 'Lan');
  await viewer.getByTestId('hold').waitFor();
  assert.equal(await viewer.evaluate(() => window.__chophien.sale.hold.expires_at), expiresAt, 'the same hold, the same deadline');
  assert.match(await viewer.getByTestId('hold-countdown').textContent(), /^\d+:\d\d$/);
  await seller.context().close();
  await viewer.context().close();
});

test('after a reload a confirmed order is shown again, not the buy button', async () => {
  const seller = await openSeller(browser, server);
  // The earlier test's sale may still run: end it, then start a fresh one.
  await seller.evaluate(async () => {
    const sale = window.__chophien?.model?.sale;
    if (sale && sale.state !== 'ended') await window.__chophien.conn.request({ type: 'end_sale', sale_id: sale.id });
  });
  await startSale(seller);

  const viewer = await newPage(browser);
  await join(viewer, 'Hương');
  const buy = viewer.getByTestId('buy-button');
  await buy.waitFor();
  await viewer.waitForFunction(() => !document.querySelector('[data-testid=buy-button]')?.disabled);
  await buy.click();
  await viewer.getByTestId('checkout-name').fill('Trần Thu Hương');
  await viewer.getByTestId('checkout-phone').fill('0987 654 321');
  await viewer.getByTestId('checkout-address').fill('5 Lương Ngọc Quyến, TP Thái Nguyên');
  await viewer.getByTestId('checkout-submit').click();
  const orderId = await viewer.getByTestId('order-id').textContent();

  await viewer.reload();
  await join(viewer, 'Hương');
  await viewer.getByTestId('order-confirmed').waitFor();
  assert.equal(await viewer.getByTestId('order-id').textContent(), orderId);
  await seller.context().close();
  await viewer.context().close();
});
