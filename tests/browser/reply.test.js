// Chat replies (issue 12): the seller answers a viewer's question from the
// studio, both pages quote the question above the answer, and the studio
// counts the questions still waiting (its `questionAfterMs` hook, one
// minute on the page, is lowered here instead of waiting a minute). Viewers
// may not reply; a reply to an unknown message is refused. Opening a product
// card on the viewer page sends one `view_product` per opening.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServerAndBrowser } from './helpers/fixture.js';
import { openSeller, openViewer, sendChat } from './helpers/browser.js';

let server;
let browser;

/** The chat line whose own text (not a quote of it) has `text`. */
function chatLine(page, text) {
  return page.getByTestId('chat-message').filter({ has: page.getByTestId('chat-text').filter({ hasText: text }) });
}

useServerAndBrowser((s, b) => {
  server = s;
  browser = b;
});

/** Ask from the page's own connection; resolves with the error code, or 'ok'. */
function ask(page, frame) {
  return page.evaluate(async (f) => {
    try {
      await window.__chophien.conn.request(f);
      return 'ok';
    } catch (error) {
      return error.code;
    }
  }, frame);
}

test('the seller answers a question: the quote on both pages, and the waiting count clears', async () => {
  const seller = await openSeller(browser, server);
  await seller.evaluate(() => { window.__chophien.questionAfterMs = 0; });
  const viewer = await openViewer(browser, server, 'Lan');
  const waiting = seller.getByTestId('questions-waiting');

  await sendChat(viewer, 'Chè này bao nhiêu tiền một gói?');
  const question = chatLine(seller, 'bao nhiêu tiền một gói');
  await question.waitFor();
  await seller.waitForFunction(() => document.querySelector('[data-testid=questions-waiting]').dataset.count === '1');
  assert.match(await waiting.textContent(), /^1 câu hỏi/);
  assert.equal(await question.evaluate((li) => li.classList.contains('is-unanswered')), true);

  await sendChat(viewer, 'Chào shop');
  await chatLine(seller, 'Chào shop').waitFor();
  assert.equal(await waiting.getAttribute('data-count'), '1', 'a greeting is not a question');

  // "Trả lời" on the question, then cancel: the input is a plain message again.
  await question.getByTestId('chat-reply-button').click();
  assert.equal(await seller.getByTestId('reply-to').textContent(), 'Trả lời Lan: Chè này bao nhiêu tiền một gói?');
  await seller.getByTestId('reply-cancel').click();
  assert.equal(await seller.getByTestId('reply-bar').isHidden(), true);

  // Tapping the question's text starts the reply too.
  await question.getByTestId('chat-text').click();
  await seller.getByTestId('reply-bar').waitFor();
  await sendChat(seller, '250.000 ₫ một gói em nhé');
  for (const page of [viewer, seller]) {
    const answer = chatLine(page, '250.000 ₫ một gói em nhé');
    await answer.waitFor();
    assert.equal(await answer.getByTestId('chat-quote-name').textContent(), 'Lan');
    assert.equal(await answer.getByTestId('chat-quote-text').textContent(), 'Chè này bao nhiêu tiền một gói?');
  }
  assert.equal(await seller.getByTestId('reply-bar').isHidden(), true, 'the reply bar closes once sent');
  await seller.waitForFunction(() => document.querySelector('[data-testid=questions-waiting]').dataset.count === '0');
  assert.equal(await waiting.isHidden(), true);
  assert.equal(await question.evaluate((li) => li.classList.contains('is-unanswered')), false);
  assert.equal(await question.evaluate((li) => li.classList.contains('is-answered')), true);

  // A reload (fresh snapshot) still knows the question was answered.
  await seller.reload();
  await seller.waitForFunction(() => window.__chophien?.model?.me?.role === 'seller');
  await seller.evaluate(() => { window.__chophien.questionAfterMs = 0; });
  await chatLine(seller, '250.000 ₫ một gói em nhé').getByTestId('chat-quote').waitFor();
  await seller.waitForFunction(() => document.querySelector('[data-testid=questions-waiting]').dataset.count === '0');

  const questionId = Number(await question.getAttribute('data-message-id'));
  assert.equal(await ask(viewer, { type: 'chat', text: 'Em trả lời hộ', reply_to: questionId }), 'forbidden', 'viewers do not reply');
  assert.equal(await ask(seller, { type: 'chat', text: 'Ai hỏi vậy?', reply_to: 999_999 }), 'message_not_found');
  assert.deepEqual([...seller.errors, ...viewer.errors], []);
  await seller.context().close();
  await viewer.context().close();
});

test('markup in a quoted question stays text', async () => {
  const seller = await openSeller(browser, server);
  const viewer = await openViewer(browser, server, '<i>Khách</i>');
  const payload = '<img src=x onerror=alert(1)> giá sao?';
  await sendChat(viewer, payload);
  const question = chatLine(seller, payload);
  await question.getByTestId('chat-reply-button').click();
  await sendChat(seller, 'Dạ 250k ạ');
  const answer = chatLine(viewer, 'Dạ 250k ạ');
  await answer.waitFor();
  assert.equal(await answer.getByTestId('chat-quote-text').textContent(), payload);
  assert.equal(await answer.getByTestId('chat-quote-name').textContent(), '<i>Khách</i>');
  assert.equal(await viewer.locator('[data-testid=chat-log] img, [data-testid=chat-log] i').count(), 0);
  await seller.context().close();
  await viewer.context().close();
});

test('opening a product card sends view_product once per opening; the studio never does', async () => {
  const frames = { seller: [], viewer: [] };
  const watch = (label) => async (page) => {
    page.on('websocket', (ws) => ws.on('framesent', (f) => {
      try {
        const frame = JSON.parse(f.payload);
        if (frame.type === 'view_product') frames[label].push(frame);
      } catch { /* not JSON */ }
    }));
  };
  const seller = await openSeller(browser, server, { prepare: watch('seller') });
  const viewer = await openViewer(browser, server, 'Minh', { prepare: watch('viewer') });
  await viewer.getByTestId('catalog').locator('summary').click();
  const card = viewer.locator('#catalog-list [data-product-id=p1]');
  const open = card.getByTestId('product-open');
  await open.click();
  assert.equal(await open.getAttribute('aria-expanded'), 'true');
  await viewer.waitForFunction(() => true);
  await open.click(); // closes: nothing sent
  assert.equal(await open.getAttribute('aria-expanded'), 'false');
  await card.locator('img').click(); // opens again
  await viewer.waitForTimeout(300);
  assert.deepEqual(frames.viewer, [{ type: 'view_product', product_id: 'p1' }, { type: 'view_product', product_id: 'p1' }]);
  assert.equal(await ask(viewer, { type: 'view_product', product_id: 'nope' }), 'product_not_found');
  assert.deepEqual(frames.seller, []);
  await seller.context().close();
  await viewer.context().close();
});
