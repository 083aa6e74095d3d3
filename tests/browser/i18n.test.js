// Language switching and Vietnamese money formatting.

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

test('the viewer page starts in Vietnamese and switches to English, and remembers it', async () => {
  const viewer = await openViewer(browser, server, 'Minh');
  const send = viewer.getByTestId('chat-send');
  assert.equal(await send.textContent(), 'Gửi');
  assert.equal(await viewer.getByTestId('chat-input').getAttribute('placeholder'), 'Nhắn gì đó…');
  assert.equal(await viewer.evaluate(() => document.documentElement.lang), 'vi');

  await viewer.getByTestId('lang-toggle').click();
  assert.equal(await send.textContent(), 'Send');
  assert.equal(await viewer.getByTestId('chat-input').getAttribute('placeholder'), 'Say something…');
  assert.equal(await viewer.getByTestId('lang-toggle').textContent(), 'Tiếng Việt');
  assert.equal(await viewer.evaluate(() => document.documentElement.lang), 'en');

  await viewer.reload();
  assert.equal(await viewer.getByTestId('join-button').textContent(), 'Join');
  await viewer.context().close();
});

test('prices are written the Vietnamese way in both languages', async () => {
  const seller = await openSeller(browser, server);
  const first = seller.getByTestId('product-row').filter({ hasText: 'Chè Tân Cương đặc biệt 500g' });
  const price = () => first.getByTestId('product-price').textContent();
  assert.match(await price(), /^250\.000\s₫$/);
  const honey = seller.getByTestId('product-row').filter({ hasText: 'Mật ong rừng Võ Nhai' });
  assert.match(await honey.getByTestId('product-price').textContent(), /^1\.250\.000\s₫$/);

  await seller.getByTestId('lang-toggle').click();
  assert.equal(await seller.getByTestId('go-live').textContent(), 'Go live');
  assert.match(await price(), /^250\.000\s₫$/);
  await seller.context().close();
});
