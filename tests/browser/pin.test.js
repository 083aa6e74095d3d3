// Pinning a product in the seller studio shows it on viewers' screens.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServerAndBrowser } from './helpers/fixture.js';
import { openSeller, openViewer } from './helpers/browser.js';

let server;
let browser;

useServerAndBrowser((s, b) => {
  server = s;
  browser = b;
});

test('a product pinned by the seller appears on the viewer page, and goes when unpinned', async () => {
  const seller = await openSeller(browser, server);
  const viewer = await openViewer(browser, server, 'Hương');
  await viewer.getByTestId('pinned-none').waitFor();

  const row = seller.getByTestId('product-row').filter({ hasText: 'Trà móc câu Tân Cương 200g' });
  await row.getByTestId('pin').click();

  const card = viewer.getByTestId('pinned').getByTestId('product-card');
  await card.waitFor();
  assert.equal(await card.getByTestId('product-name').textContent(), 'Trà móc câu Tân Cương 200g');
  assert.match(await card.getByTestId('product-price').textContent(), /^180\.000\s₫$/);
  assert.equal(await card.locator('img').getAttribute('src'), '/img/tra-moc-cau.svg');

  await row.getByTestId('unpin').click();
  await viewer.getByTestId('pinned-none').waitFor();
  await seller.context().close();
  await viewer.context().close();
});

test('a viewer who joins after the pin sees the pinned product at once', async () => {
  const seller = await openSeller(browser, server);
  const row = seller.getByTestId('product-row').filter({ hasText: 'Bánh chưng Bờ Đậu' });
  await row.getByTestId('pin').click();
  await row.getByTestId('unpin').waitFor();

  const viewer = await openViewer(browser, server, 'Tuấn');
  const card = viewer.getByTestId('pinned').getByTestId('product-card');
  await card.waitFor();
  assert.equal(await card.getByTestId('product-name').textContent(), 'Bánh chưng Bờ Đậu (cặp)');
  await seller.context().close();
  await viewer.context().close();
});
