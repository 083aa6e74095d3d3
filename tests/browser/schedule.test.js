// Scheduling and sharing (issue 14, part 3) and the landing page for
// viewers (part 6): the seller plans tomorrow's live in her studio; the
// landing page lists it under "Sắp diễn ra" with its countdown; the viewer
// page counts down and "Nhắc tôi" downloads the calendar event of that
// start; the studio's QR code is the share link (read back by zbarimg);
// the share link's page carries the preview tags; when she goes live the
// viewer's countdown goes away by itself; a seller reaches her studio from
// "Tôi là người bán" by pasting her link. On a 360×740 phone every control
// of these pages is at least 44×44 CSS px and inside the screen.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { useServerAndBrowser } from './helpers/fixture.js';
import { mkdirSync } from 'node:fs';
import { REPO_ROOT, ROOM_ID } from './helpers/server.js';
import { FIRST_FRAME_TIMEOUT_MS } from './helpers/video.js';
import { layoutProblems as reach } from './helpers/reach.js';

/** These pages scroll down unless a test says otherwise. */
const layoutProblems = (page, options = {}) => reach(page, { pageScrolls: true, ...options });

const SHOTS = join(REPO_ROOT, 'target', 'screenshots');
const PHONE = { width: 360, height: 740 };
const WAIT = { timeout: 30_000 };
const TITLE = 'Chè mới hái — phiên sáng mai';
/** Everyone in this file lives in Hà Nội: 20:00 on the phone is 20:00 on the preview card. */
const ZONE = 'Asia/Ho_Chi_Minh';

let server;
let browser;
mkdirSync(SHOTS, { recursive: true });

useServerAndBrowser((s, b) => {
  server = s;
  browser = b;
});

/** A page as a phone (touch, mobile) or a laptop holds it, in Vietnam's time zone. */
async function newScreen(viewport = PHONE) {
  const mobile = viewport.width < 960;
  const context = await browser.newContext({
    viewport, isMobile: mobile, hasTouch: true, deviceScaleFactor: mobile ? 2 : 1,
    locale: 'vi-VN', timezoneId: ZONE, permissions: ['camera', 'microphone'], acceptDownloads: true,
  });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (error) => page.errors.push(error));
  return page;
}

/** `YYYYMMDDTHHMMSSZ` of a unix time in ms (how the .ics writes a UTC time). */
function icalUtc(ms) {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** The `content` of the page's `<meta property|name="key">`. */
function meta(html, key) {
  const tag = html.match(new RegExp(`<meta (?:property|name)="${key}" content="([^"]*)">`));
  return tag ? tag[1] : null;
}

let studio;
let tomorrow;
let startsAt;

test('the seller plans tomorrow\'s live in her studio and the panel counts down', async () => {
  studio = await newScreen({ width: 1280, height: 900 });
  await studio.goto(server.sellerUrl);
  await studio.waitForFunction(() => window.__chophien?.model?.me?.role === 'seller', null, WAIT);
  const panel = studio.getByTestId('schedule-panel');
  await panel.getByRole('heading', { name: 'Lên lịch phiên live' }).waitFor(WAIT);
  tomorrow = await studio.evaluate(() => {
    const d = new Date(Date.now() + 24 * 3600 * 1000);
    return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
  });
  await panel.getByTestId('schedule-date').fill(tomorrow);
  await panel.getByTestId('schedule-time').fill('20:00');
  await panel.getByTestId('schedule-title-input').fill(TITLE);
  // A cover from the phone's gallery: a JPEG Chromium draws, uploaded as a photo on save.
  const cover = await studio.evaluate(() => {
    const canvas = document.createElement('canvas');
    canvas.width = 1200;
    canvas.height = 630;
    const g = canvas.getContext('2d');
    g.fillStyle = '#2f7d4f';
    g.fillRect(0, 0, 1200, 630);
    g.fillStyle = '#f3d27a';
    g.fillRect(300, 150, 600, 330);
    return canvas.toDataURL('image/jpeg', 0.9).split(',')[1];
  });
  await panel.getByTestId('schedule-cover-input').setInputFiles({ name: 'bia.jpg', mimeType: 'image/jpeg', buffer: Buffer.from(cover, 'base64') });
  await panel.getByTestId('schedule-save').click();
  await panel.getByTestId('schedule-notice').filter({ hasText: 'Đã lưu' }).waitFor(WAIT);
  startsAt = await studio.evaluate(([date]) => new Date(`${date}T20:00`).getTime(), [tomorrow]);
  const room = await (await fetch(`${server.base}/api/rooms/${ROOM_ID}`)).json();
  assert.equal(room.title, TITLE);
  assert.equal(room.starts_at, startsAt, 'the start is 20:00 of the seller\'s own day');
  assert.match(room.cover_url, /^\/photos\/[0-9a-f]{32}\.jpg$/, 'the cover was uploaded as one of our photos');
  const served = await fetch(server.base + room.cover_url);
  assert.equal(served.headers.get('content-type'), 'image/jpeg');
  assert.match(await panel.getByTestId('studio-countdown').textContent(), /^Bắt đầu sau 1 ngày|^Bắt đầu sau \d+ giờ/);
  await panel.screenshot({ path: join(SHOTS, 'studio-schedule.png') });
});

test('the studio\'s QR code is the share link, and the share link\'s page has the preview tags', async () => {
  const shareLink = `${server.base}/live/${ROOM_ID}`;
  const panel = studio.getByTestId('schedule-panel');
  assert.equal(await panel.getByTestId('share-link').inputValue(), shareLink);
  const shot = join(await mkdtemp(join(tmpdir(), 'schedule-qr-')), 'qr.png');
  await writeFile(shot, await panel.getByTestId('share-qr').locator('canvas').screenshot());
  const { stdout } = await promisify(execFile)('/usr/bin/zbarimg', ['--raw', '-q', shot]);
  assert.equal(stdout.trim(), shareLink, 'the QR code is the share link');

  const page = await (await fetch(shareLink)).text();
  assert.equal(meta(page, 'og:title'), TITLE);
  assert.equal(meta(page, 'og:url'), shareLink);
  assert.equal(meta(page, 'og:type'), 'video.other');
  assert.match(meta(page, 'og:description'), /^Bắt đầu lúc 20:00, .* \(giờ Việt Nam\)/);
  assert.ok(meta(page, 'twitter:card'));
  // A person who taps the shared link sees the card and a way into the room.
  const phone = await newScreen();
  await phone.goto(shareLink);
  await phone.getByTestId('share-card').getByRole('heading', { name: TITLE }).waitFor(WAIT);
  assert.deepEqual(await layoutProblems(phone), [], 'share page at 360×740');
  await phone.screenshot({ path: join(SHOTS, 'share-page-360x740.png'), fullPage: true });
  await phone.getByTestId('share-enter').tap();
  await phone.waitForURL(/\/viewer\.html\?room=tra-thai-nguyen$/);
  await phone.context().close();
});

test('the landing page lists the planned live under "Sắp diễn ra" with its countdown, on a phone', async () => {
  const page = await newScreen();
  await page.goto(server.base + '/');
  const upcoming = page.getByTestId('upcoming-section');
  const card = upcoming.getByTestId('room-card').filter({ hasText: TITLE });
  await card.waitFor(WAIT);
  assert.match(await upcoming.getByRole('heading', { level: 2 }).textContent(), /Sắp diễn ra/);
  assert.match(await card.getByTestId('room-countdown').textContent(), /^Bắt đầu sau /);
  await card.getByTestId('room-remind').waitFor();
  assert.equal(await page.getByTestId('live-section').isHidden(), true, 'nobody is live yet');
  const words = await page.locator('main').textContent();
  assert.doesNotMatch(words, /máy chủ|server|Seller studio/i, 'no operator talk');
  assert.deepEqual(await layoutProblems(page), [], 'landing page at 360×740');
  await page.screenshot({ path: join(SHOTS, 'landing-upcoming-360x740.png'), fullPage: true });
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

let viewer;

test('the viewer page counts down, and "Nhắc tôi" downloads the calendar event of that start', async () => {
  viewer = await newScreen();
  await viewer.goto(server.viewerUrl);
  await viewer.getByTestId('join-schedule').getByTestId('schedule-countdown').waitFor(WAIT);
  assert.deepEqual(await layoutProblems(viewer, { pageScrolls: true }), [], 'join card at 360×740');
  await viewer.getByTestId('join-name').fill('Lan');
  await viewer.getByTestId('join-button').tap();
  await viewer.waitForFunction(() => Boolean(window.__chophien?.model?.me), null, WAIT);
  const stage = viewer.getByTestId('stage-schedule');
  await stage.getByTestId('schedule-countdown').filter({ hasText: /^Bắt đầu sau / }).waitFor(WAIT);
  assert.match(await stage.getByTestId('schedule-when').textContent(), /20:00/);
  assert.deepEqual(await layoutProblems(viewer, { pageScrolls: false }), [], 'the room with its countdown at 360×740');
  await viewer.screenshot({ path: join(SHOTS, 'viewer-countdown-360x740.png') });

  const [download] = await Promise.all([
    viewer.waitForEvent('download', WAIT),
    stage.getByTestId('schedule-remind').tap(),
  ]);
  assert.match(download.suggestedFilename(), /\.ics$/);
  const ics = await readFile(await download.path(), 'utf8');
  assert.match(ics, /BEGIN:VEVENT/);
  assert.match(ics, new RegExp(`^DTSTART:${icalUtc(startsAt)}\\r?$`, 'm'), ics);
  assert.match(ics, new RegExp(`^SUMMARY:${TITLE}\\r?$`, 'm'));
});

test('when the seller goes live the viewer\'s countdown goes away by itself', async () => {
  await studio.getByTestId('go-live').click();
  await studio.waitForFunction(() => window.__chophien.model.room?.status === 'live', null, { timeout: FIRST_FRAME_TIMEOUT_MS });
  await viewer.getByTestId('stage-schedule').waitFor({ state: 'hidden', ...WAIT });
  assert.equal(await viewer.getByTestId('schedule-countdown').count(), 0);
  assert.deepEqual(viewer.errors, []);
  await viewer.context().close();

  const landing = await newScreen();
  await landing.goto(server.base + '/');
  await landing.getByTestId('live-section').getByTestId('room-card').filter({ hasText: TITLE }).waitFor(WAIT);
  assert.deepEqual(await layoutProblems(landing), [], 'landing page with a live room at 360×740');
  await landing.screenshot({ path: join(SHOTS, 'landing-live-360x740.png'), fullPage: true });
  await landing.context().close();
  assert.deepEqual(studio.errors, []);
  await studio.context().close();
});

test('"Tôi là người bán" opens her studio from a pasted link, and remembers it', async () => {
  const page = await newScreen();
  await page.goto(server.base + '/');
  await page.getByTestId('i-am-seller').tap();
  await page.waitForURL(/\/sell\.html$/);
  assert.deepEqual(await layoutProblems(page), [], 'sell page at 360×740');
  await page.screenshot({ path: join(SHOTS, 'sell-360x740.png'), fullPage: true });
  await page.getByTestId('studio-link').fill('https://example.vn/không phải link');
  await page.getByTestId('open-studio').tap();
  await page.getByTestId('sell-error').filter({ hasText: 'không phải link phòng phát' }).waitFor();
  await page.getByTestId('studio-link').fill(server.sellerUrl);
  await page.getByTestId('open-studio').tap();
  await page.waitForURL(/\/seller\.html\?room=tra-thai-nguyen#token=/);
  await page.waitForFunction(() => window.__chophien?.model?.me?.role === 'seller', null, WAIT);
  // On her phone the schedule and share panel is in "Quản lý", in reach like the rest.
  await page.getByTestId('phone-manage').tap();
  const panel = page.getByTestId('schedule-panel');
  await panel.getByTestId('share-qr').locator('canvas').waitFor(WAIT);
  await panel.scrollIntoViewIfNeeded();
  assert.deepEqual(await layoutProblems(page, { within: '[data-testid=schedule-panel]' }), [], 'the schedule panel on a 360×740 phone');
  await panel.screenshot({ path: join(SHOTS, 'studio-schedule-360x740.png') });
  await page.goto(server.base + '/sell.html');
  await page.getByTestId('saved-studio').waitFor();
  await page.getByTestId('open-saved').tap();
  await page.waitForFunction(() => window.__chophien?.model?.me?.role === 'seller', null, WAIT);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
