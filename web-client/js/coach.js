// The coach view: the trainer's window on one trainee's practice room. The
// video and chat as a viewer sees them, the audience's state, a whisper box
// and the canned nudges (`coach`, `nudge` frames: only the room's hosts get
// them, never its viewers), the compliance flags raised so far, and the link
// to the attempt's scorecard. Opened from trainer.html with the room's coach
// token (role `trainer`, this room only) in the fragment.

import { $, clear, h } from './dom.js';
import { errorText, getLang, initI18n, t } from './i18n.js';
import { formatCount } from './format.js';
import { RoomConnection } from './protocol.js';
import { applyMessage, createRoomModel } from './room-model.js';
import { ChatLog, Notice, renderConnection, renderRoomStatus } from './ui.js';
import { Subscriber } from './webrtc.js';
import { coachedItem, flagItem } from './coaching-view.js';
import { listNudges, pageToken, scorecard } from './practice-api.js';
import { CoachLesson, lessonFromUrl } from './coach-lesson.js';

const roomId = new URLSearchParams(location.search).get('room') || '';
const token = pageToken(`chophien.coach.${roomId}`);
const model = createRoomModel();
/** Test and debugging hook: the live objects of this page. */
const hook = { model, conn: null, pc: null, coached: [], flags: [], nudges: [] };
window.__chophien = hook;

/** A `subscribe` unanswered this long is given up and tried again. */
const SUBSCRIBE_TIMEOUT_MS = 15_000;

initI18n();
const notice = new Notice($('#coach-notice'));
let subscriber = null;
let conn = null;

if (!token || !roomId) {
  $('#no-token').hidden = false;
} else {
  $('#scorecard-link').href = `/scorecard.html?room=${encodeURIComponent(roomId)}#token=${encodeURIComponent(token)}`;
  start();
}

function start() {
  conn = new RoomConnection({ roomId, token });
  hook.conn = conn;
  const chatLog = new ChatLog($('#chat-log'));

  conn.on('status', ({ status }) => renderConnection($('[data-testid=connection]'), status));
  conn.on('subscribe_offer', (m) => subscriber?.acceptOffer(m.sdp));
  conn.on('ice_candidate', (m) => { if (m.target === 'subscribe') subscriber?.addRemoteCandidate(m.candidate); });
  conn.on('media_failed', (m) => { if (m.target === 'subscribe') resubscribe(); });
  conn.on('coached', (m) => {
    hook.coached.push(m);
    $('#coached-log').prepend(coachedItem(m));
  });
  conn.on('compliance_flag', (m) => addFlag(m));
  // A scenario's platform warning reaches the hosts, the coach too: listed with the coaching.
  conn.on('platform_warning', (m) => {
    const item = { kind: 'platform_warning', by: 'platform', text: m.text, at: Date.now() };
    hook.coached.push(item);
    $('#coached-log').prepend(coachedItem(item));
  });
  conn.on('*', (message) => {
    const changed = applyMessage(model, message);
    if (changed.has('chat')) chatLog.render(model);
    if (changed.has('chat-append')) chatLog.append(model, model.lastChat);
    if (changed.has('chat-delete')) chatLog.remove(model.lastDeleted);
    render(changed);
    if (message.type === 'snapshot' || message.type === 'resumed') resubscribe();
    if (message.type === 'stream_state' && message.live) ensureSubscribed();
  });
  window.addEventListener('langchange', () => {
    render(new Set(['room']));
    chatLog.render(model);
    renderNudges();
    redrawLists();
  });

  wireWhisper();
  listNudges(token).then((nudges) => {
    hook.nudges = nudges;
    renderNudges();
  }, (error) => notice.show(errorText(error), 'error'));
  loadEarlierFlags();
  const lesson = new CoachLesson({ token, roomId, lesson: lessonFromUrl(), notice, hook });
  hook.lesson = lesson;
  window.addEventListener('langchange', () => lesson.render());
  conn.connect();
}

function render(changed) {
  if (changed.has('room') && model.room) {
    $('[data-testid=room-title]').textContent = model.room.title;
    document.title = `${model.room.title} — Chợ Phiên`;
    const pill = $('[data-testid=room-status]');
    pill.hidden = false;
    renderRoomStatus(pill, model.room.status);
  }
  $('[data-testid=coach-viewers]').textContent = formatCount(model.viewers);
  $('[data-testid=coach-hearts]').textContent = formatCount(model.heartsTotal);
  $('[data-testid=coach-comments]').textContent = formatCount(model.chat.length);
  $('[data-testid=coach-pinned]').textContent = model.pinned?.name || '—';
  const overlay = $('#video-overlay');
  const text = model.streamLive ? '' : t(model.room?.status === 'live' ? 'video.paused' : 'video.waiting');
  overlay.textContent = text;
  overlay.hidden = text === '';
}

// --- video, received like a viewer's ------------------------------------------------

function resubscribe() {
  subscriber?.close();
  subscriber = null;
  ensureSubscribed();
}

function ensureSubscribed() {
  if (!model.streamLive || subscriber || !conn.isOpen || typeof window.RTCPeerConnection !== 'function') return;
  const video = $('#video');
  subscriber = new Subscriber(conn, model.iceServers, (stream) => {
    if (video.srcObject !== stream) video.srcObject = stream;
    video.play().catch(() => {});
  });
  hook.pc = subscriber.pc;
  const mine = subscriber;
  conn.request({ type: 'subscribe' }, SUBSCRIBE_TIMEOUT_MS).catch(() => {
    if (subscriber !== mine) return;
    subscriber.close();
    subscriber = null;
    setTimeout(ensureSubscribed, 1000);
  });
}

// --- whispers and nudges -------------------------------------------------------

async function send(message, done) {
  try {
    await conn.request(message);
    notice.show(t('coach.sentOk'), 'ok', 2500);
    done?.();
  } catch (error) {
    notice.show(errorText(error), 'error');
  }
}

function wireWhisper() {
  $('#whisper-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const input = $('#whisper-input');
    const text = input.value.trim();
    if (!text) return;
    const button = $('[data-testid=whisper-send]');
    button.disabled = true;
    await send({ type: 'coach', text }, () => { input.value = ''; });
    button.disabled = false;
    input.focus();
  });
}

function renderNudges() {
  const box = clear($('#nudges'));
  for (const nudge of hook.nudges) {
    box.append(h('button', {
      type: 'button', class: 'btn btn-small', 'data-testid': 'nudge', 'data-nudge': nudge.id,
      text: getLang() === 'en' ? nudge.en : nudge.vi,
      onclick: () => send({ type: 'nudge', nudge: nudge.id }),
    }));
  }
}

// --- compliance flags -------------------------------------------------------------

function addFlag(flag) {
  hook.flags.push(flag);
  $('#flags-empty').hidden = true;
  $('#flag-list').prepend(flagItem(flag));
}

/**
 * The flags raised before this page was open: the scorecard's compliance
 * lines (the live frames only reach hosts connected at the time).
 */
async function loadEarlierFlags() {
  try {
    const card = await scorecard(token, roomId);
    // Before the live the part has one "not live yet" line, not a flag.
    if (!card.started_at) return;
    const part = card.parts.find((p) => p.name === 'compliance');
    for (const line of part?.lost || []) {
      if (!line.at) continue;
      hook.flags.push({ earlier: true, ...line });
    }
    redrawLists();
  } catch {
    // No journal yet (the room never opened a session): nothing raised.
  }
}

function redrawLists() {
  const list = clear($('#flag-list'));
  for (const flag of hook.flags) {
    list.prepend(flag.earlier
      ? h('li', { class: 'flag-item', 'data-testid': 'flag-item' }, h('p', { class: 'small', text: getLang() === 'en' ? flag.reason_en : flag.reason_vi }))
      : flagItem(flag));
  }
  $('#flags-empty').hidden = hook.flags.length > 0;
  const log = clear($('#coached-log'));
  for (const m of hook.coached) log.prepend(coachedItem(m));
}
