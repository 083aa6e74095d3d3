// The replay page (`replay.html?room=<id>`): a session's recording with its
// chat, hearts, pinned product and flash sale as they were at each moment.
// It reads `GET /api/rooms/{id}/recordings` (the segments) and
// `…/timeline` (the session's public events), plays the segments one after
// another in a <video controls>, and folds the timeline up to the video's
// wall time (replay-state.js): forward as it plays, from the start after a
// seek. The bar under the video marks pins and sales; a tap seeks there.
// With the seller's token (`#token=…` or the studio's sessionStorage copy)
// unpublished replays load too, and a toggle publishes or hides the replay
// (`PUT /api/rooms/{id}/replay`). A practice session's trainer notes show
// on the bar and beside the video for the trainee and the trainer, who
// writes them here too (replay-notes.js).

import { $, clear, h } from './dom.js';
import { errorText, getLang, initI18n, t } from './i18n.js';
import { formatCount, formatCountdown, formatDateTime, formatVnd } from './format.js';
import { fetchJson } from './protocol.js';
import { ChatLog, productCard } from './ui.js';
import { ReplayState, barPosition, fromBar, layoutSegments, totalMs } from './replay-state.js';
import { ReplayNotes } from './replay-notes.js';
import { NoteBar } from './viewer-note.js';

const params = new URLSearchParams(location.search);
const roomId = params.get('room') || '';
const token = new URLSearchParams(location.hash.slice(1)).get('token') || readStored();
const api = (path) => `/api/rooms/${encodeURIComponent(roomId)}/${path}`;

const video = $('#video');
const chatLog = new ChatLog($('#chat-log'), { empty: 'replay.chatEmpty' });
const noteBar = new NoteBar($('#note-bar'));

/** Test and debugging hook: what the page loaded and where it is. */
const hook = { segments: [], timeline: null, replay: null, index: 0, published: null, error: null, wallTime: () => wallTime() };
window.__chophien = hook;

const notes = new ReplayNotes({
  roomId, token, segments: () => hook.segments, wallTime: () => wallTime(), seek: (ms) => seekBar(ms), onChange: () => renderMarkers(),
});

function readStored() {
  try {
    return sessionStorage.getItem(`chophien.seller.${roomId}`);
  } catch {
    return null;
  }
}

initI18n();
window.addEventListener('langchange', () => {
  renderMarkers();
  notes.render();
  renderOwner();
  draw(new Set(['chat', 'pinned', 'note', 'sale', 'hearts']));
  renderSegmentsNote();
});
load();

function showStatus(key, kind = 'info') {
  const status = $('#replay-status');
  status.hidden = false;
  status.dataset.kind = kind;
  status.dataset.i18n = key;
  status.textContent = t(key);
}

/**
 * A recording the page can play: it has an address (a failed one keeps what
 * was written before it stopped, and plays).
 */
function playable(r) {
  return typeof r?.url === 'string' && r.url !== '';
}

async function load() {
  if (!roomId) {
    showStatus('replay.error.noRoom', 'error');
    return;
  }
  const [recordings, timeline] = await Promise.allSettled([
    fetchJson(api('recordings'), { token }),
    fetchJson(api('timeline'), { token }),
  ]);
  if (recordings.status === 'rejected') {
    const error = recordings.reason;
    hook.error = error;
    if (error.code === 'forbidden' || error.code === 'unauthorized' || error.status === 401 || error.status === 403) showStatus('replay.error.private', 'error');
    else if (error.code === 'room_not_found' || error.status === 404) showStatus('replay.error.notFound', 'error');
    else showStatus('replay.error.generic', 'error');
    return;
  }
  hook.published = Boolean(recordings.value?.published);
  hook.segments = layoutSegments((recordings.value?.recordings || []).filter(playable));
  // Without the timeline the video still plays; the chat beside it stays empty.
  hook.timeline = timeline.status === 'fulfilled' ? timeline.value : { room: null, entries: [] };
  $('#replay-timeline-note').hidden = timeline.status === 'fulfilled';
  if (!hook.timeline.room) {
    hook.timeline.room = await fetchJson(`/api/rooms/${encodeURIComponent(roomId)}`).catch(() => null);
  }
  hook.replay = new ReplayState(hook.timeline.entries || []);
  const room = hook.timeline.room || {};
  $('[data-testid=room-title]').textContent = room.title || roomId;
  $('#replay-heading').textContent = room.title || roomId;
  $('[data-testid=practice-badge]').hidden = !room.practice;
  document.title = `${t('replay.title')}: ${room.title || roomId} — Chợ Phiên`;
  $('#replay').hidden = false;
  if (hook.segments.length === 0) {
    showStatus('replay.none');
  } else {
    $('#replay-status').hidden = true;
    // `?t=` (Unix ms, as a scorecard's lost point links it): start there.
    const at = Number(params.get('t'));
    if (at > 0) seekBar(barPosition(hook.segments, at));
    else loadSegment(0, 0);
  }
  renderOwner();
  notes.load(hook.timeline, room.practice);
  renderMarkers();
  renderSegmentsNote();
  $('#replay-total').textContent = formatCountdown(totalMs(hook.segments));
  sync({ rebuild: true });
}

// --- the video ----------------------------------------------------------------

/** Show segment `index` from `seconds`; `play` starts it (after a segment ends). */
function loadSegment(index, seconds, { play = false } = {}) {
  const segment = hook.segments[index];
  if (!segment) return;
  const start = () => {
    if (seconds > 0) video.currentTime = seconds;
    if (play) video.play().catch(() => {});
  };
  if (hook.index === index && video.getAttribute('src') === segment.url) {
    start();
    return;
  }
  hook.index = index;
  video.src = segment.url;
  video.addEventListener('loadedmetadata', start, { once: true });
  video.load();
  renderSegmentsNote();
}

/** The wall time (Unix ms) the video shows now. */
function wallTime() {
  const segment = hook.segments[hook.index];
  if (!segment) return hook.timeline?.entries?.length ? Infinity : 0;
  return segment.started_at + (video.currentTime || 0) * 1000;
}

video.addEventListener('timeupdate', () => sync());
video.addEventListener('seeked', () => sync({ rebuild: true }));
video.addEventListener('ended', () => {
  if (hook.index + 1 < hook.segments.length) loadSegment(hook.index + 1, 0, { play: true });
});

/** Bring the chat, hearts, pinned product and sale to the video's moment. */
function sync({ rebuild = false } = {}) {
  if (!hook.replay) return;
  const from = hook.replay.next;
  const changed = hook.replay.seek(wallTime(), { rebuild });
  draw(changed, from);
  const segment = hook.segments[hook.index];
  const position = segment ? segment.offsetMs + (video.currentTime || 0) * 1000 : 0;
  const total = totalMs(hook.segments);
  $('#replay-clock').textContent = formatCountdown(position);
  $('#replay-progress').style.setProperty('width', `${total > 0 ? Math.min(100, (position / total) * 100) : 0}%`);
}

function draw(changed, from = 0) {
  const state = hook.replay?.state;
  if (!state) return;
  const model = { chat: state.chat, me: null };
  if (changed.has('chat')) {
    chatLog.render(model);
  } else {
    if (changed.has('chat-delete')) chatLog.render(model);
    else if (changed.has('chat-append')) {
      for (const entry of hook.replay.entries.slice(from, hook.replay.next)) {
        if (entry.type === 'chat' && state.chat.includes(entry.message)) chatLog.append(model, entry.message);
      }
    }
  }
  if (changed.has('note')) noteBar.show(state.note);
  if (changed.has('hearts')) $('#hearts-total').textContent = formatCount(state.heartsTotal);
  if (changed.has('pinned')) {
    const body = clear($('#pinned-body'));
    if (state.pinned) body.append(productCard(state.pinned));
    $('#pinned-none').hidden = Boolean(state.pinned);
  }
  if (changed.has('sale')) {
    const sale = state.sale;
    $('#sale-panel').hidden = !sale || sale.state === 'ended';
    $('#sale-body').textContent = sale
      ? t('replay.sale', { name: sale.product_name || sale.product_id, price: formatVnd(sale.price_vnd), remaining: formatCount(sale.remaining), total: formatCount(sale.stock_total) })
      : '';
  }
}

// --- the bar under the video ------------------------------------------------------

/** Pins and each flash sale's changes of state, as markers on the bar. */
function markers() {
  const out = [];
  const saleStates = new Map();
  for (const entry of hook.replay?.entries || []) {
    if (entry.type === 'product_pinned' && entry.product) {
      out.push({ at: entry.at, kind: 'pin', label: entry.product.name });
    } else if (entry.type === 'sale_updated' && entry.sale) {
      if (saleStates.get(entry.sale.id) === entry.sale.state) continue;
      saleStates.set(entry.sale.id, entry.sale.state);
      out.push({ at: entry.at, kind: entry.sale.state === 'ended' ? 'sale_ended' : 'sale', label: entry.sale.product_name || '' });
    }
  }
  return out.concat(notes.markers());
}

function renderMarkers() {
  const bar = $('#replay-bar');
  for (const old of bar.querySelectorAll('.replay-marker')) old.remove();
  const total = totalMs(hook.segments);
  if (total <= 0) return;
  const lang = getLang();
  for (const marker of markers()) {
    const position = barPosition(hook.segments, marker.at);
    const label = t(`replay.marker.${marker.kind}`, { name: marker.label, time: formatCountdown(position) });
    bar.append(h('button', {
      type: 'button', class: 'replay-marker', 'data-kind': marker.kind, 'data-testid': 'replay-marker',
      'data-at': marker.at, 'aria-label': label, title: `${label} (${formatDateTime(marker.at, lang)})`,
      style: { left: `${Math.min(100, (position / total) * 100)}%` },
      onclick: () => seekBar(position),
    }));
  }
  bar.onclick = (event) => {
    if (event.target !== bar && event.target.id !== 'replay-progress') return;
    const rect = bar.getBoundingClientRect();
    seekBar(((event.clientX - rect.left) / rect.width) * total);
  };
}

/** Seek to bar position `ms` (segments end to end). */
function seekBar(ms) {
  const { index, seconds } = fromBar(hook.segments, ms);
  loadSegment(index, seconds);
  if (hook.index === index && video.readyState >= 1) video.currentTime = seconds;
}

function renderSegmentsNote() {
  const n = hook.segments.length;
  $('#replay-segments').textContent = n > 1 ? t('replay.segment', { i: hook.index + 1, n }) : '';
}

// --- the seller's toggle ----------------------------------------------------------

function renderOwner() {
  const box = $('#replay-owner');
  box.hidden = !token || hook.published === null;
  if (box.hidden) return;
  $('#replay-published').textContent = t(hook.published ? 'replay.isPublic' : 'replay.isPrivate');
  $('#replay-publish').textContent = t(hook.published ? 'replay.hide' : 'replay.publish');
  $('#replay-publish').dataset.published = String(hook.published);
  $('#replay-report').href = `/report.html?room=${encodeURIComponent(roomId)}#token=${encodeURIComponent(token)}`;
}

$('#replay-publish').addEventListener('click', async () => {
  const button = $('#replay-publish');
  const notice = $('#replay-notice');
  button.disabled = true;
  notice.hidden = true;
  try {
    const reply = await fetchJson(api('replay'), { token, method: 'PUT', body: { published: !hook.published } });
    hook.published = typeof reply?.published === 'boolean' ? reply.published : !hook.published;
    renderOwner();
  } catch (error) {
    notice.hidden = false;
    notice.dataset.kind = 'error';
    notice.textContent = errorText(error);
  } finally {
    button.disabled = false;
  }
});
