// The session report page (`report.html?room=<id>`): what a live session
// did, for its seller. One read of `GET /api/rooms/{id}/report?bucket_secs=60`
// with the seller's token (the URL fragment `#token=…`, or the studio's copy
// in sessionStorage) draws the totals, the per-minute curves with the
// session's events, the top products, the three weakest metrics with the
// server's suggestion, and the previous sessions side by side; "Tải CSV"
// downloads `…/report.csv` with the same token. Refusals and missing rooms
// are a calm message, never an empty page.

import { $, clear, h } from './dom.js';
import { getLang, initI18n, t } from './i18n.js';
import { formatCount, formatCountdown, formatDateTime, formatVnd } from './format.js';
import { fetchJson } from './protocol.js';
import { METRICS, formatMetric, metricHelp, metricLabel } from './metrics.js';
import { TimeChart, chartsAvailable } from './charts.js';

const params = new URLSearchParams(location.search);
const roomId = params.get('room') || '';
const token = new URLSearchParams(location.hash.slice(1)).get('token') || readStored();

/** The metrics the comparison table puts side by side. */
const COMPARED = ['views', 'peak_viewers', 'avg_view_secs', 'comment_rate', 'ctr', 'orders', 'gmv_vnd', 'conversion'];

/** The per-minute curves: which points each draws. */
const CURVES = [
  { id: 'viewers', title: 'report.curve.viewers', series: [['viewers', 'live.viewersNow', '#2f6b3b'], ['peak_viewers', 'live.viewersPeak', '#b3261e']], format: (v) => formatCount(v) },
  { id: 'comments', title: 'report.curve.comments', series: [['comments', 'metric.comments', '#1a56db']], format: (v) => formatCount(v) },
  { id: 'clicks', title: 'report.curve.clicks', series: [['clicks', 'metric.clicks', '#b8860b'], ['impressions', 'metric.impressions', '#8a8379']], format: (v) => formatCount(v) },
  { id: 'orders', title: 'report.curve.orders', series: [['orders', 'metric.orders', '#6b3fa0']], format: (v) => formatCount(v) },
  { id: 'gmv', title: 'report.curve.gmv', series: [['gmv_vnd', 'metric.gmv_vnd', '#8c1d17']], format: (v) => formatVnd(v), axis: (v) => new Intl.NumberFormat('vi-VN', { notation: 'compact', maximumFractionDigits: 1 }).format(v) },
];

/** Test and debugging hook. */
const hook = { report: null, error: null, charts: [] };
window.__chophien = hook;

function readStored() {
  try {
    return sessionStorage.getItem(`chophien.seller.${roomId}`);
  } catch {
    return null;
  }
}

initI18n();
window.addEventListener('langchange', render);
load();

function showStatus(key, params = {}, kind = 'info') {
  const status = $('#report-status');
  status.hidden = false;
  status.dataset.kind = kind;
  status.dataset.i18n = key;
  status.textContent = t(key, params);
}

async function load() {
  if (!roomId) {
    showStatus('report.error.noRoom', {}, 'error');
    return;
  }
  if (token) {
    try {
      sessionStorage.setItem(`chophien.seller.${roomId}`, token);
    } catch {
      // Private mode: the fragment is still in the URL.
    }
  }
  try {
    hook.report = await fetchJson(`/api/rooms/${encodeURIComponent(roomId)}/report?bucket_secs=60`, { token });
    render();
  } catch (error) {
    hook.error = error;
    showStatus(errorKey(error), { code: error.code }, 'error');
  }
}

/** A calm sentence for why the report cannot be shown. */
function errorKey(error) {
  if (!token || error.code === 'unauthorized' || error.status === 401) return 'report.error.unauthorized';
  if (error.code === 'forbidden' || error.status === 403) return 'report.error.forbidden';
  if (error.code === 'room_not_found' || error.status === 404) return 'report.error.notFound';
  return 'report.error.generic';
}

function render() {
  const report = hook.report;
  if (!report) return;
  $('#report-status').hidden = true;
  $('#report').hidden = false;
  const lang = getLang();
  const room = report.room || {};
  document.title = `${t('report.title')}: ${room.title || roomId} — Chợ Phiên`;
  $('[data-testid=room-title]').textContent = room.title || roomId;
  $('#report-room').textContent = room.title || roomId;
  $('[data-testid=practice-badge]').hidden = !room.practice;
  $('#report-seller').textContent = t('index.seller', { name: room.seller_name || '' });
  const w = report.window || {};
  const started = w.started_at ?? room.created_at;
  $('#report-when').textContent = started
    ? t('report.when', {
      from: formatDateTime(started, lang),
      to: w.ended_at ? formatDateTime(w.ended_at, lang) : t('status.live'),
      length: formatCountdown((Number(w.live_secs) || 0) * 1000),
    })
    : t('report.notLive');
  const fragment = token ? `#token=${encodeURIComponent(token)}` : '';
  $('#report-replay').href = `/replay.html?room=${encodeURIComponent(roomId)}${fragment}`;
  $('#report-studio').href = `/seller.html?room=${encodeURIComponent(roomId)}${fragment}`;
  renderWeakest(report);
  renderTotals(report);
  renderCurves(report);
  renderEvents(report);
  renderProducts(report);
  renderCompare(report);
}

function renderTotals(report) {
  const grid = clear($('#totals'));
  for (const { key } of METRICS) {
    const help = metricHelp(key);
    grid.append(h('div', { class: 'metric-tile', 'data-metric': key, 'data-testid': `metric-${key}` },
      h('dt', { class: 'metric-label', title: help || null, text: metricLabel(key) }),
      h('dd', { class: 'metric-value', 'data-testid': 'metric-value', text: formatMetric(key, report.metrics?.[key]) }),
      help ? h('dd', { class: 'metric-help', text: help }) : null));
  }
}

function renderWeakest(report) {
  const list = clear($('#weakest-list'));
  const weakest = report.weakest || [];
  $('#weakest-none').hidden = weakest.length > 0;
  const lang = getLang();
  for (const item of weakest.slice(0, 3)) {
    const suggestion = item.suggestion?.[lang] || item.suggestion?.vi || '';
    list.append(h('li', { class: 'weakest-card', 'data-testid': 'weakest-item', 'data-metric': item.metric },
      h('strong', { class: 'weakest-name', text: metricLabel(item.metric) }),
      // `reference`: no previous session yet, judged against a usual value for a first live.
      h('p', { class: 'weakest-values', text: t(item.baseline_kind === 'reference' ? 'report.weakValueReference' : 'report.weakValue', { value: formatMetric(item.metric, item.value), baseline: formatMetric(item.metric, item.baseline) }) }),
      suggestion ? h('p', { class: 'weakest-suggestion', 'data-testid': 'weakest-suggestion', text: suggestion }) : null));
  }
}

function renderCurves(report) {
  for (const chart of hook.charts) chart.destroy();
  hook.charts = [];
  const box = clear($('#curves'));
  const points = report.series?.points || [];
  const times = points.map((p) => p.at);
  const events = report.events || [];
  for (const curve of CURVES) {
    const plot = h('div', { class: 'live-plot' });
    const total = curve.series.map(([key]) => points.reduce((sum, p) => sum + (Number(p[key]) || 0), 0));
    box.append(h('section', { class: 'live-tile', 'data-testid': `curve-${curve.id}`, 'aria-label': t(curve.title) },
      h('h3', { class: 'live-tile-title', text: t(curve.title) }),
      points.length === 0 ? h('p', { class: 'muted small', text: t('report.noPoints') }) : null,
      plot));
    if (!chartsAvailable() || points.length === 0) continue;
    const chart = new TimeChart(plot, {
      series: curve.series.map(([, label, stroke]) => ({ label: t(label), stroke })),
      format: curve.format,
      axis: curve.axis || curve.format,
      height: 170,
    });
    chart.setData(times, curve.series.map(([key]) => points.map((p) => p[key] ?? null)));
    chart.setEvents(events);
    chart.totals = total;
    hook.charts.push(chart);
  }
}

function renderEvents(report) {
  const list = clear($('#events'));
  const lang = getLang();
  for (const event of report.events || []) {
    list.append(h('li', { class: 'event-item', 'data-kind': event.kind, 'data-testid': 'event' },
      h('span', { class: 'chat-time', text: formatDateTime(event.at, lang) }),
      h('span', { class: 'event-kind', text: t(`event.${event.kind}`) }),
      event.label ? h('span', { class: 'event-label', text: event.label }) : null));
  }
  if (!list.firstChild) list.append(h('li', { class: 'muted small', text: t('report.noEvents') }));
}

function renderProducts(report) {
  const body = clear($('#top-products'));
  const products = report.top_products || [];
  for (const p of products) {
    body.append(h('tr', { 'data-testid': 'top-product', 'data-product-id': p.product_id },
      h('th', { scope: 'row', text: p.name || p.product_id }),
      h('td', { class: 'num', text: formatCount(p.impressions) }),
      h('td', { class: 'num', 'data-testid': 'top-product-clicks', text: formatCount(p.clicks) }),
      h('td', { class: 'num', text: formatCount(p.orders) }),
      h('td', { class: 'num', text: formatCount(p.units) }),
      h('td', { class: 'num', text: formatVnd(p.gmv_vnd) })));
  }
  if (products.length === 0) body.append(h('tr', {}, h('td', { colspan: 6, class: 'muted small', text: t('report.noProducts') })));
}

function renderCompare(report) {
  const head = clear($('#compare-head'));
  head.append(h('th', { scope: 'col', text: t('report.session') }));
  for (const key of COMPARED) head.append(h('th', { scope: 'col', class: 'num', title: metricHelp(key) || null, text: metricLabel(key) }));
  const body = clear($('#compare'));
  const lang = getLang();
  const row = (label, metrics, props = {}) => h('tr', props,
    h('th', { scope: 'row' }, ...label),
    ...COMPARED.map((key) => h('td', { class: 'num', text: formatMetric(key, metrics?.[key]) })));
  const started = report.window?.started_at ?? report.room?.created_at;
  body.append(row([h('strong', { text: t('report.thisSession') }), started ? h('span', { class: 'muted small block', text: formatDateTime(started, lang) }) : null],
    report.metrics, { class: 'is-current', 'data-testid': 'compare-current' }));
  const previous = report.previous || [];
  $('#compare-none').hidden = previous.length > 0;
  if (previous.length > 0 && report.baseline) {
    body.append(row([h('em', { text: t('report.baseline') })], report.baseline, { class: 'is-baseline', 'data-testid': 'compare-baseline' }));
  }
  for (const p of previous) {
    body.append(row([
      h('a', { href: `/report.html?room=${encodeURIComponent(p.room_id)}${token ? `#token=${encodeURIComponent(token)}` : ''}`, text: p.title || p.room_id }),
      p.started_at ? h('span', { class: 'muted small block', text: formatDateTime(p.started_at, lang) }) : null,
    ], p.metrics, { 'data-testid': 'compare-previous' }));
  }
}

$('#report-csv').addEventListener('click', downloadCsv);

/** `GET …/report.csv` with the bearer token, saved as a file (a Blob download). */
async function downloadCsv() {
  const notice = $('#report-notice');
  notice.hidden = true;
  try {
    const english = getLang() === 'en';
    const response = await fetch(`/api/rooms/${encodeURIComponent(roomId)}/report.csv${english ? '?lang=en' : ''}`, {
      headers: token ? { Authorization: `Bearer ${token}` } : {},
    });
    if (!response.ok) throw Object.assign(new Error(response.statusText), { code: `http_${response.status}` });
    const blob = await response.blob();
    const url = URL.createObjectURL(blob);
    const link = h('a', { href: url, download: `${english ? 'report' : 'bao-cao'}-${roomId}.csv` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (error) {
    notice.hidden = false;
    notice.dataset.kind = 'error';
    notice.textContent = t('report.csvError', { code: error.code || error.message });
  }
}
