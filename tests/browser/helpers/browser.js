// Launch the system Chromium (never a downloaded one) with a fake camera and
// microphone, and open the seller studio and viewer pages.

import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

const ARGS = [
  '--no-sandbox',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--autoplay-policy=no-user-gesture-required',
  '--disable-gpu',
  '--disable-quic',
];

export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install it (apt-get install chromium) or set CHROMIUM_PATH`);
  }
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
}

/**
 * A fresh context (own storage) and page; page errors fail loudly.
 * `prepare(page)` runs before the first navigation (e.g. to watch for CSP violations).
 */
export async function newPage(browser, { viewport = { width: 390, height: 844 }, lang = null, prepare = null } = {}) {
  const context = await browser.newContext({ viewport, locale: 'vi-VN', permissions: ['camera', 'microphone'] });
  if (lang) {
    await context.addInitScript((l) => localStorage.setItem('chophien.lang', l), lang);
  }
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (error) => page.errors.push(error));
  if (prepare) await prepare(page);
  return page;
}

/** Open the seller studio and wait for the room snapshot. */
export async function openSeller(browser, server, options = {}) {
  const page = await newPage(browser, { viewport: { width: 1280, height: 900 }, ...options });
  await page.goto(server.sellerUrl);
  await page.waitForFunction(() => window.__chophien?.model?.me?.role === 'seller');
  return page;
}

/** Open the viewer page, join as `name`, and wait for the room snapshot. */
export async function openViewer(browser, server, name, options = {}) {
  const page = await newPage(browser, options);
  await page.goto(server.viewerUrl);
  await page.getByTestId('join-name').fill(name);
  await page.getByTestId('join-button').click();
  await page.waitForFunction(() => Boolean(window.__chophien?.model?.me));
  return page;
}

/**
 * Start a flash sale of product p1 from the studio's form: 5 units at
 * 199.000 ₫, at most `limit` per buyer, open at once for two minutes (the
 * form's duration is in minutes).
 */
export async function startSale(seller, { limit = '2' } = {}) {
  await seller.getByTestId('sale-product').selectOption('p1');
  await seller.getByTestId('sale-stock').fill('5');
  await seller.getByTestId('sale-price').fill('199000');
  await seller.getByTestId('sale-limit').fill(limit);
  await seller.getByTestId('sale-starts').fill('0');
  await seller.getByTestId('sale-duration').fill('2');
  await seller.getByTestId('sale-start').click();
}

/** Send a chat message from a page through its chat form. */
export async function sendChat(page, text) {
  await page.getByTestId('chat-input').fill(text);
  await page.getByTestId('chat-send').click();
}
