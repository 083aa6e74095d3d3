// The trainer's page: open a class (its name, the trainees, the lesson:
// seed, audience, speed, scenario timeline), hand each trainee her studio
// link (copy, QR code), and watch every room of the class at once, polled
// every few seconds, with each attempt's score so far. Any room opens in the
// coach view (coach.html) or its scorecard (scorecard.html), each with the
// room's own coach token: the trainer's `*` token stays on this page.

import { $, clear, h } from './dom.js';
import { errorText, getLang, initI18n, t } from './i18n.js';
import { formatCount, formatDateTime, formatVnd } from './format.js';
import { Notice } from './ui.js';
import { qrCanvas } from './qr.js';
import { renderClassWeights } from './class-weights.js';
import { copyText } from './schedule.js';
import {
  absolute, classOverview, createClass, downloadScorecardsCsv, getClass, listClasses, listScenarios, pageToken, retryRoom,
  saveScenario, scorecard,
} from './practice-api.js';

/** How often the overview is asked again (docs: cheap enough every few seconds). */
const POLL_MS = 4000;

const token = pageToken('chophien.trainer');
/** Test and debugging hook: the page's state. */
const hook = { classes: [], current: null, overview: null, scores: new Map(), scoredAs: new Map(), polls: 0, scenarios: [] };
window.__chophien = hook;

initI18n();
const createNotice = new Notice($('#create-notice'));
const classNotice = new Notice($('#class-notice'));
let pollTimer = null;

if (!token) {
  $('#no-token').hidden = false;
} else {
  wireForm();
  wireLibrary();
  loadClasses().then(() => {
    const wanted = new URLSearchParams(location.search).get('class');
    if (wanted) openClass(wanted);
  });
  window.addEventListener('langchange', () => {
    renderClassList();
    if (hook.current) {
      renderClass();
      renderOverview();
    }
  });
}

// --- creating a class ------------------------------------------------------

function timelineRow(entry = { at_secs: 60, scenario_id: '' }) {
  const n = $('#timeline').children.length + 1;
  const at = h('input', { type: 'number', min: 0, max: 14400, step: 1, value: entry.at_secs, 'data-testid': 'timeline-at', 'aria-label': t('trainer.timelineAt', { n }) });
  const id = h('input', { list: 'scenario-ids', maxlength: 64, value: entry.scenario_id, 'data-testid': 'timeline-scenario', 'aria-label': t('trainer.timelineScenario', { n }) });
  const li = h('li', { class: 'timeline-row' }, at, id,
    h('button', { type: 'button', class: 'btn btn-link btn-danger-link', text: t('trainer.timelineRemove'), 'aria-label': t('trainer.timelineRemoveLabel', { n }), onclick: () => li.remove() }));
  $('#timeline').append(li);
  id.focus();
}

function lessonFromForm() {
  const timeline = [...$('#timeline').querySelectorAll('.timeline-row')].map((li) => ({
    at_secs: Number(li.querySelector('[data-testid=timeline-at]').value),
    scenario_id: li.querySelector('[data-testid=timeline-scenario]').value.trim(),
  })).filter((e) => e.scenario_id);
  return {
    seed: Number($('#lesson-seed').value || 0),
    audience_size: Number($('#lesson-audience').value || 0),
    speed: Number($('#lesson-speed').value || 1),
    timeline,
  };
}

function wireForm() {
  $('#timeline-add').addEventListener('click', () => timelineRow());
  $('#class-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const name = $('#class-name').value.trim();
    const trainees = $('#class-trainees').value.split('\n').map((s) => s.trim()).filter(Boolean);
    if (!name || trainees.length === 0) {
      createNotice.show(t('trainer.needNameAndTrainees'), 'error');
      return;
    }
    const button = $('[data-testid=class-create]');
    button.disabled = true;
    try {
      const made = await createClass(token, { name, trainees, lesson: lessonFromForm() });
      createNotice.show(t('trainer.created', { name: made.name, n: made.rooms.length }), 'ok');
      $('#class-form').reset();
      clear($('#timeline'));
      await loadClasses();
      await openClass(made.id, made);
    } catch (error) {
      createNotice.show(refusalText(error), 'error', 0);
    } finally {
      button.disabled = false;
    }
  });
}

/** A refusal in words; `invalid_value` says which field from the server's message. */
function refusalText(error) {
  if (error.code === 'invalid_value' && error.message) return `${errorText(error)} ${error.message}`;
  return errorText(error);
}

// --- the scenario library ----------------------------------------------------------

/** The library (built-in first): listed, and offered in the timeline's scenario fields. */
async function loadLibrary() {
  try {
    hook.scenarios = await listScenarios(token);
  } catch {
    hook.scenarios = [];
  }
  $('#library-empty').hidden = hook.scenarios.length > 0;
  const list = clear($('#library-list'));
  const ids = clear($('#scenario-ids'));
  for (const s of hook.scenarios) {
    list.append(h('li', { 'data-testid': 'library-item', 'data-scenario': s.id },
      h('strong', { text: s.title }), ' ', h('code', { text: s.id }),
      s.builtin ? null : h('span', { class: 'muted', text: ` · ${t('trainer.ownMark')}` })));
    ids.append(h('option', { value: s.id, label: s.title }));
  }
}

function wireLibrary() {
  loadLibrary();
  const notice = new Notice($('#scenario-notice'));
  $('#scenario-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const toml = $('#scenario-toml').value;
    if (!toml.trim()) return;
    try {
      const saved = await saveScenario(token, toml);
      notice.show(t('trainer.scenarioSaved', { title: saved.title, id: saved.id }), 'ok');
      await loadLibrary();
    } catch (error) {
      notice.show(error.field ? `${errorText(error)} ${error.message}` : errorText(error), 'error', 0);
    }
  });
}

// --- the class list ------------------------------------------------------------

async function loadClasses() {
  try {
    hook.classes = await listClasses(token);
  } catch (error) {
    classNotice.show(errorText(error), 'error', 0);
    hook.classes = [];
  }
  renderClassList();
}

function renderClassList() {
  const list = clear($('#class-list'));
  $('#classes-empty').hidden = hook.classes.length > 0;
  for (const c of hook.classes) {
    list.append(h('li', {},
      h('button', { type: 'button', class: 'btn btn-link', 'data-testid': 'class-open', 'aria-current': hook.current?.id === c.id ? 'true' : null, onclick: () => openClass(c.id) }, c.name),
      h('span', { class: 'muted small', text: ` · ${t('trainer.classMeta', { n: c.rooms.length, when: formatDateTime(c.created_at, getLang()) })}` })));
  }
}

// --- one class ---------------------------------------------------------------

async function openClass(id, known = null) {
  clearTimeout(pollTimer);
  try {
    hook.current = known || await getClass(token, id);
  } catch (error) {
    classNotice.show(errorText(error), 'error', 0);
    return;
  }
  hook.overview = null;
  hook.scores = new Map();
  /** The status each room had when its score was last read (room id → status). */
  hook.scoredAs = new Map();
  const url = new URL(location.href);
  url.searchParams.set('class', hook.current.id);
  history.replaceState(null, '', url);
  $('#class-panel').hidden = false;
  renderClassList();
  renderClass();
  renderOverview();
  poll();
}

/** The class's latest answer from the server (new attempts bring new rooms and tokens). */
async function refreshClass() {
  hook.current = await getClass(token, hook.current.id);
  renderClass();
}

function lessonText(lesson) {
  return t('trainer.lessonSummary', {
    seed: lesson.seed, audience: lesson.audience_size, speed: lesson.speed, n: lesson.timeline.length,
  });
}

function roomOf(roomId) {
  return hook.current.rooms.find((r) => r.room_id === roomId);
}

/** The coach view of a room, with the class's lesson (the coach view starts the audience with it). */
function coachUrl(room) {
  const query = new URLSearchParams({ room: room.room_id, lesson: JSON.stringify(hook.current.lesson) });
  return `/coach.html?${query}#token=${encodeURIComponent(room.coach_token)}`;
}

function scorecardUrl(room) {
  return `/scorecard.html?room=${encodeURIComponent(room.room_id)}#token=${encodeURIComponent(room.coach_token)}`;
}

/** The links to hand out: studio (copy, QR), viewers' link, and a new attempt. */
function renderClass() {
  const c = hook.current;
  $('#class-title').textContent = c.name;
  $('#class-lesson').textContent = lessonText(c.lesson);
  renderClassWeights(token, c, classNotice, (saved) => {
    hook.current = saved;
    // Every room's score changes with the weights: read them again.
    hook.scoredAs = new Map();
    renderClass();
    poll();
  });
  const list = clear($('#link-list'));
  for (const room of c.rooms) {
    const studio = absolute(room.studio_url);
    const qrBox = h('div', { class: 'qr-box', 'data-testid': 'qr-box', hidden: true });
    const qrButton = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'link-qr', 'aria-expanded': 'false', text: t('trainer.qr') });
    qrButton.addEventListener('click', () => {
      const open = qrBox.hidden;
      if (open && !qrBox.firstChild) {
        qrBox.append(qrCanvas(studio, { px: 5, label: t('trainer.qrLabel', { name: room.trainee }) }),
          h('p', { class: 'small', text: t('trainer.qrHint', { name: room.trainee }) }));
      }
      qrBox.hidden = !open;
      qrButton.setAttribute('aria-expanded', String(open));
    });
    const inputId = `studio-${room.room_id}`;
    const input = h('input', { id: inputId, readonly: true, value: studio, 'data-testid': 'studio-link' });
    list.append(h('li', { class: 'link-card', 'data-testid': 'link-card', 'data-room-id': room.room_id },
      h('h4', { text: t('trainer.attemptOf', { name: room.trainee, n: room.attempt }) }),
      h('div', { class: 'field' },
        h('label', { for: inputId, text: t('trainer.studioLink', { name: room.trainee }) }),
        input),
      h('div', { class: 'button-row' },
        h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'link-copy', text: t('trainer.copy'), onclick: () => copy(studio, input) }),
        qrButton,
        h('a', { class: 'btn btn-small btn-ghost', href: room.viewer_url, target: '_blank', rel: 'noopener', 'data-testid': 'viewer-link', text: t('trainer.viewerLink') }),
        h('button', { type: 'button', class: 'btn btn-small btn-ghost', 'data-testid': 'link-retry', text: t('trainer.retry'), onclick: () => retry(room) })),
      qrBox));
  }
}

async function copy(text, input) {
  if (await copyText(text)) {
    classNotice.show(t('trainer.copied'), 'ok', 3000);
  } else {
    // No clipboard permission (plain http, an old browser): select it for Ctrl+C.
    input.select();
    classNotice.show(t('trainer.copyByHand'), 'info', 5000);
  }
}

async function retry(room) {
  try {
    const made = await retryRoom(token, hook.current.id, room.room_id);
    classNotice.show(t('trainer.retried', { name: made.trainee, n: made.attempt }), 'ok');
    await refreshClass();
    poll();
  } catch (error) {
    classNotice.show(errorText(error), 'error');
  }
}

// --- the overview, polled --------------------------------------------------------

async function poll() {
  clearTimeout(pollTimer);
  const c = hook.current;
  if (!c) return;
  try {
    const overview = await classOverview(token, c.id);
    if (hook.current !== c) return;
    hook.overview = overview;
    // Scores so far, read with the trainer's token (the scorecard API admits a `*` trainer):
    // a live room's on every poll, the others' once per status (a waiting or ended
    // attempt's score changes only with the trainer's marks, read on its scorecard page).
    const stale = overview.rooms.filter((r) => r.status === 'live' || hook.scoredAs.get(r.room_id) !== r.status);
    const scores = await Promise.all(stale.map((r) => scorecard(token, r.room_id).then((s) => s.total, () => null)));
    if (hook.current !== c) return;
    stale.forEach((r, i) => {
      hook.scores.set(r.room_id, scores[i]);
      if (scores[i] !== null) hook.scoredAs.set(r.room_id, r.status);
    });
    hook.polls += 1;
    $('#overview-status').textContent = t('trainer.updated', { time: new Date(overview.at).toLocaleTimeString(getLang() === 'vi' ? 'vi-VN' : 'en-GB') });
    renderOverview();
  } catch (error) {
    $('#overview-status').textContent = errorText(error);
  }
  pollTimer = setTimeout(poll, POLL_MS);
}

/** Rank by score so far, 1 for the best; equal scores share a rank. */
function ranks(rooms) {
  const totals = rooms.map((r) => hook.scores.get(r.room_id)).filter((s) => typeof s === 'number').sort((a, b) => b - a);
  return (roomId) => {
    const s = hook.scores.get(roomId);
    return typeof s === 'number' ? totals.indexOf(s) + 1 : null;
  };
}

function cell(text, testid) {
  return h('td', { 'data-testid': testid, text });
}

function renderOverview() {
  const body = clear($('#overview-body'));
  const rows = hook.overview?.rooms || hook.current?.rooms.map((r) => ({ ...r, status: 'waiting' })) || [];
  const rankOf = ranks(rows);
  for (const r of rows) {
    const room = roomOf(r.room_id);
    const score = hook.scores.get(r.room_id);
    const rank = rankOf(r.room_id);
    body.append(h('tr', { 'data-testid': 'overview-row', 'data-room-id': r.room_id, 'data-status': r.status },
      h('th', { scope: 'row', 'data-testid': 'ov-trainee', text: t('trainer.attemptOf', { name: r.trainee, n: r.attempt }) }),
      h('td', {}, h('span', { class: 'status-pill', 'data-status': r.status === 'waiting' ? 'scheduled' : r.status, 'data-testid': 'ov-status', text: t(`practice.status.${r.status}`) })),
      cell(r.audience_now === undefined ? '—' : t('trainer.audienceNowPeak', { now: formatCount(r.audience_now), peak: formatCount(r.audience_peak) }), 'ov-audience'),
      cell(r.comment_rate === null || r.comment_rate === undefined ? '—' : (Math.round(r.comment_rate * 10) / 10).toLocaleString(getLang() === 'vi' ? 'vi-VN' : 'en-GB'), 'ov-comments'),
      cell(r.orders === undefined ? '—' : formatCount(r.orders), 'ov-orders'),
      cell(r.gmv_vnd === undefined ? '—' : formatVnd(r.gmv_vnd), 'ov-gmv'),
      cell(r.compliance_flags === undefined ? '—' : formatCount(r.compliance_flags), 'ov-flags'),
      cell(typeof score === 'number' ? score.toFixed(2) : '—', 'ov-score'),
      cell(rank ? String(rank) : '—', 'ov-rank'),
      h('td', { class: 'actions' },
        room ? h('a', { class: 'btn btn-small', href: coachUrl(room), target: '_blank', rel: 'noopener', 'data-testid': 'ov-coach', 'aria-label': t('trainer.coachLabel', { name: r.trainee, n: r.attempt }), text: t('trainer.coach') }) : null,
        room ? h('a', { class: 'btn btn-small btn-ghost', href: scorecardUrl(room), target: '_blank', rel: 'noopener', 'data-testid': 'ov-scorecard', 'aria-label': t('trainer.scorecardLabel', { name: r.trainee, n: r.attempt }), text: t('trainer.scorecard') }) : null,
        compareLink(r))));
  }
}

/** "So sánh" when the trainee has several attempts: all of hers side by side. */
function compareLink(r) {
  const mine = hook.current.rooms.filter((x) => x.trainee === r.trainee);
  if (mine.length < 2 || mine[mine.length - 1].room_id !== r.room_id) return null;
  const rooms = mine.map((x) => x.room_id).join(',');
  return h('a', {
    class: 'btn btn-small btn-ghost', target: '_blank', rel: 'noopener', 'data-testid': 'ov-compare',
    href: `/scorecard.html?rooms=${encodeURIComponent(rooms)}#token=${encodeURIComponent(token)}`,
    text: t('trainer.compare'), 'aria-label': t('trainer.compareLabel', { name: r.trainee }),
  });
}

$('#class-csv').addEventListener('click', async () => {
  if (!hook.current) return;
  try {
    await downloadScorecardsCsv(token, hook.current.rooms.map((r) => r.room_id), getLang() === 'en');
  } catch (error) {
    classNotice.show(errorText(error), 'error');
  }
});
