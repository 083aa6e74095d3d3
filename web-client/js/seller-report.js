// The studio's live numbers: while the room is live, the session report
// (`GET /api/rooms/{id}/report?bucket_secs=10`, the seller's bearer token)
// is read every 5 s and drawn as small charts (viewers now and at peak,
// comments per minute, click-through rate, orders, sales) with the current
// values. The metric the server names first in `weakest` is outlined in red.
// Also the links to the report page: "Báo cáo" at any time, and "Xem báo cáo
// phiên live" once the live has ended.

import { $, clear, h } from './dom.js';
import { errorText, t } from './i18n.js';
import { formatCount } from './format.js';
import { fetchJson } from './protocol.js';
import { formatMetric, metricLabel } from './metrics.js';
import { TimeChart, chartsAvailable } from './charts.js';

const POLL_MS = 5000;
const BUCKET_SECS = 10;

/** Running total of a per-bucket series. */
function cumulative(values) {
  let sum = 0;
  return values.map((v) => { sum += Number(v) || 0; return sum; });
}

const compact = new Intl.NumberFormat('vi-VN', { notation: 'compact', maximumFractionDigits: 1 });

/**
 * The tiles: what each plots from the report's points and which metrics it
 * stands for (so the weakest one can be marked on it).
 */
const TILES = [
  {
    id: 'viewers', title: 'live.viewers', metrics: ['peak_viewers', 'unique_viewers', 'views', 'views_10s', 'avg_view_secs'],
    series: [{ label: 'live.viewersNow', stroke: '#2f6b3b', fill: 'rgba(47,107,59,0.08)' }, { label: 'live.viewersPeak', stroke: '#b3261e' }],
    values: (points) => [points.map((p) => p.viewers), points.map((p) => p.peak_viewers)],
    current: (report, points) => t('live.viewersValue', { now: formatCount(points.at(-1)?.viewers ?? 0), peak: formatCount(report.metrics.peak_viewers ?? 0) }),
    format: (v) => formatCount(v),
  },
  {
    id: 'comments', title: 'live.commentRate', metrics: ['comment_rate', 'comments', 'hearts', 'hearts_per_min', 'questions_answered', 'median_answer_secs'],
    series: [{ label: 'live.commentRate', stroke: '#1a56db', fill: 'rgba(26,86,219,0.08)' }],
    values: (points, bucket) => [points.map((p) => (Number(p.comments) || 0) * 60 / bucket)],
    current: (report) => formatMetric('comment_rate', report.metrics.comment_rate),
    format: (v) => formatMetric('comment_rate', v),
  },
  {
    id: 'ctr', title: 'live.ctr', metrics: ['ctr', 'clicks', 'impressions', 'ctor', 'guided_rate', 'product_visitors'],
    series: [{ label: 'live.ctr', stroke: '#b8860b' }],
    values: (points) => {
      const clicks = cumulative(points.map((p) => p.clicks));
      const impressions = cumulative(points.map((p) => p.impressions));
      return [clicks.map((c, i) => (impressions[i] > 0 ? c / impressions[i] : null))];
    },
    current: (report) => formatMetric('ctr', report.metrics.ctr),
    format: (v) => formatMetric('ctr', v),
  },
  {
    id: 'orders', title: 'live.orders', metrics: ['orders', 'buyers', 'units', 'conversion', 'voucher_use', 'orders_with_voucher'],
    series: [{ label: 'live.orders', stroke: '#6b3fa0' }],
    values: (points) => [cumulative(points.map((p) => p.orders))],
    current: (report) => formatMetric('orders', report.metrics.orders),
    format: (v) => formatCount(v),
  },
  {
    id: 'gmv', title: 'live.gmv', metrics: ['gmv_vnd', 'gpm_vnd'],
    series: [{ label: 'live.gmv', stroke: '#8c1d17', fill: 'rgba(179,38,30,0.08)' }],
    values: (points) => [cumulative(points.map((p) => p.gmv_vnd))],
    current: (report) => formatMetric('gmv_vnd', report.metrics.gmv_vnd),
    format: (v) => formatMetric('gmv_vnd', v),
    axis: (v) => compact.format(v),
  },
];

export class SellerLiveReport {
  constructor({ roomId, token, model }) {
    Object.assign(this, { roomId, token, model });
    this.report = null;
    this.timer = null;
    this.loading = false;
    /** Tile id → `{root, value, chart}`. */
    this.tiles = new Map();
    this.status = $('#live-report-status');
    const href = `/report.html?room=${encodeURIComponent(roomId)}#token=${encodeURIComponent(token)}`;
    $('#report-link').href = href;
    $('#report-ended-link').href = href;
  }

  get url() {
    return `/api/rooms/${encodeURIComponent(this.roomId)}/report?bucket_secs=${BUCKET_SECS}`;
  }

  /**
   * Follow the room's status: poll while live, a last read and the link once
   * ended (`ended`: the connection was closed because the room ended).
   */
  follow({ ended = false } = {}) {
    const status = ended ? 'ended' : this.model.room?.status;
    $('#report-ended').hidden = status !== 'ended';
    $('#live-report').hidden = status === 'scheduled' && !this.report;
    if (status === 'live' && !this.timer) {
      this.load();
      this.timer = setInterval(() => this.load(), POLL_MS);
    } else if (status !== 'live' && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
      this.load();
    } else if (status === 'ended' && !this.report) {
      this.load();
    }
  }

  async load() {
    if (this.loading) return;
    this.loading = true;
    try {
      this.report = await fetchJson(this.url, { token: this.token });
      this.status.textContent = '';
      this.render();
    } catch (error) {
      this.status.textContent = t('live.loadError', { reason: errorText(error) });
    } finally {
      this.loading = false;
    }
  }

  /** Draw the tiles (once) and fill them from the last report. */
  render({ redraw = false } = {}) {
    const box = $('#live-charts');
    if (redraw) {
      for (const tile of this.tiles.values()) tile.chart?.destroy();
      this.tiles.clear();
      clear(box);
    }
    if (!this.report) return;
    $('#live-report').hidden = false;
    const points = this.report.series?.points || [];
    const bucket = Number(this.report.series?.bucket_secs) || BUCKET_SECS;
    const weakest = this.report.weakest?.[0]?.metric || null;
    const versus = this.report.weakest?.[0]?.baseline_kind === 'reference' ? 'live.weakestReference' : 'live.weakest';
    const times = points.map((p) => p.at);
    for (const def of TILES) {
      let tile = this.tiles.get(def.id);
      if (!tile) tile = this.tile(box, def);
      tile.value.textContent = def.current(this.report, points);
      tile.chart?.setData(times, def.values(points, bucket));
      const weak = weakest !== null && def.metrics.includes(weakest);
      tile.root.classList.toggle('is-weakest', weak);
      tile.weak.hidden = !weak;
      tile.weak.textContent = weak ? t(versus, { metric: metricLabel(weakest) }) : '';
    }
    const note = $('#live-weakest');
    const mapped = weakest !== null && TILES.some((d) => d.metrics.includes(weakest));
    note.hidden = weakest === null || mapped;
    note.textContent = weakest !== null && !mapped
      ? t(versus, { metric: `${metricLabel(weakest)} (${formatMetric(weakest, this.report.weakest[0].value)})` })
      : '';
  }

  tile(box, def) {
    const value = h('p', { class: 'live-value', 'data-testid': `live-value-${def.id}` });
    const weak = h('p', { class: 'live-weak', 'data-testid': 'live-weakest', hidden: true });
    const plot = h('div', { class: 'live-plot' });
    const root = h('section', { class: 'live-tile', 'data-testid': `live-tile-${def.id}`, 'aria-label': t(def.title) },
      h('h3', { class: 'live-tile-title', text: t(def.title) }), value, weak, plot);
    box.append(root);
    const chart = chartsAvailable()
      ? new TimeChart(plot, { series: def.series.map((s) => ({ ...s, label: t(s.label) })), format: def.format, axis: def.axis || def.format, height: 120 })
      : null;
    const tile = { root, value, weak, chart };
    this.tiles.set(def.id, tile);
    return tile;
  }
}
