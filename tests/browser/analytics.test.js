// Issue 12 end to end: a seller goes live about 20 s with Chromium's fake
// camera, a viewer joins, asks, taps the pinned product's card; the seller
// answers and ends. Then the report page shows those numbers (and refuses a
// viewer's token), and the replay page plays the recording, seeks, and shows
// the viewer's message when the video reaches its moment; a forged recording
// address is refused. The report and replay pages run under the server's
// Content-Security-Policy without a violation.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServerAndBrowser } from './helpers/fixture.js';
import { ROOM_ID } from './helpers/server.js';
import { newPage, openSeller, openViewer, sendChat } from './helpers/browser.js';
import { PolicyWatch } from './helpers/policy.js';
import { FIRST_FRAME_TIMEOUT_MS, waitForVideo } from './helpers/video.js';

const LIVE_MS = 20_000;

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

/** Buttons and fields without an accessible name (as accessibility.test.js checks the other pages). */
function nameless(page) {
  return page.evaluate(() => {
    const found = [];
    for (const el of document.querySelectorAll('input, select, textarea')) {
      if (!(el.labels?.length > 0 || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby'))) found.push(`unlabelled ${el.tagName}`);
    }
    for (const el of document.querySelectorAll('button')) {
      if (!(el.textContent.trim() || el.getAttribute('aria-label'))) found.push(`nameless button ${el.outerHTML.slice(0, 80)}`);
    }
    return found;
  });
}

/** Decoded frames of the replay's <video>. */
function decodedFrames(page) {
  return page.evaluate(() => {
    const video = document.querySelector('[data-testid=replay-video]');
    return video.getVideoPlaybackQuality?.().totalVideoFrames ?? video.webkitDecodedFrameCount ?? 0;
  });
}

test('a live session: its report, its replay, and who may see them', async () => {
  const watch = new PolicyWatch(server.base);
  const seller = await openSeller(browser, server);
  seller.on('dialog', (dialog) => dialog.accept());
  await seller.getByTestId('product-row').filter({ hasText: 'Chè Tân Cương đặc biệt 500g' }).getByTestId('pin').click();
  await seller.getByTestId('go-live').click();
  await seller.waitForFunction(() => window.__chophien.pc?.connectionState === 'connected', null, { timeout: FIRST_FRAME_TIMEOUT_MS });
  const liveAt = Date.now();

  const viewer = await openViewer(browser, server, 'Lan');
  await waitForVideo(viewer, liveAt, 'viewer');
  const viewerToken = await viewer.evaluate(() => window.__chophien.conn.token);
  // The recorder starts ffmpeg and waits for a keyframe: ask once the
  // recording surely runs, so the question falls inside the video.
  await viewer.waitForTimeout(3_000);
  await sendChat(viewer, 'Chè này bao nhiêu một gói?');
  const asked = chatLine(seller, 'bao nhiêu một gói');
  await asked.waitFor();
  const askedAt = Number(await seller.evaluate(() => window.__chophien.model.chat.find((m) => m.text.includes('bao nhiêu một gói')).sent_at));
  await sendChat(viewer, 'Chè thơm quá');
  await viewer.getByTestId('pinned').getByTestId('product-open').click();
  await asked.getByTestId('chat-reply-button').click();
  await sendChat(seller, '250.000 ₫ em nhé');
  await chatLine(viewer, '250.000 ₫ em nhé').getByTestId('chat-quote').waitFor();

  // The studio's live charts fill in (read every 5 s while live).
  await seller.getByTestId('live-value-viewers').filter({ hasText: /cao nhất [1-9]/ }).waitFor({ timeout: 12_000 });
  assert.equal(await seller.locator('[data-testid^=live-tile-] .u-wrap').count(), 5, 'five live charts');

  await seller.waitForTimeout(Math.max(0, LIVE_MS - (Date.now() - liveAt)));
  await seller.getByTestId('end-live').click();
  await seller.getByTestId('report-ended-link').waitFor();
  const reportHref = await seller.getByTestId('report-ended-link').getAttribute('href');
  assert.equal(reportHref, `/report.html?room=${ROOM_ID}#token=${encodeURIComponent(server.sellerToken)}`);
  assert.equal(await seller.getByTestId('report-link').getAttribute('href'), reportHref);

  // The report page, as the seller.
  const report = await newPage(browser, { viewport: { width: 390, height: 844 }, prepare: watch.attach('report') });
  await report.goto(server.base + reportHref);
  await report.getByTestId('report').waitFor();
  const metric = (key) => report.getByTestId(`metric-${key}`).getByTestId('metric-value').textContent();
  assert.equal(await metric('views'), '1');
  assert.equal(await metric('unique_viewers'), '1');
  assert.equal(await metric('clicks'), '1');
  assert.equal(await metric('questions'), '1');
  assert.equal(await metric('questions_answered'), '1');
  assert.equal(await metric('orders'), '0');
  assert.match(await metric('gmv_vnd'), /^0\s₫$/);
  assert.equal(await metric('comments'), '2', 'the viewer\'s two messages (the seller\'s answer is not a comment)');
  assert.equal(await metric('impressions'), '1');
  assert.match(await metric('ctr'), /^100\s?%$/);
  assert.equal(await report.locator('[data-testid^=curve-] .u-wrap').count(), 5, 'five per-minute charts');
  assert.ok(await report.getByTestId('event').filter({ hasText: 'Bắt đầu live' }).count() >= 1, 'the live start is among the events');
  assert.deepEqual(await nameless(report), []);
  const [download] = await Promise.all([report.waitForEvent('download'), report.getByTestId('report-csv').click()]);
  assert.match(download.suggestedFilename(), new RegExp(`^bao-cao-${ROOM_ID}\\.csv$`));
  await report.getByTestId('lang-toggle').click();
  assert.equal(await report.getByTestId('metric-clicks').locator('dt').textContent(), 'Product clicks');

  // A viewer's token cannot read it; the page says so calmly.
  const status = await viewer.evaluate(async ([room, token]) => (await fetch(`/api/rooms/${room}/report`, { headers: { Authorization: `Bearer ${token}` } })).status, [ROOM_ID, viewerToken]);
  assert.equal(status, 403);
  const refused = await newPage(browser, { prepare: watch.attach('report-refused') });
  await refused.goto(`${server.base}/report.html?room=${ROOM_ID}#token=${encodeURIComponent(viewerToken)}`);
  await refused.getByTestId('report-status').filter({ hasText: 'chỉ người bán' }).waitFor();

  // The replay, as the seller (unpublished until she publishes it).
  const replay = await newPage(browser, { prepare: watch.attach('replay') });
  await replay.goto(`${server.base}/replay.html?room=${ROOM_ID}#token=${encodeURIComponent(server.sellerToken)}`);
  await replay.getByTestId('replay').waitFor();
  const recording = await replay.waitForFunction(() => window.__chophien.segments[0] || null, null, { timeout: 15_000 }).then((h) => h.jsonValue());
  await replay.waitForFunction(() => document.querySelector('[data-testid=replay-video]').readyState >= 1, null, { timeout: 15_000 });
  await replay.evaluate(() => document.querySelector('[data-testid=replay-video]').play());
  await replay.waitForFunction(() => document.querySelector('[data-testid=replay-video]').currentTime > 1, null, { timeout: 10_000 });

  assert.deepEqual(await nameless(replay), []);

  // Seek to a second before the question; its line is not there yet, then appears.
  const askedSecs = (askedAt - recording.started_at) / 1000;
  assert.ok(askedSecs > 1, `the question came after the recording started (${askedSecs} s)`);
  await replay.evaluate((t) => { document.querySelector('[data-testid=replay-video]').currentTime = t; }, askedSecs - 1.5);
  await replay.waitForFunction(() => !document.querySelector('[data-testid=replay-video]').seeking);
  const line = chatLine(replay, 'bao nhiêu một gói');
  assert.equal(await line.count(), 0, 'the question is not shown before its moment');
  const framesAfterSeek = await decodedFrames(replay);
  await line.waitFor({ timeout: 6_000 });
  const at = await replay.evaluate(() => document.querySelector('[data-testid=replay-video]').currentTime);
  assert.ok(at >= askedSecs - 0.6, `shown at video time ${at}, asked at ${askedSecs}`);
  assert.ok(await decodedFrames(replay) > framesAfterSeek, 'frames decoded after the seek');
  assert.ok(await decodedFrames(replay) > 0);

  // A link to a moment (`?t=`, Unix ms: how a scorecard's lost point links it) opens the video there.
  const moment = await newPage(browser, { prepare: watch.attach('replay-moment') });
  await moment.goto(`${server.base}/replay.html?room=${ROOM_ID}&t=${askedAt}#token=${encodeURIComponent(server.sellerToken)}`);
  await moment.waitForFunction(() => document.querySelector('[data-testid=replay-video]').readyState >= 1, null, { timeout: 15_000 });
  await moment.waitForFunction(() => !document.querySelector('[data-testid=replay-video]').seeking);
  const opened = await moment.evaluate(() => document.querySelector('[data-testid=replay-video]').currentTime);
  assert.ok(Math.abs(opened - askedSecs) < 1, `?t= opened the video at ${opened} s, the moment is ${askedSecs} s`);
  await moment.close();

  // A forged recording address is refused: another id, or a signature not the server's.
  const forged = await replay.evaluate(async (url) => {
    const u = new URL(url, location.href);
    const otherId = new URL(u);
    otherId.pathname = otherId.pathname.replace(/[^/]+$/, (id) => `${id.slice(0, -1)}${id.endsWith('0') ? '1' : '0'}`);
    const otherSig = new URL(u);
    otherSig.searchParams.set('sig', '0'.repeat(64));
    return [(await fetch(otherId)).status, (await fetch(otherSig)).status];
  }, recording.url);
  for (const status of forged) assert.ok([403, 404].includes(status), `a forged recording URL answers ${status}`);

  // Not public yet: another browser sees the calm message; published, it plays and is listed.
  const anonymous = await newPage(browser, { prepare: watch.attach('replay-anonymous') });
  await anonymous.goto(`${server.base}/replay.html?room=${ROOM_ID}`);
  await anonymous.getByTestId('replay-status').filter({ hasText: 'chưa được công khai' }).waitFor();
  await replay.getByTestId('replay-publish').click();
  await replay.getByTestId('replay-published').filter({ hasText: 'công khai' }).waitFor();
  await anonymous.reload();
  await anonymous.getByTestId('replay').waitFor();
  const landing = await newPage(browser, { prepare: watch.attach('index') });
  await landing.goto(server.base + '/');
  await landing.getByTestId('replay-card').first().waitFor();

  const pageErrors = watch.pages.flatMap(({ label, page }) => page.errors.map((e) => `${label}: ${e.message}`));
  assert.deepEqual(watch.violations, [], 'no Content-Security-Policy violations');
  assert.deepEqual([...pageErrors, ...seller.errors, ...viewer.errors], []);
  for (const page of [seller, viewer, ...watch.pages.map((p) => p.page)]) await page.context().close();
});
