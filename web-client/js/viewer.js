// The viewer page: join with a display name, watch the seller's video,
// chat, send hearts, see the pinned product and the catalog, buy in flash
// sales and put products in her bag (bag.js, bag-buttons.js, bag-panel.js).
// The layout (full-screen video on a phone, side by side from 960 px) is
// css/viewer.css; the video's fallbacks (data saver, no WebRTC, no picture)
// are viewer-media.js; the catalog sheet is viewer-sheets.js.

import { $, h } from './dom.js';
import { errorText, getLang, initI18n, t } from './i18n.js';
import { formatCount, formatTime } from './format.js';
import { RoomConnection, fetchJson } from './protocol.js';
import { applyMessage, createRoomModel, isMuted } from './room-model.js';
import { ChatLog, Notice, renderConnection, renderRoomStatus, wireChatForm } from './ui.js';
import { SaleCard } from './sale-card.js';
import { BAG_SALE_ID, MyOrders } from './order-card.js';
import { Bag } from './bag.js';
import { BagButtons } from './bag-buttons.js';
import { BagPanel } from './bag-panel.js';
import { ProductShelf } from './product-shelf.js';
import { VoucherDrop } from './voucher-drop.js';
import { ViewerSubscriber, VideoWatchdog, dataSaverOn, hasWebRtc, rememberDataSaver } from './viewer-media.js';
import { followSaleSheet, trapFocus, wireCatalogSheet } from './viewer-sheets.js';
import { ViewerSchedule } from './viewer-schedule.js';
import { NoteBar } from './viewer-note.js';

const HEART_FLUSH_MS = 400;
const MAX_HEARTS_PER_MESSAGE = 100;

const params = new URLSearchParams(location.search);
const roomId = params.get('room') || 'tra-thai-nguyen';
const storageKey = `chophien.viewer.${roomId}`;

const model = createRoomModel();
/** Test and debugging hook: the live objects of this page. */
// `marks`: when each step of starting the video happened (performance.now()),
// so tests and people debugging can see where the time to first frame goes.
const hook = { model, state: model, conn: null, pc: null, subscriber: null, sale: null, bag: null, bagPanel: null, joinedAt: null, firstFrameAt: null, marks: {} };
window.__chophien = hook;

const video = $('#video');
const overlay = $('#video-overlay');
const connectionBanner = $('[data-testid=connection]');
const chatNotice = new Notice($('#chat-notice'));
let conn = null;
let subscriber = null;
/** A `subscribe` unanswered this long is given up and tried again. */
const SUBSCRIBE_TIMEOUT_MS = 15_000;
/** The pause before subscribing again after a refusal. */
const SUBSCRIBE_RETRY_MS = 1000;
/** Request failures that mean the connection went, not the subscribe. */
const CONNECTION_LOST = new Set(['not_connected', 'disconnected', 'closed']);
let saleCard = null;
let bagButtons = null;
let bagPanel = null;
let catalogShelf = null;
let pinnedShelf = null;
let chatLog = null;
let myName = '';
let banned = false;
/** Sound only (the data saver): the answer turns the video down. */
let audioOnly = dataSaverOn();
/** Says so when a live stream brings no picture (video.failed). */
const watchdog = new VideoWatchdog(() => renderStream());

initI18n();
// A planned live: countdown, "Nhắc tôi", share (viewer-schedule.js).
const schedule = new ViewerSchedule(roomId);
showJoin();

function showJoin() {
  const input = $('#join-name');
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(storageKey) || 'null');
  } catch {
    saved = null;
  }
  input.value = saved?.name || `Khách ${100 + Math.floor(Math.random() * 900)}`;
  fetchJson(`/api/rooms/${encodeURIComponent(roomId)}`)
    .then((room) => {
      $('[data-testid=join-room-title]').textContent = room.title;
      schedule.showOnJoin(room);
    })
    .catch(() => {});
  $('#join-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const name = input.value.trim();
    const error = $('#join-error');
    if (!name) {
      error.textContent = t('viewer.joinError', { reason: t('viewer.nameLabel') });
      error.hidden = false;
      input.focus();
      return;
    }
    const button = $('[data-testid=join-button]');
    button.disabled = true;
    try {
      const reply = await guestToken(name);
      try {
        sessionStorage.setItem(storageKey, JSON.stringify({ name }));
      } catch {
        // Private mode: nothing to remember.
      }
      myName = name;
      enterRoom(reply.token);
      renewBeforeExpiry(reply.expires_at);
    } catch (err) {
      error.textContent = t('viewer.joinError', { reason: errorText(err) });
      error.hidden = false;
      button.disabled = false;
    }
  });
}

/**
 * A viewer token for this browser's own identity: the server keeps it in an
 * HttpOnly device cookie, so a reload, a second tab or another display name
 * is still the same person (her holds, limits and bans stay hers).
 */
function guestToken(name) {
  return fetchJson('/api/guest/token', { method: 'POST', body: { room: roomId, name } });
}

/** Fetch a fresh token (same identity) when four fifths of this one's life have passed. */
function renewBeforeExpiry(expiresAt) {
  const left = Number(expiresAt) - Date.now();
  if (!Number.isFinite(left) || left <= 0) return;
  setTimeout(async () => {
    try {
      const reply = await guestToken(myName);
      if (conn) conn.token = reply.token;
      renewBeforeExpiry(reply.expires_at);
    } catch {
      // Try again in a minute; the current token may still have time.
      setTimeout(() => renewBeforeExpiry(Date.now() + 75_000), 60_000);
    }
  }, Math.min(left * 0.8, 2_147_000_000));
}

function enterRoom(token) {
  $('#join').hidden = true;
  $('#room').hidden = false;
  document.body.classList.add('in-room');
  $('[data-testid=viewer-pill]').hidden = false;
  hook.joinedAt = performance.now();
  conn = new RoomConnection({ roomId, token });
  hook.conn = conn;
  chatLog = new ChatLog($('#chat-log'));
  // Her orders, for the sale card and the bag alike: registered first, so
  // both find the orders in it when they hear of one.
  const myOrders = new MyOrders(conn);
  saleCard = new SaleCard({
    panel: $('#sale-panel'), body: $('#sale-body'), status: $('#sale-status'), proof: $('#sale-proof'),
    conn, displayName: () => myName, myOrders,
    regularPrice: (productId) => model.products.find((p) => p.id === productId)?.price_vnd ?? null,
    claimedVoucher: () => voucherDrop.claimed,
  });
  const voucherDrop = new VoucherDrop({ box: $('#voucher-drop'), conn });
  hook.sale = saleCard;
  hook.note = new NoteBar($('#note-bar'), conn);
  wireBag(myOrders, () => voucherDrop.claimed);
  wireChatForm($('#chat-form'), $('#chat-input'), conn, chatNotice);
  wireHearts();
  wireUnmute();
  wireDataSaver();
  wireCatalogSheet({ panel: $('#catalog-panel'), details: $('#catalog-details'), close: $('#catalog-close') });
  followSaleSheet($('#sale-panel'));
  trapFocus($('#bag-sheet'));

  conn.on('status', ({ status }) => {
    renderConnection(connectionBanner, banned && status !== 'open' ? 'banned' : status);
    if (status === 'ended' || status === 'banned') endRoom(status);
  });
  conn.on('subscribe_offer', (m) => { hook.marks.offer = performance.now(); onOffer(m.sdp); });
  conn.on('ice_candidate', (m) => {
    if (m.target === 'subscribe' && subscriber) subscriber.addRemoteCandidate(m.candidate);
  });
  // The server dropped our video connection (ICE failed on its side).
  conn.on('media_failed', (m) => { if (m.target === 'subscribe') resubscribe(); });
  conn.on('error', (m) => {
    if (!m.id) console.warn(`server error ${m.code}: ${m.message}`);
  });
  conn.on('user_banned', (m) => {
    if (m.user_id === model.me?.user_id) {
      banned = true;
      endRoom('banned');
    }
  });
  conn.on('*', (message) => {
    render(applyMessage(model, message), message);
    // A new connection has no subscription on the server yet.
    if (message.type === 'snapshot' || message.type === 'resumed') resubscribe();
  });
  schedule.follow(conn, model, () => render(new Set(['room'])));
  window.addEventListener('langchange', () => {
    render(new Set(['room', 'chat', 'sale', 'settings', 'stats', 'stream']));
    renderPinned(true);
    renderCatalog(true);
    bagPanel.render({ redraw: true });
  });
  setInterval(renderSettings, 5000);
  conn.connect();
}

function render(changed, message) {
  if (changed.has('room') && model.room) {
    $('[data-testid=room-title]').textContent = model.room.title;
    document.title = `${model.room.title} — Chợ Phiên`;
    renderRoomStatus($('[data-testid=room-status]'), model.room.status);
    $('[data-testid=practice-badge]').hidden = !model.room.practice;
    if (model.room.status === 'ended') endRoom('ended');
    // The bag opens with the live: the add buttons and the sheet follow the status.
    $('#catalog-bag-note').hidden = model.room.status !== 'scheduled';
    bagButtons.refresh();
    bagPanel.render();
  }
  if (changed.has('stats')) {
    $('[data-testid=viewer-count]').textContent = formatCount(model.viewers);
    $('[data-testid=hearts-total]').textContent = formatCount(model.heartsTotal);
  }
  if (changed.has('hearts') && model.lastHearts) floatHearts(Math.min(model.lastHearts, 6));
  if (changed.has('chat')) chatLog.render(model);
  if (changed.has('chat-append')) chatLog.append(model, model.lastChat);
  if (changed.has('chat-delete')) chatLog.remove(model.lastDeleted);
  if (changed.has('pinned')) renderPinned();
  if (changed.has('products')) renderCatalog();
  if (changed.has('sale')) saleCard.setSale(model.sale);
  if (changed.has('purchase')) {
    // A bag order's social proof is not the flash sale's.
    const purchase = model.purchases[model.purchases.length - 1];
    if (purchase.saleId !== BAG_SALE_ID) saleCard.showPurchase(purchase);
  }
  if (changed.has('settings') || changed.has('moderation')) renderSettings();
  if (changed.has('stream') || changed.has('room')) renderStream();
  if (message?.type === 'stream_state' && message.live) ensureSubscribed();
}

function renderPinned(redraw = false) {
  pinnedShelf.render(model.pinned ? [model.pinned] : [], { redraw });
  $('#pinned-none').hidden = Boolean(model.pinned);
  // On a phone an empty bubble shrinks to its one line.
  $('[data-testid=pinned]').classList.toggle('is-empty', !model.pinned);
}

/** The room's catalog: every product with its price, what is in stock (a
 * flash sale's units and the bags' are carved out) and its add-to-bag button. */
function renderCatalog(redraw = false) {
  $('#catalog-panel').hidden = model.products.length === 0;
  catalogShelf.render(model.products, { redraw });
}

/** The shopping bag: its state (bag.js), the add buttons on every product
 * card, and the sheet the top bar's bag button opens. */
function wireBag(myOrders, claimedVoucher) {
  const bag = new Bag(conn);
  hook.bag = bag;
  const live = $('#bag-live');
  bagButtons = new BagButtons({
    bag,
    isLive: () => model.room?.status === 'live' && !banned,
    announce: (text) => { live.textContent = text; },
    onAdded: () => bagPanel.bump(),
  });
  const actions = (product) => bagButtons.control(product);
  // Each opening of a product card is one click for the seller's report
  // (docs/protocol.md `view_product`): sent without an id, so the server
  // answers nothing, and lost with no harm when the connection is down.
  const onOpen = (product) => { conn.send({ type: 'view_product', product_id: product.id }); };
  catalogShelf = new ProductShelf($('#catalog-list'), { wrap: (card) => h('li', {}, card), actions, onOpen });
  pinnedShelf = new ProductShelf($('#pinned-body'), { actions, onOpen });
  bagPanel = new BagPanel({
    bag, myOrders, conn, claimedVoucher,
    roomStatus: () => model.room?.status || '',
    productName: (id) => model.products.find((p) => p.id === id)?.name || id,
    displayName: () => myName,
  });
  hook.bagPanel = bagPanel;
}

function renderSettings() {
  const el = $('#chat-settings');
  const parts = [];
  if (model.settings.slow_mode_seconds > 0) parts.push(t('chat.slowMode', { n: model.settings.slow_mode_seconds }));
  if (model.me && isMuted(model, model.me.user_id)) {
    parts.push(t('chat.muted', { time: formatTime(model.muted.get(model.me.user_id), getLang()) }));
  }
  el.textContent = parts.join(' · ');
  el.hidden = parts.length === 0;
}

// --- video -----------------------------------------------------------------

function renderStream() {
  const live = model.room?.status === 'live';
  const onAir = live && model.streamLive;
  // "Đang live" once: the badge while on air, else the status pill.
  $('[data-testid=live-badge]').hidden = !onAir;
  $('[data-testid=room-status]').hidden = !model.room || onAir;
  $('.video-wrap').classList.toggle('is-audio-only', audioOnly);
  const picture = video.videoWidth > 0 && !audioOnly;
  if (onAir && !picture && !audioOnly && hasWebRtc()) watchdog.arm();
  else if (!onAir || picture) watchdog.clear();
  let text = '';
  if (model.room?.status === 'ended') text = t('conn.ended');
  else if (!model.streamLive) text = t(live ? 'video.paused' : 'video.waiting');
  else if (!hasWebRtc()) text = t('video.noWebRtc');
  else if (audioOnly) text = t('video.audioOnly');
  else if (watchdog.expired) text = t('video.failed');
  else if (!picture) text = t('video.connecting');
  overlay.textContent = text;
  overlay.hidden = text === '';
  overlay.dataset.state = watchdog.expired ? 'failed' : '';
}

/** Drop any old PeerConnection and subscribe afresh when the stream is live. */
function resubscribe() {
  if (subscriber) {
    subscriber.close();
    subscriber = null;
  }
  ensureSubscribed();
}

function ensureSubscribed() {
  if (!model.streamLive || subscriber || !conn.isOpen || banned || !hasWebRtc()) return;
  newSubscriber();
  const mine = subscriber;
  hook.marks.subscribe = performance.now();
  conn.request({ type: 'subscribe' }, SUBSCRIBE_TIMEOUT_MS).catch((error) => {
    // Refused (e.g. `media_not_live` while the stream moves between server
    // nodes) or unanswered: drop this attempt and try again while the room
    // still says the stream is live. A dropped connection resubscribes when
    // it is back (snapshot or resumed).
    if (subscriber !== mine || CONNECTION_LOST.has(error.code)) return;
    subscriber.close();
    subscriber = null;
    setTimeout(ensureSubscribed, SUBSCRIBE_RETRY_MS);
  });
}

function newSubscriber() {
  subscriber = new ViewerSubscriber(conn, model.iceServers, (stream) => {
    hook.marks.track = performance.now();
    if (video.srcObject !== stream) video.srcObject = stream;
    video.play().catch(() => {});
    // When the first frame is shown: join → first frame is what a viewer feels.
    if (hook.firstFrameAt === null && 'requestVideoFrameCallback' in video) {
      video.requestVideoFrameCallback((now) => { hook.firstFrameAt ??= now; });
    }
  }, () => audioOnly);
  hook.subscriber = subscriber;
  hook.pc = subscriber.pc;
  const mine = subscriber;
  subscriber.pc.addEventListener('connectionstatechange', () => {
    hook.marks[mine.pc.connectionState] = performance.now();
    // The server drops a failed connection: subscribe again after a pause.
    if (mine.pc.connectionState === 'failed' && subscriber === mine) {
      setTimeout(() => { if (subscriber === mine) resubscribe(); }, 2000);
    }
  });
}

async function onOffer(sdp) {
  if (!subscriber) newSubscriber();
  try {
    await subscriber.acceptOffer(sdp);
  } catch (error) {
    console.error('could not answer the video offer', error);
  }
}

video.addEventListener('playing', renderStream);
video.addEventListener('resize', renderStream);

function wireUnmute() {
  const button = $('#unmute');
  const label = button.querySelector('.unmute-label');
  const icon = button.querySelector('.unmute-icon');
  const update = () => {
    button.setAttribute('aria-pressed', String(!video.muted));
    label.dataset.i18n = video.muted ? 'video.unmute' : 'video.mute';
    label.textContent = t(label.dataset.i18n);
    icon.src = video.muted ? '/img/icon-muted.svg' : '/img/icon-sound.svg';
  };
  button.addEventListener('click', () => {
    video.muted = !video.muted;
    if (!video.muted) video.play().catch(() => {});
    update();
  });
  update();
}

/** The 🎧 button: sound only, remembered on this device; a change subscribes afresh. */
function wireDataSaver() {
  const button = $('#data-saver');
  const update = () => button.setAttribute('aria-pressed', String(audioOnly));
  button.addEventListener('click', () => {
    audioOnly = !audioOnly;
    rememberDataSaver(audioOnly);
    update();
    watchdog.clear();
    renderStream();
    resubscribe();
  });
  update();
}

// --- hearts ----------------------------------------------------------------

function wireHearts() {
  let pending = 0;
  let timer = null;
  const flush = () => {
    timer = null;
    if (pending === 0) return;
    const count = Math.min(pending, MAX_HEARTS_PER_MESSAGE);
    if (conn.send({ type: 'heart', count })) pending -= count;
    else pending = 0; // hearts are fleeting: do not replay them after a drop
    if (pending > 0) timer = setTimeout(flush, HEART_FLUSH_MS);
  };
  $('#heart').addEventListener('click', () => {
    pending += 1;
    floatHearts(1);
    if (!timer) timer = setTimeout(flush, HEART_FLUSH_MS);
  });
}

function floatHearts(n) {
  if (window.matchMedia?.('(prefers-reduced-motion: reduce)').matches) return;
  const layer = $('#hearts-float');
  for (let i = 0; i < n; i += 1) {
    const heart = h('span', { class: 'float-heart', style: { left: `${10 + Math.random() * 60}%`, 'animation-delay': `${i * 120}ms` } }, '❤');
    heart.addEventListener('animationend', () => heart.remove());
    layer.append(heart);
  }
  while (layer.children.length > 30) layer.firstElementChild.remove();
}

// --- end of the room ---------------------------------------------------------

function endRoom(reason) {
  renderConnection(connectionBanner, reason === 'banned' ? 'banned' : 'ended');
  for (const el of document.querySelectorAll('#chat-form input, #chat-form button, [data-testid=buy-button], [data-testid=add-to-bag]')) el.disabled = true;
  if (subscriber && reason === 'banned') {
    subscriber.close();
    subscriber = null;
  }
  if (reason === 'banned') chatNotice.show(t('error.banned'), 'error', 0);
}
