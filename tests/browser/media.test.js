// WebRTC: the seller publishes from the studio and viewers receive video
// through the server (issue 5). Uses Chromium's fake camera.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServerAndBrowser } from './helpers/fixture.js';
import { openSeller, openViewer } from './helpers/browser.js';
import { FIRST_FRAME_TIMEOUT_MS, waitForVideo } from './helpers/video.js';

let server;
let browser;

useServerAndBrowser((s, b) => {
  server = s;
  browser = b;
});

test('two viewers receive the seller\'s video', async () => {
  const seller = await openSeller(browser, server);
  const early = await openViewer(browser, server, 'Người xem sớm');

  const liveAt = Date.now();
  await seller.getByTestId('go-live').click();
  await seller.waitForFunction(() => window.__chophien.pc?.connectionState === 'connected', null, { timeout: FIRST_FRAME_TIMEOUT_MS });
  const earlyMs = await waitForVideo(early, liveAt, 'viewer present before go-live');
  console.log(`# viewer present before go-live: first decoded frame ${earlyMs} ms after go-live`);

  const joinAt = Date.now();
  const late = await openViewer(browser, server, 'Người xem muộn');
  const lateMs = await waitForVideo(late, joinAt, 'viewer joining while live');
  console.log(`# viewer joining while live: first decoded frame ${lateMs} ms after the test opened the page`);
  const inPage = await late.evaluate(() => {
    const { joinedAt, firstFrameAt } = window.__chophien;
    return firstFrameAt === null ? null : Math.round(firstFrameAt - joinedAt);
  });
  assert.notEqual(inPage, null, 'the page recorded its first video frame');
  const steps = await late.evaluate(() => {
    const { joinedAt, marks } = window.__chophien;
    return Object.fromEntries(Object.entries(marks).map(([step, at]) => [step, Math.round(at - joinedAt)]));
  });
  console.log(`# viewer joining while live: ms after "join" for each step: ${JSON.stringify(steps)}`);
  console.log(`# viewer joining while live: first frame shown ${inPage} ms after pressing "join" (measured in the page)`);

  assert.equal(await early.getByTestId('live-badge').isVisible(), true);
  await seller.context().close();
  await early.context().close();
  await late.context().close();
});
