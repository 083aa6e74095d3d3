// The studio's "Lên lịch phiên live" and "Chia sẻ" (docs/studio.md,
// "Scheduling and sharing"): the seller plans her live — date and time (her
// phone's local time), title, cover picture — and shares its link, by the
// phone's share sheet, by copying it, or as a QR code people scan from a
// poster or another screen. Saving sends `PATCH /api/rooms/{id}`; a new
// cover is uploaded first (`POST /api/rooms/{id}/photos`, the image as the
// body) and its returned `url` becomes `cover_url`. Everyone in the room
// is told (`room_updated`), and so is this panel when she planned from
// another device.
//
// A panel of the full studio: on a phone it is in "Quản lý". seller.js
// attaches it to the room's connection (`attachSchedule`).

import { $, clear, h, safeImageUrl } from './dom.js';
import { errorText, t } from './i18n.js';
import { fetchJson } from './protocol.js';
import { uploadPhoto } from './seller-photo.js';
import { qrCanvas } from './qr.js';
import { copyText, countdownText, localStart, shareUrl, tick } from './schedule.js';

/** `YYYY-MM-DD` and `HH:MM` of a time, in this device's zone. */
function localParts(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, '0');
  return { date: `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`, time: `${pad(d.getHours())}:${pad(d.getMinutes())}` };
}

/**
 * Fill `container` (the studio's `#schedule-panel`) and follow `studio.conn`;
 * `roomId` and `token` are the studio's own.
 */
export function attachSchedule(container, studio, { roomId, token }) {
  document.head.append(h('link', { rel: 'stylesheet', href: '/css/landing.css' }));
  let room = null;
  let dirty = false;
  let stopCountdown = null;

  const title = h('h2', { id: 'schedule-title' });
  const when = h('p', { class: 'schedule-countdown', 'data-testid': 'studio-countdown', role: 'timer' });
  const dateInput = h('input', { id: 'schedule-date', type: 'date', 'data-testid': 'schedule-date', required: true });
  const timeInput = h('input', { id: 'schedule-time', type: 'time', 'data-testid': 'schedule-time', required: true, value: '20:00' });
  const titleInput = h('input', { id: 'schedule-name', 'data-testid': 'schedule-title-input', maxlength: '200', required: true, autocomplete: 'off' });
  const coverImg = h('img', { class: 'schedule-cover-preview', alt: '', 'data-testid': 'schedule-cover-preview', hidden: true });
  const coverInput = h('input', { id: 'schedule-cover', type: 'file', accept: 'image/jpeg,image/png,image/webp', 'data-testid': 'schedule-cover-input' });
  const removeCover = h('input', { id: 'schedule-cover-remove', type: 'checkbox', 'data-testid': 'schedule-cover-remove' });
  const removeRow = h('label', { class: 'check', hidden: true }, removeCover, ' ', h('span', { 'data-i18n': 'schedule.coverRemove' }));
  const save = h('button', { type: 'submit', class: 'btn btn-primary btn-block', 'data-testid': 'schedule-save' });
  const notice = h('p', { class: 'notice', role: 'status', 'aria-live': 'polite', 'data-testid': 'schedule-notice', hidden: true });
  const label = (id, key) => h('label', { for: id, 'data-i18n': key });
  const form = h('form', { class: 'schedule-form', 'data-testid': 'schedule-form', novalidate: true },
    h('div', { class: 'schedule-row' },
      h('div', { class: 'field' }, label('schedule-date', 'schedule.date'), dateInput),
      h('div', { class: 'field' }, label('schedule-time', 'schedule.time'), timeInput)),
    h('div', { class: 'field' }, label('schedule-name', 'schedule.liveTitle'), titleInput),
    h('div', { class: 'field' }, label('schedule-cover', 'schedule.cover'), coverImg, coverInput, removeRow),
    save, notice);

  const shareTitle = h('h3', { class: 'subhead', id: 'share-title' });
  const link = h('input', { id: 'share-link', class: 'share-link', readonly: true, 'data-testid': 'share-link', value: shareUrl(roomId) });
  const copy = h('button', { type: 'button', class: 'btn', 'data-testid': 'share-copy' });
  const share = h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'share-native', hidden: typeof navigator.share !== 'function' });
  const shareNotice = h('p', { class: 'schedule-notice small', role: 'status', 'aria-live': 'polite', 'data-testid': 'share-notice' });
  const qrBox = h('div', { class: 'share-qr', 'data-testid': 'share-qr' });
  const shareHint = h('p', { class: 'muted small' });
  const sharePart = h('div', { class: 'share-part', role: 'group', 'aria-labelledby': 'share-title' },
    shareTitle, shareHint, h('label', { for: 'share-link', class: 'visually-hidden', 'data-i18n': 'schedule.link' }), link,
    h('div', { class: 'schedule-actions' }, copy, share), shareNotice, qrBox);

  container.append(title, when, form, sharePart);

  function texts() {
    title.textContent = t('schedule.title');
    save.textContent = t('schedule.save');
    shareTitle.textContent = t('schedule.shareTitle');
    shareHint.textContent = t('schedule.shareHint');
    copy.textContent = t('schedule.copy');
    share.textContent = t('schedule.share');
    for (const el of container.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
    clear(qrBox).append(qrCanvas(shareUrl(roomId), { px: 5, label: t('schedule.qrLabel') }));
    drawWhen();
  }

  function drawWhen() {
    stopCountdown?.();
    const planned = room?.status === 'scheduled' && Number.isFinite(room?.starts_at);
    when.hidden = !planned;
    if (!planned) return;
    const at = room.starts_at;
    stopCountdown = tick(() => { when.textContent = `${countdownText(at)} · ${localStart(at)}`; }, () => room?.starts_at === at);
  }

  function fill(next) {
    room = next;
    // The studio's own model and title follow (seller.js knows no `room_updated`).
    const own = studio?.model?.room;
    if (own) Object.assign(own, { title: next.title, starts_at: next.starts_at, cover_url: next.cover_url });
    const heading = document.querySelector('.topbar [data-testid=room-title]');
    if (heading && own) heading.textContent = next.title;
    if (!dirty) {
      titleInput.value = room.title || '';
      if (Number.isFinite(room.starts_at)) {
        const { date, time } = localParts(room.starts_at);
        dateInput.value = date;
        timeInput.value = time;
      }
      coverImg.hidden = !room.cover_url;
      if (room.cover_url) coverImg.src = safeImageUrl(room.cover_url);
      removeRow.hidden = !room.cover_url;
      removeCover.checked = false;
    }
    drawWhen();
  }

  for (const input of [dateInput, timeInput, titleInput, coverInput, removeCover]) {
    input.addEventListener('input', () => { dirty = true; });
  }
  dateInput.min = localParts(Date.now()).date;

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const show = (text, kind) => {
      notice.textContent = text;
      notice.dataset.kind = kind;
      notice.hidden = false;
    };
    if (!dateInput.value || !timeInput.value) {
      show(t('schedule.needDate'), 'error');
      (dateInput.value ? timeInput : dateInput).focus();
      return;
    }
    const startsAt = new Date(`${dateInput.value}T${timeInput.value}`).getTime();
    if (!Number.isFinite(startsAt)) {
      show(t('schedule.needDate'), 'error');
      return;
    }
    save.disabled = true;
    try {
      const body = { title: titleInput.value.trim(), starts_at: startsAt };
      const file = coverInput.files?.[0];
      if (file) {
        show(t('schedule.uploading'), 'ok');
        body.cover_url = (await uploadPhoto({ roomId, token, file })).url;
      } else if (removeCover.checked) {
        body.cover_url = null;
      }
      const updated = await fetchJson(`/api/rooms/${encodeURIComponent(roomId)}`, { token, method: 'PATCH', body });
      dirty = false;
      coverInput.value = '';
      fill(updated);
      show(t('schedule.saved'), 'ok');
    } catch (error) {
      show(errorText(error), 'error');
    } finally {
      save.disabled = false;
    }
  });

  copy.addEventListener('click', async () => {
    shareNotice.textContent = (await copyText(shareUrl(roomId))) ? t('schedule.copied') : t('schedule.copyFailed');
    if (shareNotice.textContent === t('schedule.copyFailed')) link.select();
  });
  share.addEventListener('click', async () => {
    try {
      await navigator.share({ title: room?.title || '', text: t('schedule.shareText', { title: room?.title || '' }), url: shareUrl(roomId) });
    } catch {
      // Closed without sharing: nothing to say.
    }
  });
  link.addEventListener('focus', () => link.select());

  window.addEventListener('langchange', texts);
  texts();
  fetchJson(`/api/rooms/${encodeURIComponent(roomId)}`).then(fill).catch(() => {});
  studio?.conn?.on('room_updated', (message) => fill(message.room));
  studio?.conn?.on('room_status', (message) => { if (room) fill({ ...room, status: message.status }); });
}
