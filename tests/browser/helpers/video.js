// What a viewer page's video is doing, read from its RTCPeerConnection
// stats and <video> element.

import assert from 'node:assert/strict';

export const FIRST_FRAME_TIMEOUT_MS = 15_000;

/** The viewer's decoded video frames and picture width right now. */
export function videoProgress(page) {
  return page.evaluate(async () => {
    const pc = window.__chophien?.pc;
    let frames = 0;
    if (pc) {
      const stats = await pc.getStats();
      stats.forEach((r) => {
        if (r.type === 'inbound-rtp' && r.kind === 'video') frames += r.framesDecoded || 0;
      });
    }
    return { frames, width: document.querySelector('[data-testid=video]').videoWidth };
  });
}

/** Poll until the page has decoded video; resolves with ms since `since`. */
export async function waitForVideo(page, since, label) {
  const deadline = Date.now() + FIRST_FRAME_TIMEOUT_MS;
  let last = { frames: 0, width: 0 };
  while (Date.now() < deadline) {
    last = await videoProgress(page);
    if (last.frames > 0 && last.width > 0) return Date.now() - since;
    await page.waitForTimeout(100);
  }
  assert.fail(`${label}: no decoded video within ${FIRST_FRAME_TIMEOUT_MS} ms (frames ${last.frames}, width ${last.width})`);
}
