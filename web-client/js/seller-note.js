// The studio's pinned announcement (docs/protocol.md "Pinned announcement"):
// a field and "Ghim lời nhắn" to pin a note above every viewer's chat
// ("Freeship đơn từ 300k"; a new one replaces the old), "Bỏ ghim" to take
// it down, and the note now pinned (a NoteBar, viewer-note.js). It sits in
// the chat panel of the full studio, which a phone opens with "Quản lý";
// the phone's live screen shows the pinned note above its chat.

import { $ } from './dom.js';
import { errorText, t } from './i18n.js';
import { NoteBar } from './viewer-note.js';

/** The longest note the server takes (src/room/note.rs MAX_NOTE_CHARS), in characters. */
export const MAX_NOTE_CHARS = 200;

export class SellerNote {
  /**
   * @param {{conn: import('./protocol.js').RoomConnection,
   *   notice: import('./ui.js').Notice, bars: HTMLElement[]}} deps
   * `bars`: every element that shows the pinned note (see NoteBar).
   */
  constructor({ conn, notice, bars }) {
    Object.assign(this, { conn, notice });
    this.form = $('#note-form');
    this.input = $('#note-input');
    this.unpinButton = $('#note-unpin');
    this.bars = bars.map((bar) => new NoteBar(bar, conn));
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.pin();
    });
    this.unpinButton.addEventListener('click', () => this.unpin());
    const follow = () => { this.unpinButton.disabled = !this.bars[0]?.note; };
    for (const type of ['snapshot', 'note_pinned', 'note_unpinned']) conn.on(type, follow);
    follow();
  }

  async pin() {
    const text = this.input.value.trim();
    if (!text) {
      this.notice.show(t('note.empty'), 'error');
      this.input.focus();
      return;
    }
    if ([...text].length > MAX_NOTE_CHARS) {
      this.notice.show(t('note.tooLong', { n: MAX_NOTE_CHARS }), 'error');
      return;
    }
    try {
      await this.conn.request({ type: 'pin_note', text });
      this.input.value = '';
      this.notice.show(t('note.pinned'), 'ok');
    } catch (error) {
      this.notice.show(errorText(error), 'error');
    }
  }

  async unpin() {
    try {
      await this.conn.request({ type: 'unpin_note' });
      this.notice.show(t('note.unpinned'), 'ok');
    } catch (error) {
      this.notice.show(errorText(error), 'error');
    }
  }
}
