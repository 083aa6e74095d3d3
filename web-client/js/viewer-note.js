// The pinned announcement (docs/protocol.md "Pinned announcement"): the
// seller's one note above the chat, "📌 Freeship đơn từ 300k". A NoteBar
// follows the room's `snapshot` (`pinned_note`), `note_pinned` and
// `note_unpinned` and shows the note in its element, or hides it. The text
// goes in as a text node (never markup), so a `<b>` in a note is shown as
// typed. Used by the viewer page (above the chat, desktop and phone overlay)
// by the studio (seller-note.js) to show what is pinned, and by the replay
// page (the note pinned at the video's moment).

import { $ } from './dom.js';
import { t } from './i18n.js';

export class NoteBar {
  /**
   * @param {HTMLElement} bar the bar, hidden when no note is pinned; it holds
   *   an element `[data-note-text]` for the text.
   * @param {import('./protocol.js').RoomConnection} [conn] followed when
   *   given; the replay page calls `show` itself as its video plays
   */
  constructor(bar, conn = null) {
    this.bar = bar;
    this.text = $('[data-note-text]', bar);
    /** The note as last heard ({text, pinned_at, by}), or null. */
    this.note = null;
    conn?.on('snapshot', (m) => this.show(m.pinned_note || null));
    conn?.on('note_pinned', (m) => this.show(m.note));
    conn?.on('note_unpinned', () => this.show(null));
    window.addEventListener('langchange', () => this.show(this.note));
  }

  show(note) {
    this.note = note;
    this.text.textContent = note ? note.text : '';
    this.bar.hidden = !note;
    if (note) this.bar.title = t('note.by', { name: note.by });
    else this.bar.removeAttribute('title');
  }
}
