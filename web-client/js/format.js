// Formatting of money, counts and times for people.
//
// Money is whole Vietnamese đồng and is always written the Vietnamese way
// (`1.250.000 ₫`), whatever the interface language: that is how prices look
// on every Vietnamese shop sign and receipt. Times come from the server as
// Unix milliseconds and are shown in the viewer's local time zone.

const vnd = new Intl.NumberFormat('vi-VN', {
  style: 'currency',
  currency: 'VND',
  maximumFractionDigits: 0,
});
const count = new Intl.NumberFormat('vi-VN');

/** `250000` → `250.000 ₫` (the space is a no-break space). */
export function formatVnd(amount) {
  return vnd.format(Number(amount) || 0);
}

/** `12500` → `12.500`. */
export function formatCount(n) {
  return count.format(Number(n) || 0);
}

function locale(lang) {
  return lang === 'en' ? 'en-GB' : 'vi-VN';
}

/** Local wall-clock time, hours and minutes. */
export function formatTime(unixMs, lang) {
  return new Date(unixMs).toLocaleTimeString(locale(lang), { hour: '2-digit', minute: '2-digit' });
}

/** Local date and time, for order lists. */
export function formatDateTime(unixMs, lang) {
  return new Date(unixMs).toLocaleString(locale(lang), {
    day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
}

/** Milliseconds left → `m:ss` or `h:mm:ss`, never negative. */
export function formatCountdown(msLeft) {
  const total = Math.max(0, Math.ceil(msLeft / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}
