// Issue 13's last pieces in Chromium: the trainer sets the class's scoring
// weights on the trainer page (the sum shown as she types, a wrong sum
// refused in words); a practice session says "Phòng luyện tập" on its report,
// its replay and its order page; the trainer writes a note on the replay at
// the moment the video shows, and the trainee sees it there, with the
// trainer's earlier notes, as markers on the bar and lines that seek.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServerAndBrowser } from './helpers/fixture.js';
import { trainerUrl } from './helpers/server.js';
import { newPage } from './helpers/browser.js';
import { PolicyWatch } from './helpers/policy.js';

/** Generous: the machine is shared and each page does real work. */
const WAIT = { timeout: 30_000 };
const DESK = { width: 1280, height: 900 };

let server;
let browser;

useServerAndBrowser((s, b) => {
  server = s;
  browser = b;
});

/** A JSON call with a bearer token; the parsed body, after checking the status. */
async function api(path, token, { method = 'GET', body, status = 200 } = {}) {
  const response = await fetch(server.base + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  assert.equal(response.status, status, `${method} ${path}: ${text}`);
  return JSON.parse(text);
}

test('the class weights, the practice badge on report, replay and order pages, and notes on the replay', async () => {
  const watch = new PolicyWatch(server.base);
  const trainerToken = new URL(trainerUrl(server)).hash.split('token=')[1];

  // A class of one, without a simulated audience (this test counts its own orders).
  const klass = await api('/api/classes', trainerToken, {
    method: 'POST', status: 201, body: { name: 'Lớp K16', trainees: ['Lan'], lesson: { audience_size: 0 } },
  });
  const room = klass.rooms[0];
  const roomId = room.room_id;
  const lanToken = room.studio_url.split('#token=')[1];

  // The trainer page: the class's weights, summed as she types.
  const trainer = await newPage(browser, { viewport: DESK, prepare: watch.attach('trainer') });
  await trainer.goto(`${trainerUrl(server).split('#')[0]}?class=${encodeURIComponent(klass.id)}#token=${trainerToken}`);
  await trainer.getByTestId('class-title').filter({ hasText: 'Lớp K16' }).waitFor(WAIT);
  await trainer.getByTestId('class-weights').locator('summary').click();
  const sum = trainer.getByTestId('class-weights-sum');
  assert.equal(await sum.textContent(), 'Tổng: 100 / 100');
  await trainer.getByTestId('class-weight-interaction').fill('90');
  assert.match(await sum.textContent(), /^Tổng: \d+ \/ 100$/);
  assert.notEqual(await sum.textContent(), 'Tổng: 100 / 100');
  await trainer.getByTestId('class-weights-save').click();
  await trainer.locator('#class-notice').filter({ hasText: 'cộng lại đúng 100' }).waitFor(WAIT);
  const weights = { interaction: 40, selling: 20, scenarios: 10, compliance: 10, presentation: 10, product_knowledge: 10 };
  for (const [part, value] of Object.entries(weights)) await trainer.getByTestId(`class-weight-${part}`).fill(String(value));
  assert.equal(await sum.textContent(), 'Tổng: 100 / 100');
  await trainer.getByTestId('class-weights-save').click();
  await trainer.locator('#class-notice').filter({ hasText: 'Đã lưu trọng số' }).waitFor(WAIT);
  assert.deepEqual((await api(`/api/classes/${klass.id}`, trainerToken)).weights, weights);
  const card = await api(`/api/practice/rooms/${roomId}/scorecard`, trainerToken);
  assert.deepEqual(card.weights, weights, 'the room is scored with the class weights');

  // Lan goes live from her studio and sells; a classmate buys one.
  const studio = await newPage(browser, { viewport: DESK, prepare: watch.attach('studio') });
  await studio.goto(server.base + room.studio_url);
  await studio.waitForFunction(() => window.__chophien?.model?.me?.role === 'seller', null, WAIT);
  await studio.evaluate(() => window.__chophien.conn.request({ type: 'go_live' }));
  const sale = await studio.evaluate(() => window.__chophien.conn.request({
    type: 'start_sale', product_id: 'p1', stock: 5, price_vnd: 150000, per_buyer_limit: 2, duration_secs: 600,
  }));
  assert.notEqual(sale?.type, 'error', JSON.stringify(sale));
  await studio.waitForFunction(() => window.__chophien.model.sale?.state === 'live', null, WAIT);
  const viewer = await newPage(browser, { prepare: watch.attach('viewer') });
  await viewer.goto(server.base + room.viewer_url);
  await viewer.getByTestId('join-name').fill('Minh');
  await viewer.getByTestId('join-button').click();
  await viewer.waitForFunction(() => Boolean(window.__chophien?.model?.me), null, WAIT);
  const order = await viewer.evaluate(async () => {
    const { conn, model } = window.__chophien;
    const bought = await conn.request({ type: 'buy', sale_id: model.sale.id, quantity: 1, idempotency_key: 'practice-review-0001' });
    const confirmed = await conn.request({
      type: 'confirm_hold', hold_id: bought.hold.hold_id,
      shipping: { name: 'Trần Văn Minh', phone: '0912 345 678', address: '12 Hoàng Văn Thụ, TP Thái Nguyên' },
    });
    return confirmed.order;
  });
  assert.ok(order?.order_id, 'the classmate has an order');
  await viewer.context().close();

  // The order page says it is a practice order.
  const orderPage = await newPage(browser, { prepare: watch.attach('order') });
  await orderPage.goto(`${server.base}/order.html?code=CP${order.order_id.toUpperCase()}`);
  await orderPage.getByTestId('lookup-phone').fill('0912 345 678');
  await orderPage.getByTestId('lookup-submit').click();
  const practiceOrder = orderPage.getByTestId('order-practice');
  await practiceOrder.waitFor(WAIT);
  assert.match(await practiceOrder.textContent(), /Phòng luyện tập.*không giao hàng/);
  await orderPage.context().close();

  // The report says so too.
  const report = await newPage(browser, { viewport: DESK, prepare: watch.attach('report') });
  await report.goto(`${server.base}/report.html?room=${roomId}#token=${lanToken}`);
  await report.getByTestId('practice-badge').filter({ hasText: 'Phòng luyện tập' }).waitFor({ state: 'visible', ...WAIT });
  await report.context().close();

  // An earlier note by the trainer, written from the scorecard's API.
  const moment = Date.now() - 500;
  await api(`/api/practice/rooms/${roomId}/annotations`, trainerToken, {
    method: 'POST', status: 201, body: { moment, text: 'Chào khách <b>sớm hơn</b>' },
  });

  // The trainer's replay: the badge, her note listed and on the bar, and a new one from the page.
  const replay = await newPage(browser, { viewport: DESK, prepare: watch.attach('replay-trainer') });
  await replay.goto(`${server.base}/replay.html?room=${roomId}#token=${trainerToken}`);
  await replay.getByTestId('practice-badge').filter({ hasText: 'Phòng luyện tập' }).waitFor({ state: 'visible', ...WAIT });
  const notes = replay.getByTestId('replay-notes');
  await notes.getByTestId('replay-note-text').filter({ hasText: 'Chào khách <b>sớm hơn</b>' }).waitFor(WAIT);
  assert.equal(await notes.locator('[data-testid=replay-note-text] b').count(), 0, 'a note is text, not markup');
  await replay.getByTestId('replay-note-input').fill('Giới thiệu giá rõ hơn');
  await replay.getByTestId('replay-note-add').click();
  await replay.getByTestId('replay-note-status').filter({ hasText: 'Đã ghi nhận xét' }).waitFor(WAIT);
  await notes.getByTestId('replay-note-text').filter({ hasText: 'Giới thiệu giá rõ hơn' }).waitFor(WAIT);
  await replay.context().close();

  // Lan (her studio's token) reads both notes and may not write one.
  const lanReplay = await newPage(browser, { viewport: DESK, prepare: watch.attach('replay-trainee') });
  await lanReplay.goto(`${server.base}/replay.html?room=${roomId}#token=${lanToken}`);
  const lanNotes = lanReplay.getByTestId('replay-notes');
  await lanNotes.getByTestId('replay-note').nth(1).waitFor(WAIT);
  assert.deepEqual(await lanNotes.getByTestId('replay-note-text').allTextContents(), ['Chào khách <b>sớm hơn</b>', 'Giới thiệu giá rõ hơn']);
  assert.equal(await lanReplay.getByTestId('replay-note-form').isHidden(), true, 'the trainee reads notes, never writes them');
  await lanReplay.getByTestId('lang-toggle').click();
  await lanNotes.getByRole('heading', { name: 'Trainer’s notes' }).or(lanNotes.getByRole('heading', { name: "Trainer's notes" })).waitFor(WAIT);
  await lanReplay.context().close();

  // A real room's replay shows neither the badge nor a notes panel.
  const real = await newPage(browser, { viewport: DESK });
  await real.goto(`${server.base}/replay.html?room=tra-thai-nguyen#token=${server.sellerToken}`);
  await real.getByTestId('room-title').filter({ hasNotText: 'Xem lại phiên live' }).waitFor(WAIT);
  assert.equal(await real.getByTestId('practice-badge').isHidden(), true);
  assert.equal(await real.getByTestId('replay-notes').isHidden(), true);
  await real.context().close();

  await studio.context().close();
  await trainer.context().close();
  assert.deepEqual(watch.violations, [], 'no page broke the Content-Security-Policy');
});
