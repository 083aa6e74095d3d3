// The landing page, for viewers (docs/viewer.md, "The landing page"): the
// lives on now ("Đang live": cover, title, seller, viewers), the planned ones
// ("Sắp diễn ra", soonest first, each with its countdown and "Nhắc tôi"),
// and the published replays ("Xem lại"), from GET /api/rooms and
// GET /api/replays. Rooms that ended are reached through their replays.
// Sellers go to their studio through "Tôi là người bán" (sell.html).

import { $, clear, h, safeImageUrl, thumbOf } from './dom.js';
import { getLang, initI18n, t } from './i18n.js';
import { formatCount, formatCountdown, formatDateTime } from './format.js';
import { fetchJson } from './protocol.js';
import { calendarUrl, countdownText, localStart } from './schedule.js';

/** How often the lists are read again (a live starts, viewers come). */
const REFRESH_MS = 30_000;
const PLACEHOLDER = '/img/che-tan-cuong.svg';

let rooms = null;
let replays = null;
/** Countdown elements and their start times, redrawn every second. */
let countdowns = [];

initI18n();
load();
loadReplays();
setInterval(load, REFRESH_MS);
setInterval(drawCountdowns, 1000);
window.addEventListener('langchange', () => {
  render();
  renderReplays();
});

async function load() {
  const status = $('#rooms-status');
  try {
    rooms = await fetchJson('/api/rooms');
    render();
  } catch {
    if (rooms) return; // keep what is shown; the next refresh may succeed
    status.hidden = false;
    status.dataset.i18n = 'index.error';
    status.dataset.kind = 'error';
    status.textContent = t('index.error');
  }
}

/** Live rooms, most watched first; planned ones, soonest first (undated last, newest first). */
function sections() {
  const live = rooms.filter((r) => r.status === 'live')
    .sort((a, b) => (b.viewer_count || 0) - (a.viewer_count || 0) || b.created_at - a.created_at);
  const upcoming = rooms.filter((r) => r.status === 'scheduled')
    .sort((a, b) => (a.starts_at ?? Infinity) - (b.starts_at ?? Infinity) || b.created_at - a.created_at);
  return { live, upcoming };
}

function render() {
  if (!rooms) return;
  const { live, upcoming } = sections();
  const status = $('#rooms-status');
  const nothing = live.length === 0 && upcoming.length === 0 && !(replays?.length);
  status.hidden = !nothing;
  delete status.dataset.kind;
  status.dataset.i18n = 'landing.empty';
  status.textContent = t('landing.empty');
  countdowns = [];
  fill('#live-section', '#live-rooms', live, liveCard);
  fill('#upcoming-section', '#upcoming-rooms', upcoming, upcomingCard);
  drawCountdowns();
}

function fill(section, list, items, card) {
  $(section).hidden = items.length === 0;
  const ul = clear($(list));
  for (const item of items) ul.append(card(item));
}

function cover(room) {
  return h('img', { class: 'room-cover', src: safeImageUrl(thumbOf(room.cover_url), PLACEHOLDER), alt: '', width: 320, height: 180, loading: 'lazy' });
}

function viewerHref(room) {
  return `/viewer.html?room=${encodeURIComponent(room.id)}`;
}

function liveCard(room) {
  const href = viewerHref(room);
  return h('li', { class: 'panel room-card landing-card', 'data-testid': 'room-card', 'data-room': room.id },
    h('a', { class: 'cover-link', href, tabindex: '-1', 'aria-hidden': 'true' }, cover(room),
      h('span', { class: 'live-badge cover-badge', text: t('status.live') })),
    h('div', { class: 'room-body' },
      h('h3', { class: 'room-card-title' }, h('a', { href, text: room.title })),
      h('p', { class: 'muted small', text: t('index.seller', { name: room.seller_name }) }),
      h('p', { class: 'small', text: t('index.viewers', { n: formatCount(room.viewer_count) }) })),
    h('a', { class: 'btn btn-primary', href, 'aria-label': `${t('index.watch')}: ${room.title}` }, t('index.watch')));
}

function upcomingCard(room) {
  const href = viewerHref(room);
  const dated = Number.isFinite(room.starts_at);
  const count = h('p', { class: 'schedule-countdown small', 'data-testid': 'room-countdown' });
  if (dated) countdowns.push({ el: count, at: room.starts_at });
  return h('li', { class: 'panel room-card landing-card', 'data-testid': 'room-card', 'data-room': room.id },
    h('a', { class: 'cover-link', href, tabindex: '-1', 'aria-hidden': 'true' }, cover(room)),
    h('div', { class: 'room-body' },
      h('h3', { class: 'room-card-title' }, h('a', { href, text: room.title })),
      h('p', { class: 'muted small', text: t('index.seller', { name: room.seller_name }) }),
      dated ? h('p', { class: 'small', 'data-testid': 'room-when', text: t('schedule.at', { when: localStart(room.starts_at) }) })
        : h('p', { class: 'small muted', text: t('landing.noTime') }),
      dated ? count : null),
    h('div', { class: 'card-actions' },
      dated ? h('a', {
        class: 'btn', href: calendarUrl(room.id), download: `chophien-${room.id}.ics`, 'data-testid': 'room-remind',
        'aria-label': `${t('schedule.remind')}: ${room.title}`,
      }, t('schedule.remind')) : null,
      h('a', { class: 'btn btn-primary', href, 'aria-label': `${t('index.watch')}: ${room.title}` }, t('index.watch'))));
}

function drawCountdowns() {
  const now = Date.now();
  for (const { el, at } of countdowns) el.textContent = countdownText(at, now);
}

/** Published replays; a server without them (or any failure) leaves the section hidden. */
async function loadReplays() {
  try {
    // `{"replays": […]}` (docs/replay.md); a bare array is read the same.
    const reply = await fetchJson('/api/replays');
    const list = Array.isArray(reply) ? reply : reply?.replays;
    replays = Array.isArray(list) ? list.sort((a, b) => (b.started_at || 0) - (a.started_at || 0)) : [];
  } catch {
    replays = [];
  }
  renderReplays();
  render();
}

function renderReplays() {
  if (!replays) return;
  $('#replays-section').hidden = replays.length === 0;
  const list = clear($('#replays'));
  for (const replay of replays) {
    const href = `/replay.html?room=${encodeURIComponent(replay.room_id)}`;
    list.append(h('li', { class: 'panel room-card landing-card', 'data-testid': 'replay-card' },
      h('a', { class: 'cover-link', href, tabindex: '-1', 'aria-hidden': 'true' },
        h('img', { class: 'room-cover', src: safeImageUrl(thumbOf(replay.cover_url), PLACEHOLDER), alt: '', width: 320, height: 180, loading: 'lazy' })),
      h('div', { class: 'room-body' },
        h('h3', { class: 'room-card-title' }, h('a', { href, text: replay.title })),
        h('p', { class: 'muted small', text: t('index.seller', { name: replay.seller_name }) }),
        h('p', { class: 'small', text: t('index.replayWhen', {
          when: replay.started_at ? formatDateTime(replay.started_at, getLang()) : '—',
          length: formatCountdown(Number(replay.duration_ms) || 0),
        }) })),
      h('a', { class: 'btn', href, 'aria-label': `${t('index.replay')}: ${replay.title}` }, t('index.replay'))));
  }
}
