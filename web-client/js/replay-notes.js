// The trainer's notes on a practice session's replay (docs/practice.md,
// "Scorecard"): each annotation as a marker on the bar and a line in the
// "Nhận xét của giảng viên" panel, both seeking the video to its moment.
// The timeline carries them only for the trainee, the trainer and admins;
// a trainer (or an admin) also writes one here at the moment the video shows
// (`POST /api/practice/rooms/{id}/annotations`), and the list redraws.

import { $, clear, h } from './dom.js';
import { errorText, getLang, t } from './i18n.js';
import { formatCountdown, formatDateTime } from './format.js';
import { annotate, annotations, tokenRole } from './practice-api.js';
import { barPosition } from './replay-state.js';

/**
 * Notes on one replay. `segments()` gives the laid-out recordings,
 * `wallTime()` the moment the video shows, `seek(ms)` moves the bar.
 */
export class ReplayNotes {
  constructor({ roomId, token, segments, wallTime, seek, onChange }) {
    this.roomId = roomId;
    this.token = token;
    this.segments = segments;
    this.wallTime = wallTime;
    this.seek = seek;
    this.onChange = onChange;
    /** The annotations, by moment; null when this viewer may not see them. */
    this.notes = null;
    const role = token ? tokenRole(token) : null;
    /** Trainers and admins write notes; the trainee only reads them. */
    this.writer = role === 'trainer' || role === 'admin';
    $('#replay-note-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.add();
    });
  }

  /** Take the timeline's annotations (absent: this viewer sees none). */
  load(timeline, practice) {
    this.notes = Array.isArray(timeline?.annotations) ? timeline.annotations : null;
    this.practice = Boolean(practice);
    this.render();
  }

  /** Markers for the bar, as replay.js draws its own. */
  markers() {
    return (this.notes || []).map((note) => ({ at: note.moment, kind: 'note', label: note.text }));
  }

  render() {
    const panel = $('#replay-notes');
    // Only a practice session has a trainer; its notes are for her and the trainee.
    panel.hidden = !this.practice || (this.notes === null && !this.writer);
    if (panel.hidden) return;
    $('#replay-note-form').hidden = !this.writer;
    const list = clear($('#replay-notes-list'));
    const notes = this.notes || [];
    $('#replay-notes-none').hidden = notes.length > 0;
    const lang = getLang();
    for (const note of notes) {
      const position = barPosition(this.segments(), note.moment);
      const time = formatCountdown(position);
      list.append(h('li', { 'data-testid': 'replay-note', title: formatDateTime(note.moment, lang) },
        h('button', {
          type: 'button', class: 'btn btn-small btn-ghost', 'data-testid': 'replay-note-seek',
          'aria-label': t('replay.notes.seek', { time }), onclick: () => this.seek(position),
        }, time),
        ' ', h('strong', { text: note.by }), ': ', h('span', { 'data-testid': 'replay-note-text', text: note.text })));
    }
  }

  async add() {
    const input = $('#replay-note-input');
    const status = $('#replay-note-status');
    const text = input.value.trim();
    status.hidden = false;
    if (!text) {
      status.dataset.kind = 'error';
      status.textContent = t('replay.notes.empty');
      input.focus();
      return;
    }
    const button = $('#replay-note-add');
    button.disabled = true;
    try {
      const moment = Math.round(Math.min(this.wallTime(), Date.now()));
      await annotate(this.token, this.roomId, moment, text);
      this.notes = await annotations(this.token, this.roomId);
      input.value = '';
      status.dataset.kind = 'ok';
      status.textContent = t('replay.notes.saved', { time: formatCountdown(barPosition(this.segments(), moment)) });
      this.render();
      this.onChange();
    } catch (error) {
      status.dataset.kind = 'error';
      status.textContent = errorText(error);
    } finally {
      button.disabled = false;
    }
  }
}
