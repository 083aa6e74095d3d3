// Vouchers in the browser: the seller creates a drop voucher for one viewer
// and drops it live; two viewers tap "Lấy mã" at the same moment and
// exactly one gets it (the other is told it is gone); the winner's checkout
// has the code filled in and her order shows the discount.

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

test('a dropped voucher goes to exactly one of two racing viewers, who checks out with its discount', async () => {
  const seller = await openSeller(browser, server);
  const form = seller.getByTestId('voucher-form');
  await form.getByTestId('voucher-code').fill('san50');
  await form.getByTestId('voucher-kind').selectOption('percent');
  await form.getByTestId('voucher-value').fill('50');
  await form.getByTestId('voucher-max').fill('100000');
  await form.getByTestId('voucher-uses-input').fill('1');
  await form.getByTestId('voucher-drop-kind').check();
  await form.getByTestId('voucher-create').click();
  const row = seller.locator('[data-testid=voucher-row][data-code=SAN50]');
  await row.waitFor();

  const lan = await openViewer(browser, server, 'Lan');
  const minh = await openViewer(browser, server, 'Minh');
  await row.getByTestId('voucher-drop-button').click();
  for (const viewer of [lan, minh]) await viewer.getByTestId('voucher-claim').waitFor();

  // Both tap at once; the server decides.
  await Promise.all([lan, minh].map((viewer) => viewer.getByTestId('voucher-claim').click()));
  const outcome = async (viewer) => {
    await viewer.waitForFunction(() => document.querySelector('[data-testid=voucher-mine], [data-testid=voucher-message]'));
    return (await viewer.getByTestId('voucher-mine').count()) > 0 ? 'won' : 'lost';
  };
  const results = [await outcome(lan), await outcome(minh)];
  assert.deepEqual([...results].sort(), ['lost', 'won'], 'exactly one of the two');
  const [winner, loser] = results[0] === 'won' ? [lan, minh] : [minh, lan];
  assert.match(await loser.getByTestId('voucher-message').textContent(), /Hết lượt/);

  await startSale(seller);
  const sale = winner.getByTestId('sale');
  await winner.waitForFunction(() => document.querySelector('[data-testid=buy-button]')?.disabled === false);
  await sale.getByTestId('buy-button').click();
  await sale.getByTestId('checkout-name').fill('Người thắng');
  await sale.getByTestId('checkout-phone').fill('0912345678');
  await sale.getByTestId('checkout-address').fill('12 Hoàng Văn Thụ, TP Thái Nguyên');
  assert.equal(await sale.getByTestId('checkout-voucher').inputValue(), 'SAN50', 'filled in from the claim');
  await sale.getByTestId('checkout-submit').click();
  await sale.getByTestId('order-confirmed').waitFor();
  // 199.000 ₫ − 50 % (99.500 ₫, under the 100.000 ₫ cap) = 99.500 ₫.
  assert.match(await sale.getByTestId('order-discount').textContent(), /99\.500\s₫.*SAN50/);
  assert.match(await sale.getByTestId('order-total').textContent(), /99\.500\s₫/);
  await seller.waitForFunction(() => document.querySelector('[data-testid=voucher-row][data-code=SAN50] [data-testid=voucher-uses]'));
});
