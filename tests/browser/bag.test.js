// The shopping bag in the browser: a viewer puts two products in her bag from
// the catalog (another viewer sees their stock drop), reloads and finds the
// same lines with their countdowns, takes one out (its stock comes back on
// the other screen), adds another and checks out with cash on delivery; her
// order shows its lines and total, on her card, on the order page and in the
// seller's table. A product the seller limits to one per buyer in the
// studio refuses a second unit, until she clears the limit. And lines whose
// hold runs out leave the bag: by their countdown, or when the server
// answers a checkout `hold_expired` — then she checks the rest out again.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServerAndBrowser } from './helpers/fixture.js';
import { newPage, openSeller, openViewer } from './helpers/browser.js';
import { startServer } from './helpers/server.js';

let server;
let browser;

useServerAndBrowser((s, b) => {
  server = s;
  browser = b;
});

/** The demo room starts `scheduled`, and the bag opens with the live. */
async function goLive(seller) {
  await seller.evaluate(async () => {
    if (window.__chophien.model.room.status === 'scheduled') await window.__chophien.conn.request({ type: 'go_live' });
  });
  await seller.waitForFunction(() => window.__chophien.model.room.status === 'live');
}

/** A product's card in the viewer's catalog (opened first). */
async function catalogCard(viewer, productId) {
  const catalog = viewer.getByTestId('catalog');
  if (!(await catalog.locator('details').evaluate((d) => d.open))) await catalog.locator('summary').click();
  return catalog.locator(`[data-testid=product-card][data-product-id=${productId}]`);
}

/** Tap "Thêm vào giỏ" on a catalog product; the answer shown next to the button. */
async function addToBag(viewer, productId) {
  const card = await catalogCard(viewer, productId);
  const button = card.getByTestId('add-to-bag');
  await viewer.waitForFunction((id) => {
    const b = document.querySelector(`#catalog-list [data-product-id=${id}] [data-testid=add-to-bag]`);
    return b && !b.disabled;
  }, productId);
  await button.click();
  const message = card.getByTestId('bag-add-message');
  await message.waitFor();
  return message.textContent();
}

/** The stock a viewer's catalog shows for a product. */
function shownStock(viewer, productId) {
  return viewer.evaluate((id) => document.querySelector(`#catalog-list [data-product-id=${id}] [data-testid=product-stock]`)?.textContent, productId);
}

async function waitForStock(viewer, productId, n) {
  await viewer.waitForFunction(([id, text]) => document.querySelector(`#catalog-list [data-product-id=${id}] [data-testid=product-stock]`)?.textContent === text, [productId, `Còn ${n}`]);
}

/** The bag's lines as `{hold, product, name, price, quantity, countdown}`. */
function bagLines(viewer) {
  return viewer.getByTestId('bag-panel').getByTestId('bag-line').evaluateAll((lines) => lines.map((li) => ({
    hold: li.dataset.holdId,
    product: li.dataset.productId,
    name: li.querySelector('[data-testid=bag-line-name]').textContent,
    price: li.querySelector('[data-testid=bag-line-price]').textContent,
    quantity: li.querySelector('[data-testid=bag-line-quantity]').textContent,
    countdown: li.querySelector('[data-testid=bag-line-countdown]').textContent,
  })));
}

async function openBag(viewer) {
  await viewer.getByTestId('bag-button').click();
  await viewer.getByTestId('bag-panel').waitFor();
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

const price = (text) => new RegExp(`^${text.replace(/\./g, '\\.')}\\s₫$`);

test('a bag from the catalog survives a reload, loses a line, gains one and becomes one order with its lines', async () => {
  const seller = await openSeller(browser, server);
  await goLive(seller);
  const lan = await openViewer(browser, server, 'Lan');
  const minh = await openViewer(browser, server, 'Minh');
  await (await catalogCard(minh, 'p1')).waitFor({ state: 'attached' });
  const before = {};
  for (const id of ['p1', 'p2', 'p3']) before[id] = Number((await shownStock(minh, id)).replace(/\D/g, ''));

  // Two products into the bag from the catalog.
  assert.equal(await addToBag(lan, 'p1'), 'Đã thêm vào giỏ');
  assert.equal(await addToBag(lan, 'p3'), 'Đã thêm vào giỏ');
  await lan.getByTestId('bag-count').filter({ hasText: '2' }).waitFor();
  assert.equal(await lan.getByTestId('bag-button').getAttribute('aria-label'), 'Giỏ hàng: 2 món');

  // The other viewer sees both products' stock drop.
  await waitForStock(minh, 'p1', before.p1 - 1);
  await waitForStock(minh, 'p3', before.p3 - 1);

  await openBag(lan);
  const bag = lan.getByTestId('bag-panel');
  const lines = await bagLines(lan);
  assert.deepEqual(lines.map((l) => [l.product, l.name, l.quantity]).sort(), [
    ['p1', 'Chè Tân Cương đặc biệt 500g', '× 1'],
    ['p3', 'Bún khô Định Hóa 1kg', '× 1'],
  ]);
  assert.match(lines.find((l) => l.product === 'p1').price, price('250.000'));
  assert.match(lines.find((l) => l.product === 'p3').price, price('45.000'));
  for (const l of lines) assert.match(l.countdown, /^(9|10):\d\d$/, 'ten minutes to check out');
  assert.match(await bag.getByTestId('bag-subtotal').textContent(), /^Tạm tính \(2 món\): 295\.000\s₫$/);
  assert.deepEqual(await unnamed(lan), [], 'every control of the bag has a name');

  // A reload brings the same bag back, countdowns and all.
  await lan.reload();
  await lan.getByTestId('join-button').click();
  await lan.getByTestId('bag-count').filter({ hasText: '2' }).waitFor();
  await openBag(lan);
  const again = await bagLines(lan);
  assert.deepEqual(again.map((l) => l.hold).sort(), lines.map((l) => l.hold).sort(), 'the same holds');
  for (const l of again) assert.match(l.countdown, /^(9|10):\d\d$/);

  // One line out: its unit is on sale again, on the other screen too.
  await bag.locator('[data-testid=bag-line][data-product-id=p3]').getByTestId('bag-line-remove').click();
  await bag.getByTestId('bag-status').filter({ hasText: 'Đã bỏ Bún khô Định Hóa 1kg khỏi giỏ' }).waitFor();
  assert.deepEqual((await bagLines(lan)).map((l) => l.product), ['p1']);
  await waitForStock(minh, 'p3', before.p3);
  await lan.getByTestId('bag-count').filter({ hasText: '1' }).waitFor();

  // Another product, then checkout with cash on delivery.
  await bag.getByTestId('bag-close').click();
  assert.equal(await addToBag(lan, 'p2'), 'Đã thêm vào giỏ');
  await waitForStock(minh, 'p2', before.p2 - 1);
  await openBag(lan);
  assert.deepEqual((await bagLines(lan)).map((l) => l.product).sort(), ['p1', 'p2']);
  assert.match(await bag.getByTestId('bag-subtotal').textContent(), /^Tạm tính \(2 món\): 430\.000\s₫$/);
  await bag.getByTestId('bag-checkout-name').fill('Nguyễn Thị Lan');
  await bag.getByTestId('bag-checkout-phone').fill('0912 345 678');
  await bag.getByTestId('bag-checkout-address').fill('12 Hoàng Văn Thụ, TP Thái Nguyên');
  assert.equal(await bag.getByTestId('bag-payment-cod').isChecked(), true, 'cash on delivery is the default');
  await bag.getByTestId('bag-checkout-submit').click();

  const card = bag.getByTestId('order-confirmed');
  await card.waitFor();
  assert.deepEqual((await card.getByTestId('order-line').allTextContents()).sort(), [
    'Chè Tân Cương đặc biệt 500g — 1 × 250.000 ₫',
    'Trà móc câu Tân Cương 200g — 1 × 180.000 ₫',
  ].map((s) => s.replace(/ ₫/g, '\u00a0₫')));
  assert.match(await card.getByTestId('order-total').textContent(), /^Tổng cộng: 430\.000\s₫$/);
  assert.match(await card.getByTestId('order-payment').textContent(), /COD/);
  assert.equal(await card.getByTestId('order-product').count(), 0, 'a bag order lists its lines instead');
  assert.equal(await bag.getByTestId('bag-status').textContent(), 'Đặt hàng thành công!');
  await lan.getByTestId('bag-count').waitFor({ state: 'hidden' });
  assert.equal(await lan.evaluate(() => window.__chophien.bag.holds.size), 0, 'the bag is empty');
  const order = await lan.evaluate(() => window.__chophien.bagPanel.order);
  assert.equal(order.sale_id, 'bag');
  await bag.locator(`[data-testid=bag-order-item][data-order-id="${order.order_id}"]`).waitFor();
  // The ordered units stay sold: only the removed line's came back.
  assert.equal(await shownStock(minh, 'p1'), `Còn ${before.p1 - 1}`);
  assert.equal(await shownStock(minh, 'p3'), `Còn ${before.p3}`);

  // The seller's table lists the order's lines.
  const row = seller.locator(`[data-testid=order-row][data-order-id="${order.order_id}"]`);
  await row.waitFor();
  assert.deepEqual((await row.getByTestId('order-line').allTextContents()).sort(), [
    'Chè Tân Cương đặc biệt 500g × 1 · 250.000\u00a0₫',
    'Trà móc câu Tân Cương 200g × 1 · 180.000\u00a0₫',
  ]);
  assert.match(await row.textContent(), /430\.000\s₫/);

  // So does the order page.
  const page = await newPage(browser);
  await page.goto(server.base + await card.getByTestId('order-link').getAttribute('href'));
  await page.getByTestId('lookup-phone').fill('0912 345 678');
  await page.getByTestId('lookup-submit').click();
  const result = page.getByTestId('order-result');
  await result.getByTestId('order-lines').waitFor();
  assert.equal(await result.getByTestId('order-line').count(), 2);
  assert.match(await result.getByTestId('order-total').textContent(), /430\.000\s₫/);

  assert.deepEqual([...lan.errors, ...minh.errors, ...seller.errors, ...page.errors], []);
  for (const p of [seller, lan, minh, page]) await p.context().close();
});

test('a product the seller limits to one per buyer refuses a second unit, until she clears the limit', async () => {
  const seller = await openSeller(browser, server);
  await goLive(seller);
  const row = seller.getByTestId('product-row').filter({ hasText: 'Gạo Bao Thai Định Hóa 5kg' });
  await row.getByTestId('edit').click();
  await row.getByTestId('edit-limit').fill('1');
  await row.getByTestId('edit-save').click();
  await row.getByTestId('product-limit').filter({ hasText: 'Tối đa 1 mỗi người' }).waitFor();
  await row.getByTestId('edit-limit').waitFor({ state: 'detached' });

  const ha = await openViewer(browser, server, 'Hà');
  const card = await catalogCard(ha, 'p4');
  assert.equal(await card.getByTestId('product-limit').textContent(), 'Tối đa 1 mỗi người');
  assert.equal(await addToBag(ha, 'p4'), 'Đã thêm vào giỏ');
  await ha.getByTestId('bag-count').filter({ hasText: '1' }).waitFor();
  await card.getByTestId('add-to-bag').click();
  await card.getByTestId('bag-add-message').filter({ hasText: 'Bạn đã lấy đủ số lượng tối đa của sản phẩm này (1 mỗi người)' }).waitFor();
  assert.equal(await ha.getByTestId('bag-count').textContent(), '1', 'still one unit in the bag');

  // Cleared in the studio (sent as 0): no limit any more.
  await row.getByTestId('edit').click();
  await row.getByTestId('edit-limit').fill('');
  await row.getByTestId('edit-save').click();
  await row.getByTestId('product-limit').waitFor({ state: 'detached' });
  await card.getByTestId('product-limit').waitFor({ state: 'hidden' });
  await card.getByTestId('add-to-bag').click();
  await ha.getByTestId('bag-count').filter({ hasText: '2' }).waitFor();

  // In English too.
  await ha.getByTestId('lang-toggle').click();
  assert.equal(await card.getByTestId('add-to-bag').textContent(), 'Add to bag');
  assert.equal(await ha.getByTestId('bag-button').getAttribute('aria-label'), 'Shopping bag: 2 items');
  assert.deepEqual([...ha.errors, ...seller.errors], []);
  await seller.context().close();
  await ha.context().close();
});

test('an expired line leaves the bag, by its countdown or by the server\'s hold_expired, and the rest checks out', async () => {
  // Bag holds of six seconds.
  const quick = await startServer({ env: { CHOPHIEN_ORDERS__BAG_HOLD_SECS: '6' } });
  try {
    const seller = await openSeller(browser, quick);
    await goLive(seller);
    const viewer = await openViewer(browser, quick, 'Quyên');
    const bag = viewer.getByTestId('bag-panel');
    const before = Number((await shownStock(viewer, 'p5')).replace(/\D/g, ''));

    // Its countdown runs out: the line goes, she is told, the unit is back.
    assert.equal(await addToBag(viewer, 'p5'), 'Đã thêm vào giỏ');
    await waitForStock(viewer, 'p5', before - 1);
    await openBag(viewer);
    await bag.getByTestId('bag-line').waitFor();
    await bag.getByTestId('bag-status').filter({ hasText: 'Hết thời gian giữ hàng, đã bỏ khỏi giỏ: Bánh chưng Bờ Đậu (cặp)' }).waitFor({ timeout: 10_000 });
    assert.equal(await bag.getByTestId('bag-line').count(), 0);
    await bag.getByTestId('bag-empty').waitFor();
    await waitForStock(viewer, 'p5', before);
    await bag.getByTestId('bag-close').click();

    // Two lines three seconds apart; the first one's deadline passes on the
    // server while this page's clock still gives it time (a phone's clock
    // may be behind), so the checkout is answered `hold_expired`.
    assert.equal(await addToBag(viewer, 'p3'), 'Đã thêm vào giỏ');
    const first = await viewer.evaluate(() => [...window.__chophien.bag.holds.values()][0]);
    await viewer.waitForTimeout(3000);
    await addToBag(viewer, 'p2');
    await openBag(viewer);
    await bag.getByTestId('bag-checkout-name').fill('Lò Thị Quyên');
    await bag.getByTestId('bag-checkout-phone').fill('0977 888 999');
    await bag.getByTestId('bag-checkout-address').fill('Bản Vèn, Định Hóa, Thái Nguyên');
    await viewer.evaluate((id) => { window.__chophien.bag.holds.get(id).expires_at += 2000; }, first.hold_id);
    const wait = first.expires_at - Date.now() + 400;
    if (wait > 0) await viewer.waitForTimeout(wait);
    await bag.getByTestId('bag-checkout-submit').click();
    await bag.getByTestId('bag-status').filter({ hasText: 'Một món đã hết thời gian giữ hàng và đã được bỏ khỏi giỏ: Bún khô Định Hóa 1kg' }).waitFor();
    assert.deepEqual((await bagLines(viewer)).map((l) => l.product), ['p2'], 'the other line stays');
    assert.equal(await bag.getByTestId('bag-checkout-name').inputValue(), 'Lò Thị Quyên', 'what she typed stays');

    await bag.getByTestId('bag-checkout-submit').click();
    const card = bag.getByTestId('order-confirmed');
    await card.waitFor();
    assert.deepEqual(await card.getByTestId('order-line').allTextContents(), ['Trà móc câu Tân Cương 200g — 1 × 180.000\u00a0₫']);
    assert.deepEqual([...viewer.errors, ...seller.errors], []);
    await seller.context().close();
    await viewer.context().close();
  } finally {
    await quick.stop();
  }
});
