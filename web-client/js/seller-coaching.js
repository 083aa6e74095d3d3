// The trainee's side of coaching, in the studio: when the room is a practice
// room ("Phòng luyện tập"), a badge, the trainer's whispers and nudges and
// the automatic prompts (`coached`), and the compliance flags on what she
// wrote (`compliance_flag`, with the law and a rewording), shown to her
// alone and where she cannot miss them; and a box to check a prepared script
// before going live (`POST /api/compliance/check`). In a real room that
// turned the checker on, the flags show too (without the practice badge).
//
// It lives beside seller.js rather than in it: it owns one container
// (`#coaching`) and listens on the studio's connection (seller.js attaches
// it with `attachCoaching`).

import { $, clear, h } from './dom.js';
import { errorText, t } from './i18n.js';
import { coachedItem, flagItem } from './coaching-view.js';
import { checkScript, pageToken } from './practice-api.js';

/** How many whispers and flags stay listed (the newest first). */
const KEEP = 30;

/**
 * Fill `container` and follow `studio.conn` (a RoomConnection) and
 * `studio.model` (its room model); `studio.coaching` gets this box's state.
 */
export function attachCoaching(container, studio) {
  const hook = studio;
  const roomId = new URLSearchParams(location.search).get('room') || 'tra-thai-nguyen';
  const token = pageToken(`chophien.seller.${roomId}`);
  document.head.append(h('link', { rel: 'stylesheet', href: '/css/coaching.css' }));
  const state = { practice: false, coached: [], flags: [] };
  hook.coaching = state;

  const badge = h('p', { class: 'practice-badge-big', 'data-testid': 'practice-badge', hidden: true });
  const coachList = h('ol', { class: 'coached-log', 'data-testid': 'studio-coached', 'aria-live': 'polite' });
  const flagList = h('ol', { class: 'flag-list', 'data-testid': 'studio-flags', 'aria-live': 'polite' });
  const coachTitle = h('h2', { class: 'small-title' });
  const flagTitle = h('h2', { class: 'small-title' });
  const coachPart = h('div', { class: 'coaching-part', hidden: true }, coachTitle, coachList);
  const flagPart = h('div', { class: 'coaching-part', hidden: true }, flagTitle, flagList);
  const script = scriptCheck(token);
  const scoreLink = h('a', {
    class: 'btn btn-small btn-ghost', target: '_blank', rel: 'noopener', 'data-testid': 'studio-scorecard',
    href: `/scorecard.html?room=${encodeURIComponent(roomId)}#token=${encodeURIComponent(token || '')}`,
  });
  container.append(h('div', { class: 'button-row' }, badge, scoreLink), coachPart, flagPart);

  function render() {
    container.hidden = !state.practice && state.flags.length === 0;
    badge.hidden = !state.practice;
    badge.textContent = t('practice.badgeStudio');
    scoreLink.hidden = !state.practice;
    scoreLink.textContent = t('coaching.scorecard');
    coachTitle.textContent = t('coaching.fromCoach');
    flagTitle.textContent = t('coaching.flags');
    coachPart.hidden = state.coached.length === 0;
    flagPart.hidden = state.flags.length === 0;
    clear(coachList).append(...state.coached.map(coachedItem));
    clear(flagList).append(...state.flags.map(flagItem));
    // The script box joins the page only in a practice room: a real studio keeps its own
    // controls alone (its tests find "the" <summary> on the page).
    if (state.practice && !script.el.isConnected) container.append(script.el);
    script.render(state.practice);
  }

  const fromRoom = (room) => {
    state.practice = Boolean(room?.practice);
    render();
  };
  fromRoom(hook.model?.room);
  hook.conn.on('snapshot', (m) => fromRoom(m.room));
  hook.conn.on('coached', (m) => {
    state.coached.unshift(m);
    state.coached.length = Math.min(state.coached.length, KEEP);
    render();
  });
  // A scenario's "platform warning" (a practice drill): as prominent as the trainer's words.
  hook.conn.on('platform_warning', (m) => {
    state.coached.unshift({ kind: 'platform_warning', by: 'platform', text: m.text, at: Date.now() });
    state.coached.length = Math.min(state.coached.length, KEEP);
    render();
  });
  hook.conn.on('compliance_flag', (m) => {
    state.flags.unshift(m);
    state.flags.length = Math.min(state.flags.length, KEEP);
    render();
  });
  window.addEventListener('langchange', render);
}

/** "Kiểm tra kịch bản": paste the script, see every hit with its line. */
function scriptCheck(token) {
  const input = h('textarea', { id: 'script-text', rows: 5, maxlength: 20000, 'data-testid': 'script-text' });
  const label = h('label', { for: 'script-text' });
  const button = h('button', { type: 'submit', class: 'btn btn-small', 'data-testid': 'script-check' });
  const summary = h('p', { class: 'small', role: 'status', 'aria-live': 'polite', 'data-testid': 'script-summary' });
  const hits = h('ol', { class: 'flag-list', 'data-testid': 'script-hits' });
  const title = h('summary', {});
  let last = null;
  const form = h('form', { class: 'script-check' }, label, input, h('div', { class: 'button-row' }, button));
  const el = h('details', { class: 'coaching-part', 'data-testid': 'script-box' }, title, form, summary, hits);
  const show = () => {
    clear(hits);
    if (!last) return;
    summary.textContent = last.hits.length === 0 && !last.error
      ? t('coaching.scriptClean')
      : last.error || t('coaching.scriptHits', { serious: last.serious, warnings: last.warnings });
    hits.append(...(last.hits || []).map(flagItem));
  };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    button.disabled = true;
    try {
      last = await checkScript(token, text);
    } catch (error) {
      last = { error: errorText(error), hits: [] };
    } finally {
      button.disabled = false;
    }
    show();
  });
  return {
    el,
    render(practice) {
      el.hidden = !practice;
      title.textContent = t('coaching.scriptTitle');
      label.textContent = t('coaching.scriptLabel');
      button.textContent = t('coaching.scriptCheck');
      show();
    },
  };
}
