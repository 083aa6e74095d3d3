// Every page of the web client, opened in a state that shows most of its
// text: for the i18n walk (i18n-keys.test.js) and the accessibility check
// (accessibility.test.js). The demo room gets a pinned product and a pinned
// note first; the trainer opens a class, whose coach and scorecard pages
// follow. A page that exists in web-client/ but is not listed here fails
// `everyPageIsListed`, so a new page cannot slip by.

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, ROOM_ID, trainerUrl } from './server.js';
import { newPage } from './browser.js';

/** Every page file this walk opens (sell.html only where it exists). */
export const PAGES = ['index', 'viewer', 'seller', 'order', 'report', 'replay', 'trainer', 'coach', 'scorecard', 'sell'];

/** The `web-client/*.html` files nobody walks (should be none). */
export function unlistedPages() {
  return readdirSync(join(REPO_ROOT, 'web-client'))
    .filter((f) => f.endsWith('.html'))
    .map((f) => f.replace(/\.html$/, ''))
    .filter((name) => !PAGES.includes(name));
}

/**
 * Pin a product and a note in the demo room from the studio open in
 * `seller`, and chat a line and a reply quoting it, so every chat log and
 * the pinned parts have something to show.
 */
export async function dressRoom(seller) {
  await seller.evaluate(async () => {
    const { conn, model } = window.__chophien;
    await conn.request({ type: 'pin_product', product_id: 'p1' });
    await conn.request({ type: 'pin_note', text: 'Freeship đơn từ 300k' });
    await conn.request({ type: 'chat', text: 'Chè mới về sáng nay cả nhà ơi' });
    while (model.chat.length === 0) await new Promise((r) => setTimeout(r, 50));
    await conn.request({ type: 'chat', text: 'Pha 5–6 lần nước nhé', reply_to: model.chat[0].id });
  });
}

/**
 * Open every page at `viewport` in `lang` and hand each to `visit(name, page)`
 * once it has drawn; each page's context is closed after its visit.
 */
export async function visitEveryPage(browser, server, { viewport, lang = 'vi' }, visit) {
  const open = async () => newPage(browser, { viewport, lang });
  const seller = encodeURIComponent(server.sellerToken);
  const run = async (name, page) => {
    try {
      await visit(name, page);
    } finally {
      await page.context().close();
    }
  };

  let page = await open();
  await page.goto(server.base + '/');
  await page.getByTestId('room-card').first().waitFor();
  await run('index', page);

  page = await open();
  await page.goto(server.viewerUrl);
  await page.getByTestId('join-name').waitFor();
  await run('viewer-join', page);

  page = await open();
  await page.goto(server.viewerUrl);
  await page.getByTestId('join-name').fill('Khách Kiểm Tra');
  await page.getByTestId('join-button').click();
  await page.waitForFunction(() => Boolean(window.__chophien?.model?.me));
  await page.getByTestId('note-bar').waitFor();
  await run('viewer', page);

  page = await open();
  await page.goto(server.sellerUrl);
  await page.waitForFunction(() => window.__chophien?.model?.me?.role === 'seller');
  await page.getByTestId('note-current').waitFor({ state: 'attached' });
  await run('seller', page);

  page = await open();
  await page.goto(`${server.base}/order.html`);
  await page.getByTestId('lookup-code').fill('CPKHONGCO1');
  await page.getByTestId('lookup-phone').fill('0912345678');
  await page.getByTestId('lookup-submit').click();
  await page.waitForFunction(() => document.querySelector('[role=alert], [role=status]:not([hidden])')?.textContent.trim());
  await run('order', page);

  page = await open();
  await page.goto(`${server.base}/report.html?room=${ROOM_ID}#token=${seller}`);
  await page.waitForFunction(() => {
    const status = document.querySelector('[data-testid=report-status]');
    return !document.querySelector('[data-testid=report]').hidden || !status.textContent.includes('…');
  });
  await run('report', page);

  page = await open();
  await page.goto(`${server.base}/replay.html?room=${ROOM_ID}#token=${seller}`);
  await page.waitForFunction(() => !document.querySelector('[data-testid=replay-status]').textContent.includes('…'));
  await run('replay', page);

  const trainer = await open();
  await trainer.goto(trainerUrl(server));
  await trainer.getByTestId('class-name').fill('Lớp kiểm tra');
  await trainer.getByTestId('class-trainees').fill('Lan');
  await trainer.getByTestId('timeline-add').click();
  await trainer.getByTestId('class-create').click();
  await trainer.getByTestId('overview-row').first().waitFor();
  const coachHref = new URL(await trainer.getByTestId('ov-coach').first().getAttribute('href'), trainerUrl(server)).href;
  const cardHref = new URL(await trainer.getByTestId('ov-scorecard').first().getAttribute('href'), trainerUrl(server)).href;
  await run('trainer', trainer);

  page = await open();
  await page.goto(coachHref);
  await page.getByTestId('nudge').first().waitFor();
  await run('coach', page);

  page = await open();
  await page.goto(cardHref);
  await page.getByTestId('scorecard').waitFor();
  await run('scorecard', page);

  if (existsSync(join(REPO_ROOT, 'web-client', 'sell.html'))) {
    page = await open();
    await page.goto(`${server.base}/sell.html`);
    await page.waitForLoadState('networkidle');
    await run('sell', page);
  }
}
