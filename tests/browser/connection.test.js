// Finding a room, and staying in it through a dropped connection.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServerAndBrowser } from './helpers/fixture.js';
import { newPage, openSeller, openViewer, sendChat } from './helpers/browser.js';

let server;
let browser;

useServerAndBrowser((s, b) => {
  server = s;
  browser = b;
});

test('the landing page lists the demo room and leads to its viewer page', async () => {
  const page = await newPage(browser);
  await page.goto(server.base + '/');
  const card = page.getByTestId('room-card').filter({ hasText: 'Trà Thái Nguyên' });
  await card.waitFor();
  await card.getByRole('link', { name: /Vào xem/ }).click();
  await page.waitForURL(/\/viewer\.html\?room=tra-thai-nguyen$/);
  await page.getByTestId('join-name').waitFor();
  assert.match(await page.getByTestId('join-name').inputValue(), /^Khách \d{3}$/);
  await page.context().close();
});

test('after a dropped connection the viewer resumes and gets what it missed', async () => {
  const seller = await openSeller(browser, server);
  const viewer = await openViewer(browser, server, 'Mạng Yếu');
  await viewer.evaluate(() => {
    const conn = window.__chophien.conn;
    window.__statuses = [];
    conn.on('status', (s) => window.__statuses.push(s.status));
    conn.on('resumed', (m) => { window.__resumed = m; });
    // Hold the reconnect until the test says so, then drop the socket.
    const connect = conn.connect.bind(conn);
    conn.connect = () => { window.__reconnect = connect; };
    conn.socket.close();
  });
  await viewer.getByTestId('connection').filter({ hasText: 'đang kết nối lại' }).waitFor();

  await sendChat(seller, 'Tin nhắn lúc bạn mất mạng');
  await seller.getByTestId('chat-message').filter({ hasText: 'Tin nhắn lúc bạn mất mạng' }).waitFor();
  await viewer.waitForFunction(() => typeof window.__reconnect === 'function');
  await viewer.evaluate(() => window.__reconnect());

  await viewer.getByTestId('chat-message').filter({ hasText: 'Tin nhắn lúc bạn mất mạng' }).waitFor();
  await viewer.getByTestId('connection').waitFor({ state: 'hidden' });
  const resumed = await viewer.evaluate(() => window.__resumed);
  assert.ok(resumed && resumed.to_seq >= resumed.from_seq, 'the server replayed the missed events');
  assert.deepEqual(await viewer.evaluate(() => window.__statuses), ['reconnecting', 'open']);
  await seller.context().close();
  await viewer.context().close();
});

// Last in this file: it ends the demo room for good.
test('when the seller ends the session, viewers are told and chat closes', async () => {
  const seller = await openSeller(browser, server);
  const viewer = await openViewer(browser, server, 'Ở Lại Cuối');
  seller.on('dialog', (dialog) => dialog.accept());
  await seller.getByTestId('end-live').click();

  await viewer.getByTestId('connection').filter({ hasText: 'Phiên live đã kết thúc' }).waitFor();
  await viewer.getByTestId('room-status').filter({ hasText: 'Đã kết thúc' }).waitFor();
  assert.equal(await viewer.getByTestId('chat-input').isDisabled(), true);
  await seller.getByTestId('room-status').filter({ hasText: 'Đã kết thúc' }).waitFor();
  assert.equal(await seller.getByTestId('go-live').isDisabled(), true);
  await seller.context().close();
  await viewer.context().close();
});
