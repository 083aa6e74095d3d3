// The session report's metrics as people read them: which kind of number
// each is (a count, a share, a rate per minute, money, a duration), its short
// label and its one-line explanation (i18n keys `metric.<key>` and
// `metric.<key>.help`, which follow docs/metrics.md and the server's
// src/analytics/metrics.rs), and how it is written.
// The report page, the studio's live charts and the comparison table all
// format through here.

import { formatCount, formatCountdown, formatVnd } from './format.js';
import { getLang, t } from './i18n.js';

/** Every metric of `GET /api/rooms/{id}/report`, in the order the report shows them. */
export const METRICS = Object.freeze([
  ['views', 'count'], ['unique_viewers', 'count'], ['peak_viewers', 'count'], ['avg_view_secs', 'secs'],
  ['views_10s', 'count'], ['comments', 'count'], ['comment_rate', 'per_min'], ['hearts', 'count'],
  ['hearts_per_min', 'per_min'], ['impressions', 'count'], ['clicks', 'count'], ['ctr', 'share'],
  ['ctor', 'share'], ['product_visitors', 'count'], ['guided_rate', 'share'], ['buyers', 'count'],
  ['orders', 'count'], ['units', 'count'], ['gmv_vnd', 'money'], ['gpm_vnd', 'money'],
  ['conversion', 'share'], ['vouchers_dropped', 'count'], ['vouchers_claimed', 'count'],
  ['orders_with_voucher', 'count'], ['voucher_use', 'share'], ['questions', 'count'],
  ['questions_answered', 'count'], ['answer_rate', 'share'], ['median_answer_secs', 'secs'],
].map(([key, kind]) => Object.freeze({ key, kind })));

const KIND = new Map(METRICS.map((m) => [m.key, m.kind]));

/** A share 0..1 → `12,5 %` (the language's own decimal mark). */
function formatShare(value) {
  return new Intl.NumberFormat(getLang() === 'en' ? 'en-GB' : 'vi-VN', { style: 'percent', maximumFractionDigits: 1 }).format(value);
}

function formatDecimal(value) {
  return new Intl.NumberFormat(getLang() === 'en' ? 'en-GB' : 'vi-VN', { maximumFractionDigits: 1 }).format(value);
}

/**
 * `value` of metric `key` for people: `—` when undefined (null: nothing to
 * divide by), rates as %, per-minute rates with one decimal, money as VND,
 * durations as m:ss.
 */
export function formatMetric(key, value) {
  if (value === null || value === undefined || !Number.isFinite(Number(value))) return '—';
  const n = Number(value);
  switch (KIND.get(key)) {
    case 'share': return formatShare(n);
    case 'per_min': return t('metric.perMinute', { n: formatDecimal(n) });
    case 'money': return formatVnd(Math.round(n));
    case 'secs': return formatCountdown(Math.round(n) * 1000);
    default: return formatCount(n);
  }
}

/** The short label of metric `key` (its key itself when unknown to this client). */
export function metricLabel(key) {
  const text = t(`metric.${key}`);
  return text === `metric.${key}` ? key : text;
}

/** The one-line explanation of metric `key` ('' when unknown). */
export function metricHelp(key) {
  const text = t(`metric.${key}.help`);
  return text === `metric.${key}.help` ? '' : text;
}
