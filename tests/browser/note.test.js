// The pinned announcement (issue 14, part 5): the seller pins "Freeship đơn
// từ 300k" from the studio; viewers see it above the chat on a phone
// (390×844, over the video) and on a desktop, a late viewer sees it at once,
// the phone studio's live screen shows it, unpinning removes it everywhere;
// markup in a note is shown as the characters typed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServerAndBrowser } from './helpers/fixture.js';
import { newPage, openSeller, openViewer } from './helpers/browser.js';

let server;
let browser;

useServerAndBrowser((s, b) => {
  server = s;
  browser = b;
});

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1366, height: 768 };

async function pin(seller, text) {
  await seller.getByTestId('note-input').fill(text);
  await seller.getByTestId('note-pin').click();
  await seller.locator('[data-testid=note-current]:not([hidden])').waitFor();
}

/** The note bar's text once it is visible, and whether it lies inside the viewport. */
async function seenNote(page) {
  const bar = page.getByTestId('note-bar');
  await bar.waitFor({ state: 'visible' });
  const box = await bar.boundingBox();
  const { width, height } = page.viewportSize();
  const inside = box.x >= 0 && box.y >= 0 && box.x + box.width <= width + 0.5 && box.y + box.height <= height + 0.5;
  return { text: await page.getByTestId('note-text').textContent(), inside };
}

test('a pinned note reaches phone and desktop viewers, late ones too, and unpinning removes it', async () => {
  const seller = await openSeller(browser, server);
  const phone = await openViewer(browser, server, 'Hương', { viewport: PHONE });
  const desktop = await openViewer(browser, server, 'Tuấn', { viewport: DESKTOP });
  assert.equal(await phone.getByTestId('note-bar').isVisible(), false, 'no note before one is pinned');

  await pin(seller, 'Freeship đơn từ 300k');
  for (const viewer of [phone, desktop]) {
    assert.deepEqual(await seenNote(viewer), { text: 'Freeship đơn từ 300k', inside: true });
  }
  // Readable over the video: light text on a dark pill on the phone.
  const colours = await phone.getByTestId('note-bar').evaluate((el) => {
    const style = getComputedStyle(el);
    return { color: style.color, background: style.backgroundColor };
  });
  assert.equal(colours.color, 'rgb(255, 255, 255)');
  assert.match(colours.background, /^rgba\(0, 0, 0, 0\.7/);

  const late = await openViewer(browser, server, 'Lan', { viewport: PHONE });
  assert.deepEqual(await seenNote(late), { text: 'Freeship đơn từ 300k', inside: true });

  await seller.getByTestId('note-unpin').click();
  for (const viewer of [phone, desktop, late]) await viewer.getByTestId('note-bar').waitFor({ state: 'hidden' });
  await seller.getByTestId('note-current').waitFor({ state: 'hidden' });
  for (const page of [seller, phone, desktop, late]) {
    assert.deepEqual(page.errors, []);
    await page.context().close();
  }
});

test('markup in a note is shown as the characters typed', async () => {
  const seller = await openSeller(browser, server);
  const viewer = await openViewer(browser, server, 'Minh', { viewport: PHONE });
  await pin(seller, 'Giảm <b>50%</b> hôm nay <img src=x onerror=alert(1)>');
  const { text } = await seenNote(viewer);
  assert.equal(text, 'Giảm <b>50%</b> hôm nay <img src=x onerror=alert(1)>');
  assert.equal(await viewer.getByTestId('note-text').locator('*').count(), 0, 'the note holds text only, no elements');
  await seller.getByTestId('note-unpin').click();
  await viewer.getByTestId('note-bar').waitFor({ state: 'hidden' });
  await seller.context().close();
  await viewer.context().close();
});

test('the phone studio shows the pinned note on its live screen, and a blank note is refused', async () => {
  const desk = await openSeller(browser, server);
  await pin(desk, 'Tặng ấm chén đơn từ 500k');
  const phone = await newPage(browser, { viewport: PHONE });
  await phone.goto(server.sellerUrl);
  await phone.waitForFunction(() => window.__chophien?.model?.me?.role === 'seller');
  const bar = phone.getByTestId('phone-note');
  await bar.waitFor({ state: 'visible' });
  assert.equal((await bar.textContent()).includes('Tặng ấm chén đơn từ 500k'), true);

  await desk.getByTestId('note-input').fill('    ');
  await desk.getByTestId('note-pin').click();
  assert.equal(await desk.getByTestId('chat-notice').textContent(), 'Hãy viết lời nhắn trước khi ghim.');
  await desk.getByTestId('note-unpin').click();
  await bar.waitFor({ state: 'hidden' });
  await desk.context().close();
  await phone.context().close();
});

test('a reply quotes its question in the phone layouts too: the viewer at 390×844 and the phone studio', async () => {
  const viewer = await openViewer(browser, server, 'Hỏi Giá', { viewport: PHONE });
  await viewer.getByTestId('chat-input').fill('Chè này bao nhiêu một cân ạ?');
  await viewer.getByTestId('chat-send').click();
  const phone = await newPage(browser, { viewport: PHONE });
  await phone.goto(server.sellerUrl);
  await phone.waitForFunction(() => window.__chophien?.model?.chat?.some((m) => m.text === 'Chè này bao nhiêu một cân ạ?'));
  await phone.evaluate(async () => {
    const { conn, model } = window.__chophien;
    const asked = model.chat.find((m) => m.text === 'Chè này bao nhiêu một cân ạ?');
    await conn.request({ type: 'chat', text: 'Dạ 500.000 ₫ một cân ạ', reply_to: asked.id });
  });
  const answered = (page, testid) => page.getByTestId(testid).filter({ hasText: 'Dạ 500.000 ₫ một cân ạ' }).getByTestId('chat-quote');
  for (const [page, testid] of [[viewer, 'chat-message'], [phone, 'phone-chat-message']]) {
    const quote = answered(page, testid);
    await quote.waitFor({ state: 'visible' });
    assert.match(await quote.textContent(), /Hỏi Giá.*Chè này bao nhiêu một cân ạ\?/);
    const box = await quote.boundingBox();
    assert.ok(box.width > 0 && box.y >= 0 && box.y + box.height <= PHONE.height, `the quote is on the screen (${JSON.stringify(box)})`);
  }
  await viewer.context().close();
  await phone.context().close();
});
