// The viewer's video, when it cannot or should not come: the data saver
// (sound only, for 3G/4G in the countryside), a browser without WebRTC, and
// a watchdog that says so when no picture has come after a while. The page
// around it (chat, pinned product, bag, buying) works the same either way.

import { Subscriber } from './webrtc.js';

const SAVER_KEY = 'chophien.dataSaver';
/** How long a live stream may go without a picture before the page says so. */
export const NO_VIDEO_AFTER_MS = 12_000;

/** Whether this browser can receive the stream at all. */
export function hasWebRtc() {
  return typeof window.RTCPeerConnection === 'function';
}

/**
 * The data saver's setting: what she chose last time on this device, or
 * else on when the browser says the connection should save data.
 */
export function dataSaverOn() {
  try {
    const saved = localStorage.getItem(SAVER_KEY);
    if (saved === '1' || saved === '0') return saved === '1';
  } catch {
    // Storage blocked: fall back to the browser's hint.
  }
  return Boolean(navigator.connection?.saveData);
}

export function rememberDataSaver(on) {
  try {
    localStorage.setItem(SAVER_KEY, on ? '1' : '0');
  } catch {
    // Private mode: the choice lasts for this page only.
  }
}

/**
 * A Subscriber that, with `audioOnly()` true, answers the server's offer
 * with the video transceiver `inactive`: the SFU then sends it no video
 * packets at all (docs/protocol.md, `subscribe_answer`).
 */
export class ViewerSubscriber extends Subscriber {
  constructor(conn, iceServers, onStream, audioOnly) {
    super(conn, iceServers, onStream);
    this.audioOnly = audioOnly;
  }

  async acceptOffer(sdp) {
    await this.pc.setRemoteDescription({ type: 'offer', sdp });
    const soundOnly = this.audioOnly();
    for (const transceiver of this.pc.getTransceivers()) {
      if (transceiver.receiver.track?.kind === 'video') {
        transceiver.direction = soundOnly ? 'inactive' : 'recvonly';
      }
    }
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    this.conn.send({ type: 'subscribe_answer', sdp: this.pc.localDescription.sdp });
    await this.flushCandidates();
  }
}

/**
 * Calls `onTimeout` when the stream has been live for `ms` without a
 * picture; `arm()` when a picture is expected, `clear()` when one came or
 * none is expected any more.
 */
export class VideoWatchdog {
  constructor(onTimeout, ms = NO_VIDEO_AFTER_MS) {
    this.onTimeout = onTimeout;
    this.ms = ms;
    this.timer = null;
    /** True once the time ran out, until a picture comes or none is expected. */
    this.expired = false;
  }

  arm() {
    if (this.timer || this.expired) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.expired = true;
      this.onTimeout();
    }, this.ms);
  }

  clear() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.expired = false;
  }
}
