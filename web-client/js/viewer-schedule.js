// The viewer page's side of a planned live (docs/viewer.md, "A planned
// live"): while the room is scheduled with a start time, a countdown
// ("Bắt đầu sau 2 giờ 05 phút", seconds in the last minute), the start in
// her own time, "Nhắc tôi" (the calendar event, downloaded) and "Chia sẻ";
// the cover, when there is one, is the poster behind it. It shows on the
// join card (from `GET /api/rooms/{id}`) and, once she is in, on the video
// (from the room's frames: `snapshot`, `room_updated`, `room_status`), and
// goes away by itself when the seller goes live.

import { $, clear, h, safeImageUrl } from './dom.js';
import { t } from './i18n.js';
import { calendarUrl, countdownText, isUpcoming, localStart, shareOrCopy, shareUrl, tick } from './schedule.js';

export class ViewerSchedule {
  /** @param {string} roomId */
  constructor(roomId) {
    this.roomId = roomId;
    this.joinBox = $('#join-schedule');
    this.stageBox = $('#stage-schedule');
    this.room = null;
    /** What the drawn countdown was drawn from (status, start, cover, title). */
    this.key = '';
    this.inRoom = false;
    /** Stops the running countdown's timer. */
    this.stop = null;
    window.addEventListener('langchange', () => this.render());
  }

  /** Before joining: the room as `GET /api/rooms/{id}` told it. */
  showOnJoin(room) {
    if (this.inRoom) return; // the room's own frames are newer
    this.room = room;
    this.render();
  }

  /**
   * In the room: follow its frames. `model` is the page's room model
   * (room-model.js), whose `room` this keeps current on `room_updated`;
   * `onRoom` redraws what else shows the room (its title).
   */
  follow(conn, model, onRoom) {
    conn.on('room_updated', (message) => {
      model.room = { ...model.room, ...message.room, viewer_count: model.room?.viewer_count ?? 0 };
      onRoom();
    });
    // After the page's own handler has folded the frame into the model.
    conn.on('*', () => {
      const room = model.room;
      const key = room && [room.status, room.starts_at, room.cover_url, room.title].join('|');
      if (room && (!this.inRoom || key !== this.key)) {
        this.room = { ...room };
        this.key = key;
        this.inRoom = true;
        this.render();
      }
    });
  }

  render() {
    this.stop?.();
    this.stop = null;
    const box = this.inRoom ? this.stageBox : this.joinBox;
    for (const other of [this.joinBox, this.stageBox]) {
      if (other !== box) clear(other).hidden = true;
    }
    const room = this.room;
    clear(box);
    box.hidden = !isUpcoming(room);
    if (box.hidden) return;
    const count = h('p', { class: 'schedule-countdown', 'data-testid': 'schedule-countdown', role: 'timer' });
    const when = h('p', { class: 'schedule-when', 'data-testid': 'schedule-when', text: t('schedule.at', { when: localStart(room.starts_at) }) });
    const remind = h('a', {
      class: 'btn btn-primary', href: calendarUrl(room.id), download: `chophien-${room.id}.ics`,
      'data-testid': 'schedule-remind', 'aria-label': t('schedule.remindLabel'), text: t('schedule.remind'),
    });
    const notice = h('p', { class: 'schedule-notice small', role: 'status', 'aria-live': 'polite' });
    const share = h('button', {
      type: 'button', class: 'btn', 'data-testid': 'schedule-share', text: t('schedule.share'),
      onclick: async () => {
        const outcome = await shareOrCopy(shareUrl(room.id), room.title);
        notice.textContent = outcome === 'copied' ? t('schedule.copied') : outcome === 'failed' ? shareUrl(room.id) : '';
      },
    });
    if (room.cover_url) {
      box.append(h('img', { class: 'schedule-cover', src: safeImageUrl(room.cover_url), alt: '', 'data-testid': 'schedule-cover' }));
    }
    box.append(h('div', { class: 'schedule-card' },
      count, when, h('div', { class: 'schedule-actions' }, remind, share), notice));
    // An aria-live region that changed every second would talk non-stop:
    // the timer role is polite by default and screen readers read it on demand.
    this.stop = tick(() => { count.textContent = countdownText(room.starts_at); }, () => !box.hidden && this.room === room);
  }
}
