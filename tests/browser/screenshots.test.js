// Screenshots of the seller studio and the viewer page for the README
// (artifacts/screenshots/, git-ignored). A small scene is set first so the
// pages show what they look like in use.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServerAndBrowser } from './helpers/fixture.js';
import { mkdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { REPO_ROOT } from './helpers/server.js';
import { openSeller, openViewer, sendChat } from './helpers/browser.js';

const DIR = resolve(REPO_ROOT, 'artifacts', 'screenshots');

let server;
let browser;

useServerAndBrowser((s, b) => {
  server = s;
  browser = b;
  mkdirSync(DIR, { recursive: true });
});

test('screenshots of the seller studio and the viewer page are saved', async () => {
  const seller = await openSeller(browser, server);
  const viewer = await openViewer(browser, server, 'Lan');
  await seller.getByTestId('preview-button').click();
  await seller.waitForFunction(() => document.querySelector('[data-testid=preview]').videoWidth > 0);
  await seller.getByTestId('product-row').filter({ hasText: 'Chè Tân Cương' }).getByTestId('pin').click();
  await viewer.getByTestId('pinned').getByTestId('product-card').waitFor();
  await sendChat(seller, 'Chào cả nhà, hôm nay chè mới sao xong ạ!');
  await sendChat(viewer, 'Chị ơi chè này pha mấy nước?');
  await viewer.getByTestId('chat-message').nth(1).waitFor();
  // Live video and a running flash sale, as a viewer sees them mid-session.
  await seller.getByTestId('go-live').click();
  await viewer.waitForFunction(() => document.querySelector('[data-testid=video]').videoWidth > 0, null, { timeout: 15_000 });
  await seller.getByTestId('sale-product').selectOption('p1');
  await seller.getByTestId('sale-stock').fill('50');
  await seller.getByTestId('sale-price').fill('199000');
  await seller.getByTestId('sale-limit').fill('2');
  await seller.getByTestId('sale-starts').fill('0');
  await seller.getByTestId('sale-duration').fill('10');
  await seller.getByTestId('sale-start').click();
  await viewer.getByTestId('sale').getByTestId('buy-button').waitFor();
  for (let i = 0; i < 3; i += 1) await viewer.getByTestId('heart').click();
  await seller.waitForFunction(() => document.querySelector('[data-testid=stat-hearts]').textContent !== '0');

  const sellerPath = resolve(DIR, 'seller.png');
  const viewerPath = resolve(DIR, 'viewer.png');
  for (const page of [seller, viewer]) {
    await page.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
  }
  await seller.screenshot({ path: sellerPath, fullPage: true });
  await viewer.screenshot({ path: viewerPath, fullPage: true });
  assert.ok(statSync(sellerPath).size > 10_000);
  assert.ok(statSync(viewerPath).size > 10_000);
  await seller.context().close();
  await viewer.context().close();
});
