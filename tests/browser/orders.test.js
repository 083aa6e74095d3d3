// Orders after checkout: payment choice, the seller's steps seen live on the
// buyer's card, a buyer's cancel giving the units back, the order page
// (code + phone), bulk changes and the English CSV in the studio, and what a
// buyer is told when a cancel or a lookup is refused.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { useServerAndBrowser } from './helpers/fixture.js';
import { newPage, openSeller, openViewer, startSale } from './helpers/browser.js';
import { ROOM_ID, startServer } from './helpers/server.js';

let server;
let browser;

useServerAndBrowser((s, b) => {
  server = s;
  browser = b;
});

/** End the room's sale if one runs, then start a fresh one (5 units, 199.000 ₫). */
async function freshSale(seller, options) {
  const before = await seller.evaluate(async () => {
    const sale = window.__chophien?.model?.sale;
    if (sale && sale.state !== 'ended') await window.__chophien.conn.request({ type: 'end_sale', sale_id: sale.id });
    return sale?.id ?? null;
  });
  await startSale(seller, options);
  await seller.waitForFunction((old) => {
    const sale = window.__chophien.model.sale;
    return sale && sale.id !== old && sale.state === 'live';
  }, before);
}

/** Buy on the viewer page and check out; the order as the page holds it. */
async function placeOrder(viewer, { recipient, phone, address = '12 Hoàng Văn Thụ, TP Thái Nguyên', payment = 'cod', quantity = 1 }) {
  const sale = viewer.getByTestId('sale');
  await viewer.waitForFunction(() => document.querySelector('[data-testid=buy-button]')?.disabled === false);
  if (quantity > 1) await sale.getByTestId('sale-quantity').selectOption(String(quantity));
  await sale.getByTestId('buy-button').click();
  await sale.getByTestId('hold').waitFor();
  await sale.getByTestId('checkout-name').fill(recipient);
  await sale.getByTestId('checkout-phone').fill(phone);
  await sale.getByTestId('checkout-address').fill(address);
  assert.equal(await sale.getByTestId('payment-cod').isChecked(), true, 'cash on delivery is the default');
  if (payment !== 'cod') await sale.getByTestId(`payment-${payment}`).check();
  assert.deepEqual(await unnamed(viewer), [], 'every checkout control has a name');
  await sale.getByTestId('checkout-submit').click();
  await sale.getByTestId('order-confirmed').waitFor();
  return viewer.evaluate(() => window.__chophien.sale.order);
}

const code = (order) => `CP${order.order_id.toUpperCase()}`;
const row = (seller, order) => seller.locator(`[data-testid=order-row][data-order-id="${order.order_id}"]`);

/** The seller's HTTP call, as another tab or the shop's system would make it. */
async function sellerChange(order, change) {
  const response = await fetch(`${server.base}/api/rooms/${ROOM_ID}/orders/${order.order_id}/status`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.sellerToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(change),
  });
  assert.equal(response.status, 200, await response.text());
}

/** Unlabelled controls and nameless buttons (as accessibility.test.js checks). */
function unnamed(page) {
  return page.evaluate(() => {
    const found = [];
    for (const el of document.querySelectorAll('input, select, textarea')) {
      if (!(el.labels?.length > 0 || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby'))) found.push(`unlabelled ${el.tagName.toLowerCase()}#${el.id}`);
    }
    for (const el of document.querySelectorAll('button')) {
      if (!(el.textContent.trim() || el.getAttribute('aria-label'))) found.push(`nameless button ${el.outerHTML.slice(0, 80)}`);
    }
    return found;
  });
}

test('a VietQR order: the seller marks it paid, packed and shipped, and the buyer sees each step live', async () => {
  const seller = await openSeller(browser, server);
  await freshSale(seller);
  const viewer = await openViewer(browser, server, 'Lan');
  const order = await placeOrder(viewer, { recipient: 'Nguyễn Thị Lan', phone: '0912 345 678', payment: 'bank_transfer' });
  assert.equal(order.payment, 'bank_transfer');

  const card = viewer.getByTestId('order-confirmed');
  assert.equal(await card.getByTestId('order-id').textContent(), `Mã đơn: ${code(order)}`);
  assert.match(await card.getByTestId('order-payment').textContent(), /Chuyển khoản/);
  assert.equal(await card.getByTestId('order-status').textContent(), 'Đã xác nhận');
  assert.match(await card.getByTestId('order-vietqr').textContent(), /Quét mã VietQR để chuyển khoản/);
  assert.equal(await card.getByTestId('order-link').getAttribute('href'), `/order.html?code=${code(order)}`);
  assert.equal(await card.getByTestId('order-cancel').isVisible(), true, 'a placed order can be cancelled');
  // Nothing below may reload the page: this mark would be gone.
  await viewer.evaluate(() => { window.__sameDocument = true; });

  const sellerRow = row(seller, order);
  await sellerRow.waitFor();
  assert.match(await sellerRow.textContent(), new RegExp(code(order)));
  assert.equal(await sellerRow.getByTestId('order-payment').textContent(), 'Chuyển khoản');
  assert.equal(await sellerRow.getByTestId('order-packed').count(), 0, 'an unpaid transfer cannot be packed');
  assert.deepEqual(await unnamed(seller), [], 'every control of the orders table has a name');

  const status = card.getByTestId('order-status');
  await sellerRow.getByTestId('order-paid').click();
  await status.filter({ hasText: 'Đã thanh toán' }).waitFor();
  await sellerRow.getByTestId('order-status').filter({ hasText: 'Đã thanh toán' }).waitFor();
  assert.equal(await card.getByTestId('order-vietqr').count(), 0, 'a paid transfer needs no QR');
  assert.equal(await card.getByTestId('order-cancel').count(), 0, 'a paid order is not the buyer’s to cancel');

  await sellerRow.getByTestId('order-packed').click();
  await status.filter({ hasText: 'Đã đóng gói' }).waitFor();

  await sellerRow.getByTestId('order-carrier').selectOption('ghn');
  await sellerRow.getByTestId('order-tracking').fill('GHN123456VN');
  await sellerRow.getByTestId('order-ship').click();
  await status.filter({ hasText: 'Đang giao' }).waitFor();
  await card.getByTestId('order-tracking').filter({ hasText: 'GHN123456VN' }).waitFor();
  assert.match(await card.getByTestId('order-shipment').textContent(), /GHN/);
  assert.match(await sellerRow.getByTestId('order-shipment').textContent(), /GHN123456VN/);
  const steps = await card.getByTestId('order-timeline').locator('li').allTextContents();
  assert.deepEqual(steps.map((s) => s.match(/^\D+/)[0].trim()), ['Đã xác nhận', 'Đã thanh toán', 'Đã đóng gói', 'Đang giao']);
  for (const s of steps) assert.match(s, /\d\d:\d\d:\d\d/, 'each step has its local time');
  assert.equal(await viewer.evaluate(() => window.__sameDocument), true, 'no reload happened');
  assert.match(await viewer.getByTestId('sale-status').textContent(), /Đang giao/);

  // After a reload the card shows the order as it is now.
  await viewer.reload();
  await viewer.getByTestId('join-button').click();
  await viewer.getByTestId('order-confirmed').getByTestId('order-status').filter({ hasText: 'Đang giao' }).waitFor();
  assert.equal(await viewer.getByTestId('order-tracking').textContent(), 'GHN123456VN');

  assert.deepEqual(viewer.errors.concat(seller.errors), []);
  await seller.context().close();
  await viewer.context().close();
});

test('a cash-on-delivery buyer cancels from her card and the units go back to the sale', async () => {
  const seller = await openSeller(browser, server);
  await freshSale(seller);
  const viewer = await openViewer(browser, server, 'Bình');
  const order = await placeOrder(viewer, { recipient: 'Lê Văn Bình', phone: '0903 111 222', quantity: 2 });
  assert.equal(order.payment, 'cod');
  const card = viewer.getByTestId('order-confirmed');
  assert.match(await card.getByTestId('order-payment').textContent(), /Thanh toán khi nhận hàng \(COD\)/);
  assert.equal(await card.getByTestId('order-vietqr').count(), 0);

  const remaining = seller.getByTestId('seller-sale-remaining');
  await remaining.filter({ hasText: 'Còn 3/5 suất' }).waitFor();
  await row(seller, order).waitFor();

  viewer.on('dialog', (dialog) => dialog.accept());
  await card.getByTestId('order-cancel').click();
  await card.getByTestId('order-status').filter({ hasText: 'Đã hủy' }).waitFor();
  assert.equal(await card.getByTestId('order-cancel').count(), 0);
  assert.match(await viewer.getByTestId('sale-status').textContent(), new RegExp(`Đã hủy đơn ${code(order)}`));
  assert.match(await card.getByTestId('order-timeline').textContent(), /Đã hủy.*\(người mua\)/);

  await remaining.filter({ hasText: 'Còn 5/5 suất' }).waitFor();
  await row(seller, order).getByTestId('order-status').filter({ hasText: 'Đã hủy' }).waitFor();
  assert.equal(await row(seller, order).getByTestId('order-cancel').count(), 0, 'nothing more to do with a cancelled order');
  await seller.context().close();
  await viewer.context().close();
});

test('the order page shows an order by code and phone, and says when nothing matches', async () => {
  const seller = await openSeller(browser, server);
  await freshSale(seller);
  const viewer = await openViewer(browser, server, 'Chi');
  const order = await placeOrder(viewer, { recipient: 'Phạm Thị Chi', phone: '0987 000 111' });
  const link = await viewer.getByTestId('order-link').getAttribute('href');
  await viewer.context().close();
  await sellerChange(order, { status: 'packed' });
  await sellerChange(order, { status: 'shipped', carrier: 'ghtk', tracking_code: 'S1-GHTK-778899' });

  const page = await newPage(browser);
  await page.goto(server.base + link);
  assert.equal(await page.getByTestId('lookup-code').inputValue(), code(order));
  assert.equal(await page.evaluate(() => document.querySelector('meta[name=viewport]')?.content.includes('width=device-width')), true);

  await page.getByTestId('lookup-phone').fill('0987 000 112');
  await page.getByTestId('lookup-submit').click();
  await page.getByTestId('lookup-status').filter({ hasText: 'Không tìm thấy đơn hàng với mã và số điện thoại này' }).waitFor();
  assert.equal(await page.getByTestId('order-result').isHidden(), true);

  await page.getByTestId('lookup-phone').fill('0987 000 111');
  await page.getByTestId('lookup-submit').click();
  const result = page.getByTestId('order-result');
  await result.getByTestId('order-status').filter({ hasText: 'Đang giao' }).waitFor();
  assert.equal(await result.getByTestId('order-tracking').textContent(), 'S1-GHTK-778899');
  assert.match(await result.getByTestId('order-shipment').textContent(), /Giao Hàng Tiết Kiệm/);
  assert.match(await result.getByTestId('order-total').textContent(), /199\.000\s₫/);
  assert.match(await result.getByTestId('order-payment').textContent(), /COD/);
  assert.equal(await result.getByTestId('order-timeline').locator('li').count(), 3);
  assert.equal(await result.getByTestId('order-cancel').count(), 0, 'a shipped order cannot be cancelled here');
  assert.equal(new URL(page.url()).search, `?code=${code(order)}`, 'the phone never goes in the address');
  assert.deepEqual(await unnamed(page), []);

  await page.getByTestId('lang-toggle').click();
  await result.getByTestId('order-status').filter({ hasText: 'Shipped' }).waitFor();
  assert.equal(await page.getByTestId('lookup-submit').textContent(), 'Show my order');
  assert.deepEqual(page.errors, []);
  await page.context().close();
  await seller.context().close();
});

test('bulk: checked orders are packed at once, refusals are named, and the CSV comes in English', async () => {
  const seller = await openSeller(browser, server);
  await freshSale(seller, { limit: '1' });
  const dung = await openViewer(browser, server, 'Dũng');
  const first = await placeOrder(dung, { recipient: 'Hoàng Văn Dũng', phone: '0911 222 333' });
  const en = await openViewer(browser, server, 'Én');
  const second = await placeOrder(en, { recipient: 'Đỗ Thị Én', phone: '0922 333 444' });
  const giang = await openViewer(browser, server, 'Giang');
  const transfer = await placeOrder(giang, { recipient: 'Vũ Giang', phone: '0933 444 555', payment: 'bank_transfer' });

  for (const order of [first, second, transfer]) {
    await row(seller, order).waitFor();
    await row(seller, order).getByTestId('order-select').check();
  }
  assert.equal(await seller.getByTestId('orders-selected').textContent(), 'Đã chọn 3 đơn');
  await seller.getByTestId('orders-bulk-packed').click();

  for (const order of [first, second]) {
    await row(seller, order).getByTestId('order-status').filter({ hasText: 'Đã đóng gói' }).waitFor();
  }
  const results = seller.getByTestId('orders-bulk-results');
  assert.equal(await results.getByTestId('bulk-summary').textContent(), 'Đã cập nhật 2/3 đơn');
  assert.match(await results.getByTestId('bulk-failure').textContent(), new RegExp(`${code(transfer)}: Trạng thái hiện tại của đơn không cho phép bước này`));
  assert.equal(await row(seller, transfer).getByTestId('order-status').textContent(), 'Đã xác nhận');
  assert.equal(await row(seller, transfer).getByTestId('order-select').isChecked(), true, 'the refused order stays checked');
  // The buyers see it too.
  await dung.getByTestId('order-confirmed').getByTestId('order-status').filter({ hasText: 'Đã đóng gói' }).waitFor();
  await en.getByTestId('order-confirmed').getByTestId('order-status').filter({ hasText: 'Đã đóng gói' }).waitFor();

  // Bulk ship takes each row's own carrier and tracking code.
  await row(seller, transfer).getByTestId('order-select').uncheck();
  for (const [order, carrier, tracking] of [[first, 'ghn', 'GHN-0001'], [second, 'viettel_post', 'VTP-0002']]) {
    await row(seller, order).getByTestId('order-select').check();
    await row(seller, order).getByTestId('order-carrier').selectOption(carrier);
    await row(seller, order).getByTestId('order-tracking').fill(tracking);
  }
  await seller.getByTestId('orders-bulk-ship').click();
  await row(seller, first).getByTestId('order-shipment').filter({ hasText: 'GHN-0001' }).waitFor();
  await row(seller, second).getByTestId('order-shipment').filter({ hasText: 'VTP-0002' }).waitFor();
  assert.match(await row(seller, second).getByTestId('order-shipment').textContent(), /Viettel Post/);

  // Filter by status: only the unpaid transfer is still confirmed.
  await seller.getByTestId('orders-status-filter').selectOption('confirmed');
  await seller.waitForFunction(() => [...document.querySelectorAll('[data-testid=order-row]')].every((r) => r.dataset.status === 'confirmed'));
  await row(seller, transfer).waitFor();
  await seller.getByTestId('orders-status-filter').selectOption('');
  await seller.getByTestId('orders-search').fill('0922');
  await seller.waitForFunction(() => document.querySelectorAll('[data-testid=order-row]').length === 1);
  await row(seller, second).waitFor();
  await seller.getByTestId('orders-search').fill('');
  await row(seller, first).waitFor();

  // The CSV in the studio's language: English headers and statuses.
  await seller.getByTestId('lang-toggle').click();
  assert.equal(await seller.getByTestId('orders-bulk-packed').textContent(), 'Mark packed');
  const [download] = await Promise.all([
    seller.waitForEvent('download'),
    seller.getByTestId('orders-csv').click(),
  ]);
  assert.equal(download.suggestedFilename(), `orders-${ROOM_ID}.csv`);
  const csv = (await readFile(await download.path(), 'utf8')).replace(/^\uFEFF/, '');
  const lines = csv.trim().split(/\r?\n/);
  assert.match(lines[0], /^Order code,Ordered at,Buyer,Recipient,Phone,Address,Product,Quantity,/);
  assert.match(csv, new RegExp(`${first.order_id.toUpperCase()},.*,shipped,GHN,GHN-0001`));
  assert.match(lines[lines.length - 1], /^TOTAL/);

  for (const page of [seller, dung, en, giang]) await page.context().close();
});

test('a refused cancel says why, on the card and on the order page, and too many lookups are told apart', async () => {
  // A server where buyers may never cancel and the order page answers two requests a minute.
  const strict = await startServer({ env: { CHOPHIEN_ORDERS__BUYER_CANCEL_SECS: '0', CHOPHIEN_ORDERS__LOOKUPS_PER_MINUTE: '2' } });
  try {
    const seller = await openSeller(browser, strict);
    await freshSale(seller);
    const viewer = await openViewer(browser, strict, 'Hà');
    const order = await placeOrder(viewer, { recipient: 'Ngô Thu Hà', phone: '0944 555 666' });
    const card = viewer.getByTestId('order-confirmed');
    viewer.on('dialog', (dialog) => dialog.accept());
    await card.getByTestId('order-cancel').click();
    await viewer.getByTestId('sale-status').filter({ hasText: 'Đơn không còn tự hủy được nữa' }).waitFor();
    assert.equal(await card.getByTestId('order-status').textContent(), 'Đã xác nhận');
    assert.equal(await card.getByTestId('order-cancel').count(), 0, 'no second try at a refused cancel');

    const page = await newPage(browser);
    page.on('dialog', (dialog) => dialog.accept());
    await page.goto(`${strict.base}/order.html?code=${code(order)}`);
    await page.getByTestId('lookup-phone').fill('0944555666');
    await page.getByTestId('lookup-submit').click();
    const result = page.getByTestId('order-result');
    await result.getByTestId('order-cancel').click();
    await page.getByTestId('order-notice').filter({ hasText: 'Đơn không còn tự hủy được nữa' }).waitFor();
    assert.equal(await result.getByTestId('order-status').textContent(), 'Đã xác nhận');
    assert.equal(await result.getByTestId('order-cancel').count(), 0);

    await page.getByTestId('lookup-submit').click();
    await page.getByTestId('lookup-status').filter({ hasText: 'Bạn tra cứu nhiều lần quá — vui lòng thử lại sau một phút' }).waitFor();
    assert.deepEqual(page.errors.concat(viewer.errors), []);
    for (const p of [seller, viewer, page]) await p.context().close();
  } finally {
    await strict.stop();
  }
});
