// The viewer page on a phone, portrait and landscape, and on a laptop
// (issue 14, part 1; docs/viewer.md): the whole flow by taps only, every
// control in reach and large enough, no sideways scroll, the sheets' focus,
// the page without WebRTC or without a picture, and the data saver's bytes.
// Screenshots of each screen go to target/screenshots/.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { useServerAndBrowser } from './helpers/fixture.js';
import { REPO_ROOT } from './helpers/server.js';
import { openSeller, startSale } from './helpers/browser.js';
import { FIRST_FRAME_TIMEOUT_MS, waitForVideo } from './helpers/video.js';
import { layoutProblems } from './helpers/reach.js';

const SHOTS = join(REPO_ROOT, 'target', 'screenshots');
const SCREENS = [
  { name: 'phone-360x740', viewport: { width: 360, height: 740 }, mobile: true },
  { name: 'phone-390x844', viewport: { width: 390, height: 844 }, mobile: true },
  { name: 'desktop-1366x768', viewport: { width: 1366, height: 768 }, mobile: false },
];
/** Generous: the machine is shared with other builds. */
const PATIENCE = { timeout: 30_000 };

let server;
let browser;
let seller;

useServerAndBrowser((s, b) => {
  server = s;
  browser = b;
});

// One seller, live with Chromium's fake camera, for the whole file (started
// by the first test that needs her, once the server and browser are up).
async function liveSeller() {
  if (seller) return seller;
  mkdirSync(SHOTS, { recursive: true });
  seller = await openSeller(browser, server);
  await seller.getByTestId('go-live').click();
  await seller.waitForFunction(() => window.__chophien.pc?.connectionState === 'connected', null, { timeout: FIRST_FRAME_TIMEOUT_MS });
  return seller;
}

after(async () => {
  await seller?.context().close();
});

/** A page as a phone (touch, mobile, device scale 2) or a laptop holds it. */
async function newScreen({ viewport, mobile }, { init = null } = {}) {
  await liveSeller();
  const context = await browser.newContext({
    // A laptop with a touch screen: taps work there too.
    viewport, isMobile: mobile, hasTouch: true, deviceScaleFactor: mobile ? 2 : 1,
    locale: 'vi-VN', permissions: ['camera', 'microphone'],
  });
  if (init) await context.addInitScript(init);
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (error) => page.errors.push(error));
  return page;
}

/** Join by taps (the name is typed, everything else tapped). */
async function joinRoom(page, name) {
  await page.goto(server.viewerUrl);
  await page.getByTestId('join-name').fill(name);
  await page.getByTestId('join-button').tap();
  await page.waitForFunction(() => Boolean(window.__chophien?.model?.me), null, PATIENCE);
}

async function checkLayout(page, screen, step) {
  assert.deepEqual(await layoutProblems(page, { pageScrolls: !screen.mobile }), [], `${screen.name}, ${step}`);
  await page.screenshot({ path: join(SHOTS, `viewer-${screen.name}-${step}.png`) });
}

/** Pin a product from the studio (a no-op when it is pinned already). */
async function pin(productId) {
  const row = seller.locator(`[data-testid=product-row][data-product-id=${productId}]`);
  const pinButton = row.getByTestId('pin');
  if (await pinButton.count()) await pinButton.click();
  await row.getByTestId('unpin').waitFor(PATIENCE);
}

for (const screen of SCREENS) {
  test(`on ${screen.name}: join, watch, chat, heart, bag, flash-sale buy, checkout and order status, by taps only`, async () => {
    const page = await newScreen(screen);
    await joinRoom(page, `Khách ${screen.viewport.width}`);
    const joinedAt = Date.now();
    await waitForVideo(page, joinedAt, `${screen.name} watching`);
    // "ĐANG LIVE" once, and the title whole.
    assert.equal(await page.getByTestId('live-badge').isVisible(), true);
    assert.equal(await page.getByTestId('room-status').isVisible(), false);
    const title = page.getByTestId('room-title');
    assert.equal(await title.evaluate((el) => el.scrollWidth <= el.clientWidth + 1), true, 'the title is not cut');
    if (screen.mobile) {
      // The video fills the screen.
      const box = await page.getByTestId('video').boundingBox();
      assert.deepEqual([box.width, box.height], [screen.viewport.width, screen.viewport.height]);
      assert.equal(await page.getByTestId('video').evaluate((v) => getComputedStyle(v).objectFit), 'cover');
    }
    await checkLayout(page, screen, '1-watch');

    // Chat.
    const words = `chào từ ${screen.name}`;
    await page.getByTestId('chat-input').tap();
    await page.getByTestId('chat-input').fill(words);
    await page.getByTestId('chat-send').tap();
    await page.getByTestId('chat-log').getByText(words).waitFor(PATIENCE);

    // Heart: it floats up, and the room counts it.
    const heartsBefore = await page.evaluate(() => window.__chophien.model.heartsTotal);
    await page.getByTestId('heart').tap();
    await page.locator('#hearts-float .float-heart').first().waitFor({ state: 'attached' });
    await page.waitForFunction((n) => window.__chophien.model.heartsTotal > n, heartsBefore, PATIENCE);

    // The pinned product's bubble: into the bag.
    await pin('p3');
    const bubble = page.getByTestId('pinned').getByTestId('product-card');
    await bubble.waitFor(PATIENCE);
    assert.match(await bubble.getByTestId('product-price').textContent(), /^\d{1,3}(\.\d{3})*\s₫$/);
    await page.waitForFunction(() => document.querySelector('[data-testid=pinned] [data-testid=add-to-bag]')?.disabled === false, null, PATIENCE);
    await bubble.getByTestId('add-to-bag').tap();
    await page.getByTestId('bag-count').filter({ hasText: '1' }).waitFor(PATIENCE);
    await checkLayout(page, screen, '2-pinned');

    // The bag sheet, and back.
    await page.getByTestId('bag-button').tap();
    const bag = page.getByTestId('bag-panel');
    await bag.getByTestId('bag-line').first().waitFor(PATIENCE);
    await checkLayout(page, screen, '3-bag');
    await bag.getByTestId('bag-close').tap();
    await bag.waitFor({ state: 'hidden' });

    // The catalog sheet.
    await page.getByTestId('catalog-button').tap();
    await page.locator('#catalog-list [data-testid=product-card]').first().waitFor(PATIENCE);
    await checkLayout(page, screen, '4-catalog');
    await page.getByTestId('catalog-close').tap();
    await page.getByTestId('catalog-sheet').waitFor({ state: 'hidden' });

    // A flash sale: buy, check out, see the order's status; chat still in reach.
    await startSale(seller);
    const sale = page.getByTestId('sale');
    await sale.waitFor(PATIENCE);
    assert.equal(await sale.getByTestId('sale-regular-price').evaluate((el) => el.tagName), 'S');
    await page.waitForFunction(() => document.querySelector('[data-testid=buy-button]')?.disabled === false, null, PATIENCE);
    await checkLayout(page, screen, '5-sale');
    const during = `còn suất không? ${screen.name}`;
    await page.getByTestId('chat-input').fill(during);
    await page.getByTestId('chat-send').tap();
    await page.getByTestId('chat-log').getByText(during).waitFor(PATIENCE);
    await sale.getByTestId('buy-button').tap();
    await sale.getByTestId('hold').waitFor(PATIENCE);
    await sale.getByTestId('checkout-name').fill('Nguyễn Thị Lan');
    await sale.getByTestId('checkout-phone').fill('0912 345 678');
    await sale.getByTestId('checkout-address').fill('12 Hoàng Văn Thụ, TP Thái Nguyên');
    await checkLayout(page, screen, '6-checkout');
    await sale.getByTestId('checkout-submit').tap();
    await sale.getByTestId('order-confirmed').waitFor(PATIENCE);
    assert.ok((await sale.getByTestId('order-status').first().textContent()).trim().length > 0);
    await checkLayout(page, screen, '7-order');
    await seller.getByTestId('sale-end').click();
    await seller.getByTestId('sale-end').waitFor({ state: 'detached', ...PATIENCE });

    assert.deepEqual(page.errors.map(String), []);
    await page.context().close();
  });
}

test('a landscape phone keeps the overlay on the left and every control in reach', async () => {
  const screen = { name: 'phone-landscape-844x390', viewport: { width: 844, height: 390 }, mobile: true };
  const page = await newScreen(screen);
  await joinRoom(page, 'Khách nằm ngang');
  await page.getByTestId('dock').waitFor();
  await pin('p3');
  await page.getByTestId('pinned').getByTestId('product-card').waitFor(PATIENCE);
  const side = await page.locator('#room .side').boundingBox();
  assert.ok(side.x + side.width <= screen.viewport.width * 0.6, `the overlay keeps to the left (ends at ${side.x + side.width})`);
  const video = await page.getByTestId('video').boundingBox();
  assert.deepEqual([video.width, video.height], [844, 390]);
  await checkLayout(page, screen, '1-watch');
  await page.context().close();
});

test('the bag sheet keeps the keyboard inside and closes with Escape; the catalog sheet too', async () => {
  const screen = SCREENS[0];
  const page = await newScreen(screen);
  await joinRoom(page, 'Bàn Phím');
  const bagButton = page.getByTestId('bag-button');
  await bagButton.waitFor();
  await bagButton.tap();
  const bag = page.getByTestId('bag-panel');
  await bag.waitFor();
  const inBag = () => page.evaluate(() => Boolean(document.activeElement?.closest('#bag-sheet')));
  assert.equal(await inBag(), true, 'focus moves into the sheet');
  for (let i = 0; i < 8; i += 1) {
    await page.keyboard.press('Tab');
    assert.equal(await inBag(), true, `Tab ${i + 1} stays in the sheet`);
  }
  await page.keyboard.press('Escape');
  await bag.waitFor({ state: 'hidden' });
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'bag-button', 'focus back on the bag button');
  // A tap on the backdrop closes it too.
  await bagButton.tap();
  await bag.waitFor();
  await page.mouse.click(screen.viewport.width / 2, 10);
  await bag.waitFor({ state: 'hidden' });

  await page.getByTestId('catalog-button').tap();
  await page.getByTestId('catalog-sheet').waitFor();
  // Focus moves once the sheet has opened (after its transition): wait for it, then check.
  await page.waitForFunction(() => document.activeElement?.dataset.testid === 'catalog-close', null, { timeout: 5_000 }).catch(() => {});
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'catalog-close', 'focus moves into the catalog');
  // Not modal: chat works with the catalog open.
  await page.getByTestId('chat-input').fill('vẫn chat được');
  await page.getByTestId('chat-send').tap();
  await page.getByTestId('chat-log').getByText('vẫn chat được').waitFor(PATIENCE);
  await page.getByTestId('catalog-close').focus();
  await page.keyboard.press('Escape');
  await page.getByTestId('catalog-sheet').waitFor({ state: 'hidden' });
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'catalog-button');
  await page.context().close();
});

test('without WebRTC the page says so in the video, and chat, the pinned product and the bag still work', async () => {
  const page = await newScreen(SCREENS[1], {
    init: () => {
      delete window.RTCPeerConnection;
      delete window.webkitRTCPeerConnection;
    },
  });
  await joinRoom(page, 'Máy cũ');
  await page.getByTestId('video-overlay').filter({ hasText: 'không phát được video' }).waitFor(PATIENCE);
  await page.getByTestId('chat-input').fill('máy cũ vẫn chat');
  await page.getByTestId('chat-send').tap();
  await page.getByTestId('chat-log').getByText('máy cũ vẫn chat').waitFor(PATIENCE);
  await pin('p3');
  const bubble = page.getByTestId('pinned').getByTestId('product-card');
  await bubble.waitFor(PATIENCE);
  await page.waitForFunction(() => document.querySelector('[data-testid=pinned] [data-testid=add-to-bag]')?.disabled === false, null, PATIENCE);
  await bubble.getByTestId('add-to-bag').tap();
  await page.getByTestId('bag-button').tap();
  const bag = page.getByTestId('bag-panel');
  await bag.getByTestId('bag-line').first().waitFor(PATIENCE);
  await bag.getByTestId('bag-checkout-name').fill('Lò Thị Quyên');
  await bag.getByTestId('bag-checkout-phone').fill('0977 888 999');
  await bag.getByTestId('bag-checkout-address').fill('Bản Vèn, Định Hóa, Thái Nguyên');
  await bag.getByTestId('bag-checkout-submit').tap();
  await bag.getByTestId('bag-order-status').first().waitFor(PATIENCE);
  assert.deepEqual(page.errors.map(String), []);
  await page.context().close();
});

test('when no picture comes, the video area says so after about 12 s (in English too)', async () => {
  // The browser has WebRTC but the offer is never applied: no picture.
  const page = await newScreen(SCREENS[0], {
    init: () => {
      localStorage.setItem('chophien.lang', 'en');
      RTCPeerConnection.prototype.setRemoteDescription = () => new Promise(() => {});
    },
  });
  await joinRoom(page, 'No picture');
  const overlay = page.getByTestId('video-overlay');
  await overlay.filter({ hasText: 'Connecting video' }).waitFor(PATIENCE);
  await overlay.filter({ hasText: 'The video is not coming through' }).waitFor({ timeout: 40_000 });
  await page.getByTestId('chat-input').fill('no picture, still chatting');
  await page.getByTestId('chat-send').tap();
  await page.getByTestId('chat-log').getByText('no picture, still chatting').waitFor(PATIENCE);
  await page.context().close();
});

/** Bytes this page's PeerConnection received over `ms` (transport level: every packet counts). */
async function bytesOver(page, ms) {
  const read = () => page.evaluate(async () => {
    let bytes = 0;
    (await window.__chophien.pc.getStats()).forEach((r) => {
      if (r.type === 'transport') bytes += r.bytesReceived || 0;
    });
    return bytes;
  });
  const start = await read();
  await page.waitForTimeout(ms);
  return (await read()) - start;
}

test('the data saver (🎧) brings sound only: under a third of the bytes, and it is remembered', async () => {
  const screen = SCREENS[1];
  const full = await newScreen(screen, { init: () => localStorage.setItem('chophien.dataSaver', '0') });
  const saver = await newScreen(screen, { init: () => { if (localStorage.getItem('chophien.dataSaver') === null) localStorage.setItem('chophien.dataSaver', '0'); } });
  await joinRoom(full, 'Xem đủ');
  await joinRoom(saver, 'Tiết kiệm');
  await waitForVideo(full, Date.now(), 'full viewer');
  await waitForVideo(saver, Date.now(), 'saver viewer before the toggle');

  await saver.getByTestId('data-saver').tap();
  assert.equal(await saver.getByTestId('data-saver').getAttribute('aria-pressed'), 'true');
  // A new subscription whose answer has the video inactive; sound still comes.
  await saver.waitForFunction(async () => {
    const pc = window.__chophien.pc;
    if (!pc || pc.connectionState !== 'connected') return false;
    const video = pc.getTransceivers().find((t) => t.receiver.track?.kind === 'video');
    let audio = 0;
    (await pc.getStats()).forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'audio') audio += r.packetsReceived || 0; });
    return video?.currentDirection === 'inactive' && audio > 10;
  }, null, PATIENCE);
  await saver.getByTestId('video-overlay').filter({ hasText: 'chỉ nghe tiếng' }).waitFor();

  const [fullBytes, saverBytes] = await Promise.all([bytesOver(full, 3000), bytesOver(saver, 3000)]);
  console.log(`# bytes received over 3 s: full ${fullBytes}, data saver ${saverBytes} (ratio ${(saverBytes / fullBytes).toFixed(3)})`);
  assert.ok(fullBytes > 0);
  assert.ok(saverBytes * 3 < fullBytes, `data saver ${saverBytes} B is not under a third of ${fullBytes} B`);

  // Remembered on this device.
  await saver.reload();
  await saver.getByTestId('join-button').tap();
  await saver.waitForFunction(() => Boolean(window.__chophien?.model?.me), null, PATIENCE);
  assert.equal(await saver.getByTestId('data-saver').getAttribute('aria-pressed'), 'true');
  await full.context().close();
  await saver.context().close();
});
