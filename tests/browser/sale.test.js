// A flash sale from start to order: the seller starts it, a viewer buys,
// holds, checks out, and the seller sees the order (issue 3).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServerAndBrowser } from './helpers/fixture.js';
import { openSeller, openViewer, startSale } from './helpers/browser.js';

let server;
let browser;

useServerAndBrowser((s, b) => {
  server = s;
  browser = b;
});

test('a viewer buys in a flash sale and the seller sees the order', async () => {
  const seller = await openSeller(browser, server);
  const viewer = await openViewer(browser, server, 'Lan');

  await startSale(seller);

  const sale = viewer.getByTestId('sale');
  await sale.waitFor();
  assert.match(await sale.getByTestId('sale-price').textContent(), /^199\.000\s₫$/);
  // The catalog price (250.000 ₫) crossed out, and the discount rounded down: 20,4 % → -20%.
  assert.match(await sale.getByTestId('sale-regular-price').textContent(), /^250\.000\s₫$/);
  assert.equal(await sale.getByTestId('sale-regular-price').evaluate((el) => el.tagName), 'S');
  assert.equal(await sale.getByTestId('sale-discount').textContent(), '-20%');
  // One stock per product: the catalog shows p1's 120 less the sale's 5.
  await viewer.getByTestId('catalog').locator('summary').click();
  await viewer.waitForFunction(() => document.querySelector('#catalog-list [data-product-id=p1] [data-testid=product-stock]')?.textContent === 'Còn 115');
  const buy = sale.getByTestId('buy-button');
  await buy.waitFor();
  await viewer.waitForFunction(() => !document.querySelector('[data-testid=buy-button]')?.disabled);
  await sale.getByTestId('sale-quantity').selectOption('2');
  await buy.click();

  await sale.getByTestId('hold').waitFor();
  assert.match(await sale.getByTestId('hold-countdown').textContent(), /^\d+:\d\d$/);
  await sale.getByTestId('checkout-name').fill('Nguyễn Thị Lan');
  await sale.getByTestId('checkout-phone').fill('0912 345 678');
  await sale.getByTestId('checkout-address').fill('12 Hoàng Văn Thụ, TP Thái Nguyên');
  await sale.getByTestId('checkout-submit').click();

  await sale.getByTestId('order-confirmed').waitFor();
  assert.match(await sale.getByTestId('order-confirmed').textContent(), /398\.000\s₫/);

  const row = seller.getByTestId('order-row').filter({ hasText: 'Nguyễn Thị Lan' });
  await row.waitFor();
  assert.match(await row.textContent(), /0912345678/);
  await seller.waitForFunction(() => document.querySelector('[data-testid=stat-units]').textContent === '2');
  assert.match(await seller.getByTestId('stat-revenue').textContent(), /^398\.000\s₫$/);
  await seller.context().close();
  await viewer.context().close();
});
