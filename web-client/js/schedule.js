// A room's schedule as people read it (docs/protocol.md, "Scheduling and
// sharing"): how long until a planned live starts, its local date and
// time, the room's share link and its calendar event ("Nhắc tôi"). Shared
// by the landing page, the viewer page and the studio; pure functions and
// one ticking helper, no page of its own.

import { getLang, t } from './i18n.js';

const enc = encodeURIComponent;

/** The share link of a room (`GET /live/{id}`: preview tags, then the room). */
export function shareUrl(roomId) {
  return `${location.origin}/live/${enc(roomId)}`;
}

/** The calendar event of a planned live (`text/calendar`, downloaded). */
export function calendarUrl(roomId) {
  return `/live/${enc(roomId)}/calendar.ics`;
}

/** Is the room waiting for a planned start (scheduled, with a time)? */
export function isUpcoming(room) {
  return room?.status === 'scheduled' && Number.isFinite(room?.starts_at);
}

/**
 * What is left before `startsAt`, in words: "Bắt đầu sau 2 giờ 05 phút",
 * seconds under a minute, days beyond one; "Sắp bắt đầu" once it passed.
 */
export function countdownText(startsAt, now = Date.now()) {
  const left = Math.ceil((startsAt - now) / 1000);
  if (left <= 0) return t('schedule.soon');
  const d = Math.floor(left / 86_400);
  const h = Math.floor((left % 86_400) / 3600);
  const m = Math.floor((left % 3600) / 60);
  const pad = (n) => String(n).padStart(2, '0');
  let span;
  if (d > 0) span = t('schedule.days', { d, h });
  else if (h > 0) span = t('schedule.hours', { h, m: pad(m) });
  else if (left >= 60) span = t('schedule.minutes', { m: Math.ceil(left / 60) });
  else span = t('schedule.seconds', { s: left });
  return t('schedule.startsIn', { left: span });
}

/** The start in the reader's own time zone: "Thứ Sáu, 04/12, 20:00". */
export function localStart(startsAt) {
  const locale = getLang() === 'en' ? 'en-GB' : 'vi-VN';
  return new Date(startsAt).toLocaleString(locale, {
    weekday: 'long', day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit',
  });
}

/**
 * Call `draw` now and every second while `alive()` holds (a countdown shows
 * seconds in its last minute); the timer stops by itself.
 */
export function tick(draw, alive) {
  draw();
  const timer = setInterval(() => {
    if (!alive()) {
      clearInterval(timer);
      return;
    }
    draw();
  }, 1000);
  return () => clearInterval(timer);
}

/**
 * Share `url` with the phone's own share sheet (Zalo, Messenger…) when the
 * browser has one, else copy it. Resolves to what happened: 'shared',
 * 'copied', 'cancelled' or 'failed'.
 */
export async function shareOrCopy(url, title) {
  if (typeof navigator.share === 'function') {
    try {
      await navigator.share({ title, text: t('schedule.shareText', { title }), url });
      return 'shared';
    } catch (error) {
      if (error?.name === 'AbortError') return 'cancelled';
    }
  }
  return (await copyText(url)) ? 'copied' : 'failed';
}

/** Copy `text` to the clipboard (false when the browser refuses). */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}
