// The seller's studio on a phone, and on a laptop (issue 14, part 2;
// docs/studio.md): she goes live, switches camera, answers, deletes and mutes
// from a long press on a viewer's message, pins a product from the strip,
// starts a preset flash sale, and watches the orders counter rise when the
// viewer buys — by taps only (the viewer's page is only the other side).
// Every visible control is inside the screen and at least 44×44 CSS px, and
// nothing scrolls sideways. Screenshots go to target/screenshots/.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { useServerAndBrowser } from './helpers/fixture.js';
import { REPO_ROOT } from './helpers/server.js';
import { openViewer, sendChat } from './helpers/browser.js';
import { FIRST_FRAME_TIMEOUT_MS } from './helpers/video.js';
import { PRESETS, presetSale } from '../../web-client/js/seller-presets.js';
import { layoutProblems as reach } from './helpers/reach.js';

/** The studio's live screen does not scroll: a covered control is out of reach too. */
const layoutProblems = (page, options = {}) => reach(page, { covered: true, ...options });

const SHOTS = join(REPO_ROOT, 'target', 'screenshots');
const SCREENS = [
  { name: 'phone-360x740', viewport: { width: 360, height: 740 }, mobile: true },
  { name: 'phone-390x844', viewport: { width: 390, height: 844 }, mobile: true },
  { name: 'desktop-1366x768', viewport: { width: 1366, height: 768 }, mobile: false },
];
/** Generous: the machine is shared with other builds. */
const PATIENCE = { timeout: 30_000 };
/** Longer than the studio's long press (500 ms, seller-chat.js). */
const HOLD_MS = 900;
const PRICE = /^\d{1,3}(\.\d{3})*\s₫$/;

let server;
let browser;

useServerAndBrowser((s, b) => {
  server = s;
  browser = b;
  mkdirSync(SHOTS, { recursive: true });
});

/** The studio as a phone (touch, mobile, device scale 2) or a touch laptop holds it. */
async function openStudio({ viewport, mobile }, { lang = null } = {}) {
  const context = await browser.newContext({
    viewport, isMobile: mobile, hasTouch: true, deviceScaleFactor: mobile ? 2 : 1,
    locale: 'vi-VN', permissions: ['camera', 'microphone'],
  });
  if (lang) await context.addInitScript((l) => localStorage.setItem('chophien.lang', l), lang);
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (error) => page.errors.push(error));
  await page.goto(server.sellerUrl);
  await page.waitForFunction(() => window.__chophien?.model?.me?.role === 'seller', null, PATIENCE);
  return page;
}

async function checkLayout(page, screen, step) {
  assert.deepEqual(await layoutProblems(page, { pageScrolls: !screen.mobile }), [], `${screen.name}, ${step}`);
  await page.screenshot({ path: join(SHOTS, `studio-${screen.name}-${step}.png`) });
}

/**
 * Hold a finger (`touch`, through the DevTools protocol's touch events) or
 * the mouse button on `locator` longer than a long press, then lift it.
 */
async function longPress(page, message, { touch = true } = {}) {
  // On its words: the message's own buttons keep their taps.
  const locator = message.getByTestId('chat-text');
  await locator.scrollIntoViewIfNeeded();
  const box = await locator.boundingBox();
  const x = box.x + Math.min(12, box.width / 2);
  const y = box.y + box.height / 2;
  if (touch) {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [{ x, y }] });
    await page.waitForTimeout(HOLD_MS);
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
    await cdp.detach();
  } else {
    await page.mouse.move(x, y);
    await page.mouse.down();
    await page.waitForTimeout(HOLD_MS);
    await page.mouse.up();
  }
}

/** The video track the seller's PeerConnection sends now. */
function sentVideoTrack(page) {
  return page.evaluate(() => window.__chophien.pc?.getSenders().find((s) => s.track?.kind === 'video')?.track.id ?? null);
}

/** The order count the studio shows (a phone's counter; the laptop's "Đơn hàng" table rows). */
function ordersShown(page, mobile) {
  return mobile
    ? page.getByTestId('phone-orders').evaluate((el) => Number(el.textContent.replace(/\D/g, '') || -1))
    : page.evaluate(() => document.querySelectorAll('[data-testid=orders-table] tbody tr').length);
}

for (const screen of SCREENS) {
  test(`on ${screen.name}: live, camera switch, long-press reply/delete/mute, pin from the strip, a preset sale, an order counted — by taps`, async () => {
    const { mobile } = screen;
    const seller = await openStudio(screen);
    // What each step is tapped on: the phone layer's control, or the desktop studio's.
    const id = (phone, desk) => (mobile ? phone : desk);
    if (mobile) {
      assert.equal(await seller.getByTestId('phone-studio').isVisible(), true);
      assert.equal(await seller.getByTestId('orders').isVisible(), false, 'the full studio waits behind "Quản lý"');
      const box = await seller.getByTestId('phone-preview').boundingBox();
      assert.deepEqual([box.width, box.height], [screen.viewport.width, screen.viewport.height], 'the preview fills the screen');
    } else {
      assert.equal(await seller.getByTestId('phone-studio').isVisible(), false, 'no phone layer from 960 px');
      assert.equal(await seller.getByTestId('orders').isVisible(), true);
    }
    await checkLayout(seller, screen, '1-before');

    // Go live.
    await seller.getByTestId(id('phone-go-live', 'go-live')).tap();
    await seller.waitForFunction(() => window.__chophien.pc?.connectionState === 'connected', null, { timeout: FIRST_FRAME_TIMEOUT_MS * 2 });
    if (mobile) {
      await seller.locator('[data-testid=phone-status][data-status=live]').waitFor(PATIENCE);
      await seller.getByTestId('phone-end-live').waitFor(PATIENCE);
    }

    // Front ↔ back camera: a fresh track goes on air in the same publish.
    const before = await sentVideoTrack(seller);
    assert.ok(before, 'a video track is on air');
    await seller.getByTestId(id('phone-flip', 'flip-camera')).tap();
    await seller.waitForFunction((old) => {
      const track = window.__chophien.pc?.getSenders().find((s) => s.track?.kind === 'video')?.track;
      return track && track.id !== old && track.readyState === 'live' && window.__chophien.media.facing === 'environment';
    }, before, PATIENCE);
    assert.equal(await seller.evaluate(() => window.__chophien.pc.connectionState), 'connected', 'still on air');
    if (mobile) assert.equal(await seller.getByTestId('phone-studio').getAttribute('data-facing'), 'environment');
    await checkLayout(seller, screen, '2-live');

    // A viewer asks; a long press on her line: reply.
    const viewer = await openViewer(browser, server, `Lan ${screen.viewport.width}`);
    const log = id('phone-chat-log', 'chat-log');
    const line = (text) => seller.getByTestId(log).locator('[data-message-id]').filter({ hasText: text });
    const question = `còn hàng không? (${screen.name})`;
    await sendChat(viewer, question);
    await line(question).waitFor(PATIENCE);
    await longPress(seller, line(question), { touch: mobile });
    const sheet = seller.getByTestId('studio-sheet');
    await sheet.getByTestId('message-sheet').waitFor(PATIENCE);
    assert.equal(await sheet.getByTestId('sheet-text').textContent(), question, 'the sheet shows the message, as text');
    await checkLayout(seller, screen, '3-message-sheet');
    await sheet.getByTestId('sheet-reply').tap();
    await sheet.waitFor({ state: 'hidden' });
    const replyBar = seller.getByTestId(id('phone-reply-bar', 'reply-bar'));
    await replyBar.waitFor(PATIENCE);
    const answer = `còn em nhé (${screen.name})`;
    await seller.getByTestId(id('phone-chat-input', 'chat-input')).fill(answer);
    await seller.getByTestId(id('phone-chat-send', 'chat-send')).tap();
    const answered = viewer.getByTestId('chat-message').filter({ hasText: answer });
    await answered.waitFor(PATIENCE);
    assert.equal(await answered.getByTestId('chat-quote-text').textContent(), question, 'the answer quotes the question');
    await replyBar.waitFor({ state: 'hidden' });

    // Delete: long press again.
    const spam = `mua sỉ ib zalo 09xx (${screen.name})`;
    await sendChat(viewer, spam);
    await line(spam).waitFor(PATIENCE);
    await longPress(seller, line(spam), { touch: mobile });
    await sheet.getByTestId('sheet-delete').tap();
    await line(spam).waitFor({ state: 'detached', ...PATIENCE });
    await viewer.getByTestId('chat-message').filter({ hasText: spam }).waitFor({ state: 'detached', ...PATIENCE });

    // Mute: through the message's "…" button this time (keyboards, screen readers), or a long press on a laptop.
    const loud = `ALO ALO (${screen.name})`;
    await sendChat(viewer, loud);
    await line(loud).waitFor(PATIENCE);
    if (mobile) await line(loud).getByTestId('phone-chat-more').tap();
    else await longPress(seller, line(loud), { touch: true });
    await sheet.getByTestId('sheet-mute').tap();
    const viewerId = await viewer.evaluate(() => window.__chophien.model.me.user_id);
    await seller.waitForFunction((u) => window.__chophien.model.muted.has(u), viewerId, PATIENCE);
    await sendChat(viewer, 'nói nữa');
    await viewer.getByTestId('chat-notice').filter({ hasText: 'tắt tiếng' }).waitFor(PATIENCE);

    // Pin a product from the strip (a laptop pins from the product list).
    const stripItem = (pressed) => seller.locator(`[data-testid=strip-product][data-product-id=p3][aria-pressed=${pressed}]`);
    const pinnedCard = viewer.getByTestId('pinned').getByTestId('product-card').filter({ hasText: 'Bún khô' });
    if (mobile) {
      await stripItem(false).tap();
      await stripItem(true).waitFor(PATIENCE);
    } else {
      await seller.locator('[data-testid=product-row][data-product-id=p3]').getByTestId('pin').tap();
    }
    await pinnedCard.waitFor(PATIENCE);

    // The presets, priced from the pinned product (45.000 ₫): 20 % off is 36.000 ₫.
    const presets = seller.getByTestId(id('phone-presets', 'desk-presets'));
    const classic = presets.locator('[data-testid=preset][data-preset=classic]');
    await classic.waitFor(PATIENCE);
    for (const price of await presets.getByTestId('preset-price').allTextContents()) assert.match(price, PRICE);
    assert.equal((await classic.getByTestId('preset-price').textContent()).replace(/\s/g, ' '), '36.000 ₫');
    assert.match(await classic.textContent(), /50 suất · giảm 20% · 5 phút/);
    await checkLayout(seller, screen, '4-pinned');

    // One tap, a confirm step, and the sale is on.
    const ordersBefore = await ordersShown(seller, mobile);
    await classic.tap();
    await sheet.getByTestId('preset-sheet').waitFor(PATIENCE);
    assert.match(await sheet.getByTestId('sheet-text').textContent(), /50 suất giá 36\.000\s₫ \(giá gốc 45\.000\s₫, giảm 20%\), trong 5 phút/);
    await checkLayout(seller, screen, '5-preset-confirm');
    await sheet.getByTestId('preset-confirm').tap();
    const sale = viewer.getByTestId('sale');
    await sale.waitFor(PATIENCE);
    if (mobile) await seller.getByTestId('phone-sale').waitFor(PATIENCE);
    else await seller.getByTestId('sale-end').waitFor(PATIENCE);
    assert.equal(await seller.evaluate(() => window.__chophien.model.sale.price_vnd), 36000);

    // The viewer buys; the orders counter rises.
    await viewer.waitForFunction(() => document.querySelector('[data-testid=buy-button]')?.disabled === false, null, PATIENCE);
    await sale.getByTestId('buy-button').click();
    await sale.getByTestId('hold').waitFor(PATIENCE);
    await sale.getByTestId('checkout-name').fill('Nguyễn Thị Lan');
    await sale.getByTestId('checkout-phone').fill(`09${String(screen.viewport.width).slice(-3)}45678`);
    await sale.getByTestId('checkout-address').fill('12 Hoàng Văn Thụ, TP Thái Nguyên');
    await sale.getByTestId('checkout-submit').click();
    await sale.getByTestId('order-confirmed').waitFor(PATIENCE);
    if (mobile) {
      await seller.waitForFunction((n) => Number(document.querySelector('[data-testid=phone-orders]').textContent.replace(/\D/g, '')) > n, ordersBefore, PATIENCE);
      await seller.getByTestId('phone-sale-remaining').filter({ hasText: '49/50' }).waitFor(PATIENCE);
    } else {
      await seller.waitForFunction((n) => document.querySelectorAll('[data-testid=orders-table] tbody tr').length > n, ordersBefore, PATIENCE);
    }
    await checkLayout(seller, screen, '6-sale');

    // End the sale: the presets come back. Unpin: one more tap.
    await seller.getByTestId(id('phone-sale-end', 'sale-end')).tap();
    await classic.waitFor(PATIENCE);
    if (mobile) await stripItem(true).tap();
    else await seller.locator('[data-testid=product-row][data-product-id=p3]').getByTestId('unpin').tap();
    await pinnedCard.waitFor({ state: 'detached', ...PATIENCE });
    if (mobile) await stripItem(false).waitFor(PATIENCE);

    assert.deepEqual([...seller.errors, ...viewer.errors].map(String), []);
    await viewer.context().close();
    await seller.context().close();
  });
}

test('on a phone, "Quản lý" opens the full studio and "Về màn hình live" (or Escape) brings the live screen back', async () => {
  const screen = SCREENS[0];
  const seller = await openStudio(screen);
  await seller.getByTestId('phone-manage').tap();
  await seller.getByTestId('sale-form').waitFor(PATIENCE);
  assert.equal(await seller.getByTestId('phone-studio').isVisible(), false);
  assert.equal(await seller.evaluate(() => document.activeElement?.dataset.testid), 'manage-back', 'focus on the way back');
  for (const part of ['orders', 'voucher-form', 'payment-form', 'webhook-form', 'add-product']) {
    await seller.getByTestId(part).scrollIntoViewIfNeeded();
  }
  await seller.evaluate(() => window.scrollTo(0, 0));
  assert.deepEqual(await layoutProblems(seller, { pageScrolls: true }), [], 'the full studio on a phone: large targets, no sideways scroll');
  await seller.screenshot({ path: join(SHOTS, `studio-${screen.name}-manage.png`) });
  await seller.getByTestId('manage-back').tap();
  await seller.getByTestId('phone-studio').waitFor(PATIENCE);
  assert.equal(await seller.evaluate(() => document.activeElement?.dataset.testid), 'phone-manage', 'focus back on "Quản lý"');
  await seller.getByTestId('phone-manage').tap();
  await seller.getByTestId('manage-back').waitFor(PATIENCE);
  await seller.keyboard.press('Escape');
  await seller.getByTestId('phone-studio').waitFor(PATIENCE);
  assert.deepEqual(seller.errors.map(String), []);
  await seller.context().close();
});

test('a phone held sideways keeps the tools on the left and every control in reach', async () => {
  const screen = { name: 'phone-landscape-844x390', viewport: { width: 844, height: 390 }, mobile: true };
  const seller = await openStudio(screen);
  await seller.getByTestId('phone-studio').waitFor(PATIENCE);
  const item = (pressed) => seller.locator(`[data-testid=strip-product][data-product-id=p1][aria-pressed=${pressed}]`);
  await item(false).tap();
  await seller.getByTestId('phone-presets').locator('[data-testid=preset]').first().waitFor(PATIENCE);
  const bottom = await seller.locator('.phone-bottom').boundingBox();
  assert.ok(bottom.x + bottom.width <= screen.viewport.width * 0.61, `the tools keep to the left (end at ${bottom.x + bottom.width})`);
  await checkLayout(seller, screen, '1-pinned');
  await item(true).tap();
  await item(false).waitFor(PATIENCE);
  assert.deepEqual(seller.errors.map(String), []);
  await seller.context().close();
});

test('on a phone, banning from a long press asks first, and the viewer is put out', async () => {
  const screen = SCREENS[1];
  const seller = await openStudio(screen, { lang: 'en' });
  const viewer = await openViewer(browser, server, 'Kẻ Phá Đám');
  const rude = '<b>mua hàng giả</b> ở đây';
  await sendChat(viewer, rude);
  const line = seller.getByTestId('phone-chat-log').locator('[data-message-id]').filter({ hasText: rude });
  await line.waitFor(PATIENCE);
  assert.equal(await line.locator('b').count(), 0, 'chat is text, never markup');
  await longPress(seller, line);
  const sheet = seller.getByTestId('studio-sheet');
  await sheet.getByTestId('sheet-ban').tap();
  // The confirm step, in English: "Not now" keeps her.
  await sheet.getByTestId('studio-confirm').filter({ hasText: 'Ban Kẻ Phá Đám?' }).waitFor(PATIENCE);
  await checkLayout(seller, screen, 'ban-confirm');
  await sheet.getByTestId('sheet-close').tap();
  await sheet.waitFor({ state: 'hidden' });
  assert.equal(await viewer.getByTestId('connection').isVisible(), false);
  // Again, and yes.
  await longPress(seller, line);
  await sheet.getByTestId('sheet-ban').tap();
  await sheet.getByTestId('ban-confirm').tap();
  await viewer.locator('[data-testid=connection][data-status=banned]').waitFor(PATIENCE);
  await seller.waitForFunction(() => [...window.__chophien.model.banned.values()].includes('Kẻ Phá Đám'), null, PATIENCE);
  assert.deepEqual(seller.errors.map(String), []);
  await viewer.context().close();
  await seller.context().close();
});

test('on a phone, "Kết thúc" asks first and ends the live', async () => {
  const screen = SCREENS[0];
  const seller = await openStudio(screen);
  await seller.getByTestId('phone-go-live').tap();
  await seller.waitForFunction(() => window.__chophien.pc?.connectionState === 'connected', null, { timeout: FIRST_FRAME_TIMEOUT_MS * 2 });
  await seller.getByTestId('phone-end-live').tap();
  const sheet = seller.getByTestId('studio-sheet');
  await sheet.getByTestId('end-confirm').waitFor(PATIENCE);
  await checkLayout(seller, screen, 'end-confirm');
  await sheet.getByTestId('end-confirm').tap();
  await seller.locator('[data-testid=phone-status][data-status=ended]').waitFor(PATIENCE);
  assert.equal(await seller.getByTestId('phone-go-live').isVisible(), false, 'an ended room does not go live again');
  assert.deepEqual(seller.errors.map(String), []);
  await seller.context().close();
});

test('a preset sells at its discount rounded to 1.000 ₫, never under 1.000 ₫, and no more units than are on hand', () => {
  const [classic, flash, long] = PRESETS;
  assert.deepEqual([classic.units, classic.discount, classic.minutes], [50, 20, 5], '"50 suất, giảm 20%, 5 phút"');
  assert.deepEqual(presetSale(classic, { price_vnd: 1_250_000, stock: 120 }), { price_vnd: 1_000_000, units: 50 });
  assert.deepEqual(presetSale(flash, { price_vnd: 45_000, stock: 300 }), { price_vnd: 32_000, units: 20 }, '31.500 ₫ rounds to 32.000 ₫');
  assert.deepEqual(presetSale(long, { price_vnd: 250_000, stock: 15 }), { price_vnd: 225_000, units: 15 }, 'only 15 on hand');
  assert.deepEqual(presetSale(classic, { price_vnd: 500, stock: 0 }), { price_vnd: 1000, units: 0 });
});
