// The landing page: every room on this server (GET /api/rooms), live first,
// and the published replays of ended sessions (GET /api/replays), newest first.

import { $, clear, h } from './dom.js';
import { getLang, initI18n, t } from './i18n.js';
import { formatCount, formatCountdown, formatDateTime } from './format.js';
import { fetchJson } from './protocol.js';

let rooms = null;
let replays = null;
const ORDER = { live: 0, scheduled: 1, ended: 2 };

initI18n();
load();
loadReplays();
window.addEventListener('langchange', () => {
  render();
  renderReplays();
});

async function load() {
  const status = $('#rooms-status');
  try {
    rooms = await fetchJson('/api/rooms');
    rooms.sort((a, b) => (ORDER[a.status] ?? 3) - (ORDER[b.status] ?? 3) || b.created_at - a.created_at);
    render();
  } catch {
    status.dataset.i18n = 'index.error';
    status.dataset.kind = 'error';
    status.textContent = t('index.error');
  }
}

function render() {
  if (!rooms) return;
  const status = $('#rooms-status');
  status.hidden = rooms.length > 0;
  status.dataset.i18n = 'index.empty';
  status.textContent = t('index.empty');
  const list = clear($('#rooms'));
  for (const room of rooms) {
    const href = `/viewer.html?room=${encodeURIComponent(room.id)}`;
    list.append(h('li', { class: 'panel room-card', 'data-testid': 'room-card' },
      h('img', { src: '/img/che-tan-cuong.svg', alt: '', width: 72, height: 72 }),
      h('div', { class: 'room-body' },
        h('h2', {}, h('a', { href, text: room.title })),
        h('p', { class: 'muted small', text: t('index.seller', { name: room.seller_name }) }),
        h('p', { class: 'small' },
          h('span', { class: 'status-pill', 'data-status': room.status, text: t(`status.${room.status}`) }),
          ' ',
          h('span', { text: t('index.viewers', { n: formatCount(room.viewer_count) }) }))),
      h('a', { class: 'btn btn-primary', href, 'aria-label': `${t('index.watch')}: ${room.title}` }, t('index.watch'))));
  }
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
}

function renderReplays() {
  if (!replays) return;
  $('#replays-section').hidden = replays.length === 0;
  const list = clear($('#replays'));
  for (const replay of replays) {
    const href = `/replay.html?room=${encodeURIComponent(replay.room_id)}`;
    list.append(h('li', { class: 'panel room-card', 'data-testid': 'replay-card' },
      h('img', { src: '/img/che-tan-cuong.svg', alt: '', width: 72, height: 72 }),
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
