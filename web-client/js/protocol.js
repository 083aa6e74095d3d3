// The WebSocket client of the room protocol (see docs/protocol.md).
//
// One RoomConnection per page. It
// - connects to /ws/rooms/{room}?token=…, and after a drop reconnects with
//   growing back-off, asking to resume with `&last_seq=N` so missed room
//   events are replayed (or a fresh snapshot arrives when they cannot be);
// - drops room events it has already seen (seq ≤ last seq), so handlers see
//   each event once and in order;
// - numbers requests (`id`) and resolves `request()` promises with the
//   `ack` or direct reply carrying that id, or rejects them with the `error`;
// - stops for good when the room has ended (close 4000) or the user was
//   banned (close 4003).

import { randomId } from './dom.js';

/** Close codes the server uses (src/protocol.rs `close`). */
export const CLOSE = { GOING_AWAY: 1001, TOO_BIG: 1009, ROOM_CLOSED: 4000, BANNED: 4003, SLOW_CONSUMER: 4008 };

const REQUEST_TIMEOUT_MS = 15000;
const KEEPALIVE_MS = 25000;
const MAX_BACKOFF_MS = 10000;

/** A rejected request: `code` is the server's stable error code (or a local one). */
export class RequestError extends Error {
  constructor(code, message, retryAfterMs) {
    super(message || code);
    this.code = code;
    this.retryAfterMs = retryAfterMs;
  }
}

export class RoomConnection {
  /**
   * @param {{roomId: string, token: string, base?: string}} options
   * `base` is the http(s) origin of the server (default: this page's).
   */
  constructor({ roomId, token, base = location.origin }) {
    this.roomId = roomId;
    this.token = token;
    this.wsBase = base.replace(/^http/, 'ws');
    /** The seq of the last room event handled; sent back on reconnect. */
    this.lastSeq = null;
    /** 'connecting' | 'open' | 'reconnecting' | 'ended' | 'banned' | 'failed' */
    this.status = 'connecting';
    this.socket = null;
    this.handlers = new Map();
    this.pending = new Map();
    this.attempt = 0;
    this.failuresBeforeOpen = 0;
    this.stopped = false;
    this.keepalive = null;
    this.reconnectTimer = null;
  }

  /** Subscribe to a message `type`, or to 'status' changes, or '*' for all frames. */
  on(type, handler) {
    if (!this.handlers.has(type)) this.handlers.set(type, []);
    this.handlers.get(type).push(handler);
    return this;
  }

  emit(type, payload) {
    for (const handler of this.handlers.get(type) || []) {
      try {
        handler(payload);
      } catch (error) {
        console.error(`handler for ${type} failed`, error);
      }
    }
  }

  setStatus(status, detail = {}) {
    this.status = status;
    this.emit('status', { status, ...detail });
  }

  connect() {
    this.stopped = false;
    const params = new URLSearchParams({ token: this.token });
    if (this.lastSeq !== null) params.set('last_seq', String(this.lastSeq));
    const url = `${this.wsBase}/ws/rooms/${encodeURIComponent(this.roomId)}?${params}`;
    const socket = new WebSocket(url);
    this.socket = socket;
    let opened = false;
    socket.addEventListener('open', () => {
      opened = true;
      this.attempt = 0;
      this.failuresBeforeOpen = 0;
      this.setStatus('open');
      clearInterval(this.keepalive);
      this.keepalive = setInterval(() => this.send({ type: 'ping' }), KEEPALIVE_MS);
    });
    socket.addEventListener('message', (event) => this.receive(event.data));
    socket.addEventListener('close', (event) => {
      if (this.socket !== socket) return;
      clearInterval(this.keepalive);
      this.failPending('disconnected');
      this.socket = null;
      if (!opened) this.failuresBeforeOpen += 1;
      this.afterClose(event.code, event.reason);
    });
  }

  afterClose(code, reason) {
    if (this.stopped) return;
    if (code === CLOSE.ROOM_CLOSED) return this.setStatus('ended', { code, reason });
    if (code === CLOSE.BANNED) return this.setStatus('banned', { code, reason });
    if (this.failuresBeforeOpen >= 3) {
      // The server refuses the upgrade (ended room, ban, bad token): ask why.
      this.checkRoom().then((verdict) => {
        if (verdict) this.setStatus(verdict, { code, reason });
        else this.scheduleReconnect(code, reason);
      });
      return;
    }
    this.scheduleReconnect(code, reason);
  }

  async checkRoom() {
    try {
      const response = await fetch(`/api/rooms/${encodeURIComponent(this.roomId)}`);
      if (response.status === 404) return 'failed';
      const room = await response.json();
      if (room.status === 'ended') return 'ended';
    } catch {
      // The server is unreachable: keep trying.
    }
    return null;
  }

  scheduleReconnect(code, reason) {
    const delay = Math.min(MAX_BACKOFF_MS, 400 * 2 ** this.attempt) * (0.75 + Math.random() / 2);
    this.attempt += 1;
    this.setStatus('reconnecting', { code, reason, retryInMs: delay });
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  /** Close for good (leaving the page, ending the session). */
  close() {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.keepalive);
    this.failPending('closed');
    if (this.socket) this.socket.close(1000, 'bye');
    this.socket = null;
  }

  receive(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      console.warn('ignoring a frame that is not JSON');
      return;
    }
    if (typeof message !== 'object' || message === null || typeof message.type !== 'string') return;
    if (message.type === 'snapshot') {
      this.lastSeq = message.seq;
    } else if (typeof message.seq === 'number') {
      if (this.lastSeq !== null && message.seq <= this.lastSeq) return; // seen already
      this.lastSeq = message.seq;
    }
    if (message.type === 'server_shutdown') this.setStatus('reconnecting', { reason: 'server_shutdown' });
    this.settle(message);
    this.emit(message.type, message);
    this.emit('*', message);
  }

  /** Resolve or reject the request a direct reply answers. */
  settle(message) {
    if (message.seq !== undefined || typeof message.id !== 'string') return;
    const waiting = this.pending.get(message.id);
    if (!waiting) return;
    this.pending.delete(message.id);
    clearTimeout(waiting.timer);
    if (message.type === 'error') {
      waiting.reject(new RequestError(message.code, message.message, message.retry_after_ms));
    } else {
      waiting.resolve(message);
    }
  }

  failPending(code) {
    for (const [, waiting] of this.pending) {
      clearTimeout(waiting.timer);
      waiting.reject(new RequestError(code));
    }
    this.pending.clear();
  }

  get isOpen() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  /** Send a frame without waiting for a reply; false when not connected. */
  send(message) {
    if (!this.isOpen) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  /**
   * Send a frame with a fresh request id; resolves with the reply that
   * carries the id (`ack`, `buy_result`, `order_confirmed`, …), rejects with
   * a RequestError for an `error` reply, a drop or a time-out.
   */
  request(message, timeoutMs = REQUEST_TIMEOUT_MS) {
    if (!this.isOpen) return Promise.reject(new RequestError('not_connected'));
    const id = randomId().slice(0, 32);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RequestError('timeout'));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.socket.send(JSON.stringify({ id, ...message }));
    });
  }
}

/** The WebSocket connection and token handling shared by both pages' HTTP calls. */
export async function fetchJson(url, { token, method = 'GET', body } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    // `{"error": {"code", "message"}}`; some answers put `code` beside a text `error`.
    const code = data?.error?.code || data?.code || `http_${response.status}`;
    const message = data?.error?.message || (typeof data?.error === 'string' ? data.error : null);
    throw Object.assign(new RequestError(code, message || response.statusText), { status: response.status });
  }
  return data;
}
