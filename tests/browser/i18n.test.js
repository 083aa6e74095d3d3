// Language switching and Vietnamese money formatting.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { useServerAndBrowser } from './helpers/fixture.js';
import { REPO_ROOT } from './helpers/server.js';
import { newPage, openSeller, openViewer } from './helpers/browser.js';

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

test('no missing strings: both languages have the same keys, and every key a page or script names exists', async () => {
  const page = await newPage(browser);
  await page.goto(server.base + '/');
  const keys = await page.evaluate(async () => {
    const i18n = await import('/js/i18n.js');
    return { vi: i18n.keysOf('vi'), en: i18n.keysOf('en') };
  });
  await page.context().close();
  const vi = new Set(keys.vi);
  const en = new Set(keys.en);
  assert.deepEqual(keys.vi.filter((k) => !en.has(k)), [], 'keys with no English');
  assert.deepEqual(keys.en.filter((k) => !vi.has(k)), [], 'keys with no Vietnamese');

  const web = join(REPO_ROOT, 'web-client');
  const named = new Map();
  const note = (key, file) => { if (!named.has(key)) named.set(key, file); };
  for (const file of readdirSync(web).filter((f) => f.endsWith('.html'))) {
    const html = readFileSync(join(web, file), 'utf8');
    for (const m of html.matchAll(/data-i18n(?:-placeholder|-aria-label|-title)?="([^"]+)"/g)) note(m[1], file);
  }
  for (const file of readdirSync(join(web, 'js')).filter((f) => f.endsWith('.js'))) {
    const js = readFileSync(join(web, 'js', file), 'utf8');
    // Literal keys only: t('a.b') and t('a.b', {…}); keys built at run time are not checked here.
    for (const m of js.matchAll(/\bt\(\s*'([a-zA-Z][\w.]*)'/g)) note(m[1], `js/${file}`);
  }
  const missing = [...named].filter(([key]) => !vi.has(key)).map(([key, file]) => `${key} (${file})`);
  assert.deepEqual(missing, [], 'keys named but not defined');
  assert.ok(named.size > 100, `found the keys the pages name (${named.size})`);
});
