// A practice attempt's scorecard (`?room=ID`) or several attempts side by
// side (`?rooms=a,b`): the parts and their points, every lost point linking
// to its moment in the replay, the trainer's marks (editable for a trainer
// or an admin; read-only for the trainee), the annotations on the replay's
// timeline, the weights, CSV and a printable layout (css/practice.css,
// `@media print`). The token comes in the fragment: the room's coach token
// from the trainer's pages, the trainee's own seller token from her studio.

import { $, clear, h } from './dom.js';
import { errorText, getLang, initI18n, t } from './i18n.js';
import { formatDateTime, formatVnd } from './format.js';
import { Notice } from './ui.js';
import {
  annotate, annotations, compare, downloadScorecardsCsv, pageToken, putMarks, putWeights, scorecard, tokenRole,
} from './practice-api.js';

const params = new URLSearchParams(location.search);
const roomId = params.get('room');
const rooms = roomId ? [roomId] : (params.get('rooms') || '').split(',').filter(Boolean);
const token = pageToken(`chophien.scorecard.${rooms.join(',')}`);
const canEdit = ['trainer', 'admin'].includes(tokenRole(token));

/**
 * A replay link that carries this page's token in its fragment (never sent
 * to a server): the attempt's replay is not published, and its trainer or
 * trainee may watch it only with her token.
 */
function replayLink(path) {
  return `${path}#token=${encodeURIComponent(token)}`;
}
const PARTS = ['interaction', 'selling', 'scenarios', 'compliance', 'presentation', 'product_knowledge'];
/** Test and debugging hook. */
const hook = { card: null, notes: [], comparison: null, canEdit };
window.__chophien = hook;

initI18n();
const notice = new Notice($('#card-notice'));
const status = $('#status');

$('#print').addEventListener('click', () => window.print());
$('#csv').addEventListener('click', async () => {
  try {
    await downloadScorecardsCsv(token, rooms, getLang() === 'en');
  } catch (error) {
    notice.show(errorText(error), 'error');
  }
});

if (!token || rooms.length === 0) {
  status.textContent = t('score.noToken');
  status.dataset.kind = 'error';
} else if (roomId) {
  wireForms();
  loadCard();
} else {
  loadComparison();
}
window.addEventListener('langchange', () => {
  if (hook.card) renderCard();
  if (hook.comparison) renderComparison();
});

const label = (x) => (getLang() === 'en' ? x.label_en : x.label_vi);
const reason = (x) => (getLang() === 'en' ? x.reason_en : x.reason_vi);
const points = (n) => (typeof n === 'number' ? n.toFixed(2) : '—');

/** "m:ss" from the session's start. */
function offset(at) {
  const start = hook.card?.started_at;
  if (!start || !at) return '';
  const s = Math.max(0, Math.round((at - start) / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function fail(error) {
  const key = { unauthorized: 'score.error.unauthorized', forbidden: 'score.error.forbidden', room_not_found: 'score.error.notFound' }[error.code];
  status.textContent = key ? t(key) : errorText(error);
  status.dataset.kind = 'error';
  status.hidden = false;
}

// --- one attempt --------------------------------------------------------------

async function loadCard() {
  try {
    const [card, notes] = await Promise.all([scorecard(token, roomId), annotations(token, roomId)]);
    hook.card = card;
    hook.notes = notes;
    status.hidden = true;
    $('#card').hidden = false;
    renderCard();
  } catch (error) {
    fail(error);
  }
}

function renderCard() {
  const card = hook.card;
  $('#card-title').textContent = t('score.cardTitle', { name: card.seller_name, title: card.title });
  $('#card-when').textContent = card.started_at
    ? t('score.when', { from: formatDateTime(card.started_at, getLang()), to: card.ended_at ? formatDateTime(card.ended_at, getLang()) : t('score.stillLive') })
    : t('score.notLive');
  $('#card-total').textContent = points(card.total);
  const cap = $('#card-cap');
  cap.hidden = !card.cap;
  cap.textContent = card.cap ? t('score.capped', { uncapped: points(card.uncapped_total), reason: reason(card.cap) }) : '';
  $('#replay-link').href = replayLink(`/replay.html?room=${encodeURIComponent(roomId)}`);

  const list = clear($('#parts'));
  for (const part of card.parts) {
    list.append(h('li', { class: 'part', 'data-testid': 'part', 'data-part': part.name },
      h('h3', { class: 'part-head' },
        h('span', {}, label(part), part.assessed ? null : h('span', { class: 'muted small', text: ` · ${t('score.notAssessed')}` })),
        h('span', { class: 'part-points', 'data-testid': 'part-points', text: `${points(part.points)} / ${part.weight}` })),
      part.lost.length ? h('ul', { class: 'lost' }, part.lost.map(lostLine)) : h('p', { class: 'muted small', text: t('score.nothingLost') })));
  }

  const marks = card.figures?.marks;
  $('#marks-now').textContent = marks
    ? t('score.marksNow', { by: marks.by, p: marks.presentation, k: marks.product_knowledge, comment: marks.comment || '' })
    : t('score.noMarks');
  $('#marks-form').hidden = !canEdit;
  if (canEdit && marks && !$('#marks-form').contains(document.activeElement)) {
    $('#mark-presentation').value = marks.presentation;
    $('#mark-knowledge').value = marks.product_knowledge;
    $('#mark-comment').value = marks.comment || '';
  }
  $('#note-form').hidden = !canEdit;
  $('[data-testid=weights-panel]').hidden = !canEdit;
  if (canEdit) renderWeights(card.weights);
  renderNotes();
}

function lostLine(line) {
  return h('li', { class: 'lost-line', 'data-testid': 'lost-line' },
    h('a', { href: replayLink(line.replay_url), target: '_blank', rel: 'noopener', 'data-testid': 'lost-link', text: `−${points(line.points)} · ${offset(line.at) || '—'}` }),
    ' ',
    h('span', { text: reason(line) }),
    canEdit && line.at ? h('button', {
      type: 'button', class: 'btn btn-link no-print', text: t('score.noteHere'),
      onclick: () => {
        $('#note-at').value = offset(line.at);
        $('#note-text').focus();
      },
    }) : null);
}

function renderNotes() {
  const list = clear($('#notes'));
  $('#notes-empty').hidden = hook.notes.length > 0;
  for (const note of hook.notes) {
    list.append(h('li', { 'data-testid': 'annotation' },
      h('a', { href: replayLink(`/replay.html?room=${encodeURIComponent(roomId)}&t=${note.moment}`), target: '_blank', rel: 'noopener', text: offset(note.moment) || '—' }),
      ' ', h('strong', { text: note.by }), ': ', h('span', { 'data-testid': 'annotation-text', text: note.text })));
  }
}

function renderWeights(weights) {
  const form = clear($('#weights-form'));
  for (const part of PARTS) {
    const id = `weight-${part}`;
    const name = label(hook.card.parts.find((p) => p.name === part) || { label_vi: part, label_en: part });
    form.append(h('div', { class: 'field' },
      h('label', { for: id, text: name }),
      h('input', { id, name: part, type: 'number', min: 0, max: 100, step: 1, value: weights[part], 'data-testid': `weight-${part}` })));
  }
  form.append(h('button', { type: 'submit', class: 'btn', 'data-testid': 'weights-save', text: t('score.saveWeights') }));
}

function wireForms() {
  $('#marks-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await putMarks(token, roomId, {
        presentation: Number($('#mark-presentation').value),
        product_knowledge: Number($('#mark-knowledge').value),
        comment: $('#mark-comment').value.trim(),
      });
      notice.show(t('score.saved'), 'ok', 3000);
      await loadCard();
    } catch (error) {
      notice.show(errorText(error), 'error');
    }
  });
  $('#note-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const [m, s = '0'] = $('#note-at').value.trim().split(':');
    const start = hook.card?.started_at;
    if (!start) {
      notice.show(t('score.notLive'), 'error');
      return;
    }
    try {
      await annotate(token, roomId, start + (Number(m) * 60 + Number(s)) * 1000, $('#note-text').value.trim());
      $('#note-text').value = '';
      notice.show(t('score.saved'), 'ok', 3000);
      hook.notes = await annotations(token, roomId);
      renderNotes();
    } catch (error) {
      notice.show(errorText(error), 'error');
    }
  });
  $('#weights-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const weights = Object.fromEntries(PARTS.map((p) => [p, Number($(`#weight-${p}`).value)]));
    try {
      await putWeights(token, roomId, weights);
      notice.show(t('score.saved'), 'ok', 3000);
      await loadCard();
    } catch (error) {
      notice.show(error.code === 'invalid_value' ? t('score.weightsSum') : errorText(error), 'error');
    }
  });
}

// --- attempts side by side -------------------------------------------------------

async function loadComparison() {
  try {
    hook.comparison = await compare(token, rooms);
    status.hidden = true;
    $('#compare').hidden = false;
    renderComparison();
  } catch (error) {
    fail(error);
  }
}

function renderComparison() {
  const { attempts, rows } = hook.comparison;
  const head = clear($('#compare-head'));
  head.append(h('th', { scope: 'col', text: t('score.part') }));
  attempts.forEach((a, i) => head.append(h('th', { scope: 'col', 'data-testid': 'compare-attempt' },
    h('a', { href: `/scorecard.html?room=${encodeURIComponent(a.room_id)}#token=${encodeURIComponent(token)}`, text: t('score.attempt', { n: i + 1, name: a.seller_name }) }),
    h('span', { class: 'muted small', text: ` · ${t('score.rank', { rank: a.rank })}` }))));
  const body = clear($('#compare-body'));
  for (const row of rows) {
    body.append(h('tr', { 'data-part': row.part },
      h('th', { scope: 'row', text: label(row) }),
      row.points.map((p, i) => h('td', { class: i === row.best ? 'is-best' : '', text: `${points(p)} / ${row.weights[i]}` }))));
  }
}
