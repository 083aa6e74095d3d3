// One room's video across nodes, in real Chromium (issue 9): three nodes on
// one Redis behind HAProxy; the seller publishes to the node her WebSocket
// landed on, and viewers on every node watch her, the other nodes relaying
// her stream. When her node dies, she republishes wherever she reconnects,
// and viewers keep watching without reloading.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster } from './helpers/cluster.js';
import { launchBrowser, openSeller, openViewer } from './helpers/browser.js';
import { FIRST_FRAME_TIMEOUT_MS, videoProgress, waitForVideo } from './helpers/video.js';

/** Most viewers opened while looking for one on every node. */
const MOST_VIEWERS = 8;

let cluster;
let browser;

before(async () => {
  cluster = await startCluster();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await cluster?.stop();
});

/** The node a page's WebSocket is on, as its snapshot said. */
function nodeOf(page) {
  return page.evaluate(() => window.__chophien.model.node);
}

/** The seller, live through the load balancer. */
async function sellerOnAir() {
  const seller = await openSeller(browser, cluster);
  await seller.getByTestId('go-live').click();
  await seller.waitForFunction(() => window.__chophien.pc?.connectionState === 'connected', null,
    { timeout: FIRST_FRAME_TIMEOUT_MS });
  return seller;
}

/**
 * Viewers through the load balancer, each decoding video, until one is on
 * every node (or MOST_VIEWERS were opened): `{page, node}` each.
 */
async function viewersAcrossNodes() {
  const viewers = [];
  const nodes = new Set();
  for (let i = 1; i <= MOST_VIEWERS && nodes.size < 3; i += 1) {
    const page = await openViewer(browser, cluster, `Khách ${i}`);
    const node = await nodeOf(page);
    await waitForVideo(page, Date.now(), `viewer ${i} on ${node}`);
    viewers.push({ page, node });
    nodes.add(node);
  }
  return viewers;
}

/**
 * Resolves once the page decodes at least 10 new frames within a second
 * (on whatever connection it has now: a viewer whose node died has a new
 * one); fails after 30 s.
 */
async function keepsDecoding(page, label) {
  const deadline = Date.now() + 30_000;
  let last = (await videoProgress(page)).frames;
  for (;;) {
    await page.waitForTimeout(1000);
    const now = (await videoProgress(page)).frames;
    if (now >= last + 10) return;
    assert.ok(Date.now() < deadline, `${label}: no video for 30 s after the seller moved`);
    last = now;
  }
}

async function closeAll(pages) {
  for (const page of pages) await page.context().close();
}

test('viewers on every node watch the seller, whichever node she publishes to', async () => {
  const seller = await sellerOnAir();
  const origin = await nodeOf(seller);
  const viewers = await viewersAcrossNodes();
  const nodes = new Set(viewers.map((v) => v.node));
  console.log(`# seller on ${origin}; viewers on ${viewers.map((v) => v.node).join(', ')}`);
  assert.ok(nodes.size >= 2, `the load balancer spread ${viewers.length} viewers over ${nodes.size} node(s)`);
  assert.ok([...nodes].some((n) => n !== origin), 'a viewer is on a node the seller does not publish to');
  for (const { page, node } of viewers) {
    assert.equal(await page.getByTestId('live-badge').isVisible(), true, `live badge on ${node}`);
  }
  await closeAll([seller, ...viewers.map((v) => v.page)]);
});

test('her node dies: she republishes where she reconnects and viewers keep watching without a reload', async () => {
  const seller = await sellerOnAir();
  const origin = await nodeOf(seller);
  const viewers = await viewersAcrossNodes();
  // A page that reloads loses this mark.
  for (const { page } of viewers) await page.evaluate(() => { window.__notReloaded = true; });

  cluster.kill(origin);
  const moved = Date.now();
  await seller.waitForFunction((dead) => {
    const hook = window.__chophien;
    return hook.model.node && hook.model.node !== dead && hook.pc?.connectionState === 'connected';
  }, origin, { timeout: 30_000 });
  const newOrigin = await nodeOf(seller);
  console.log(`# ${origin} killed; the seller republished on ${newOrigin} after ${Date.now() - moved} ms`);

  for (const [i, { page, node }] of viewers.entries()) {
    await keepsDecoding(page, `viewer ${i + 1} (was on ${node})`);
    assert.equal(await page.evaluate(() => window.__notReloaded), true, `viewer ${i + 1} did not reload`);
  }
  await closeAll([seller, ...viewers.map((v) => v.page)]);
});
