// Small time charts over uPlot (web-client/vendor/, loaded by the page as a
// classic script that defines `window.uPlot`); the only module that touches
// it. A chart fills its container's width (and follows it), plots series of
// Unix-millisecond times, and can draw a session's events as labelled
// vertical markers. uPlot sizes things through CSSOM only, which the
// Content-Security-Policy allows.

import { getLang, t } from './i18n.js';

/** Local clock time of `seconds` (uPlot's unit), with seconds when ticks are that close. */
function clock(seconds, withSeconds) {
  return new Date(seconds * 1000).toLocaleTimeString(getLang() === 'en' ? 'en-GB' : 'vi-VN', {
    hour: '2-digit', minute: '2-digit', ...(withSeconds ? { second: '2-digit' } : {}),
  });
}

/** Marker colour per report event kind (docs/metrics.md `events`). */
const EVENT_COLOURS = {
  live: '#2f6b3b', ended: '#444444', stream_on: '#2f6b3b', stream_off: '#8a8379',
  pin: '#1a56db', unpin: '#8fa9e6', sale_started: '#b3261e', sale_ended: '#e08a84',
  voucher: '#b8860b', moderation: '#6b3fa0',
};

/** Whether the chart library loaded (a page still shows its numbers without it). */
export function chartsAvailable() {
  return typeof window.uPlot === 'function';
}

/** Draw `events()` (`[{at, kind, label}]`) as vertical lines with their label. */
function eventMarkers(events) {
  return {
    hooks: {
      draw: [(u) => {
        const list = events();
        if (!list?.length) return;
        const { ctx } = u;
        const { left, top, width, height } = u.bbox;
        const ratio = window.devicePixelRatio || 1;
        ctx.save();
        ctx.font = `${Math.round(10 * ratio)}px system-ui, sans-serif`;
        ctx.textBaseline = 'top';
        let lastLabelEnd = -Infinity;
        let row = 0;
        for (const event of list) {
          const x = Math.round(u.valToPos(event.at / 1000, 'x', true));
          if (!(x >= left && x <= left + width)) continue;
          ctx.strokeStyle = EVENT_COLOURS[event.kind] || '#5c574f';
          ctx.fillStyle = ctx.strokeStyle;
          ctx.lineWidth = ratio;
          ctx.setLineDash([4 * ratio, 3 * ratio]);
          ctx.beginPath();
          ctx.moveTo(x + 0.5, top);
          ctx.lineTo(x + 0.5, top + height);
          ctx.stroke();
          const label = String(event.label || '').slice(0, 28);
          if (!label) continue;
          // Labels that would overlap the previous one go one row lower.
          row = x < lastLabelEnd ? (row + 1) % 3 : 0;
          const textX = Math.min(x + 3 * ratio, left + width - ctx.measureText(label).width);
          ctx.fillText(label, textX, top + 2 * ratio + row * 12 * ratio);
          lastLabelEnd = textX + ctx.measureText(label).width + 4 * ratio;
        }
        ctx.restore();
      }],
    },
  };
}

export class TimeChart {
  /**
   * @param {HTMLElement} container an empty element; the chart takes its width
   * @param {{series: {label: string, stroke: string, fill?: string}[],
   *   format: (v: number) => string, axis?: (v: number) => string, height?: number}} options
   * `format` writes a value in the legend, `axis` on the y axis (default `format`).
   */
  constructor(container, { series, format, axis = format, height = 150 }) {
    this.container = container;
    this.events = [];
    this.data = [[], ...series.map(() => [])];
    const width = Math.max(200, container.clientWidth || 300);
    this.plot = new window.uPlot({
      width,
      height,
      scales: { x: { time: true } },
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      series: [
        { label: t('chart.time'), value: (u, v) => (v === null || v === undefined ? '—' : clock(v, true)) },
        ...series.map((s) => ({
          label: s.label,
          stroke: s.stroke,
          fill: s.fill,
          width: 2,
          spanGaps: true,
          points: { size: 5 },
          value: (u, v) => (v === null || v === undefined ? '—' : format(v)),
        })),
      ],
      axes: [
        {
          stroke: '#5c574f', grid: { stroke: '#eee8de' }, ticks: { stroke: '#e2dbcf' },
          // 24-hour local clock, as the rest of the pages write times.
          values: (u, splits, axis, space, increment) => splits.map((v) => clock(v, increment < 60)),
        },
        { stroke: '#5c574f', grid: { stroke: '#eee8de' }, ticks: { stroke: '#e2dbcf' }, size: 56, values: (u, values) => values.map((v) => axis(v)) },
      ],
      plugins: [eventMarkers(() => this.events)],
    }, this.data, container);
    this.resize = new ResizeObserver(() => {
      const w = Math.max(200, container.clientWidth);
      if (w !== this.plot.width) this.plot.setSize({ width: w, height });
    });
    this.resize.observe(container);
  }

  /** `times` in Unix ms; `values[i]` is series i, one value (or null) per time. */
  setData(times, values) {
    this.data = [times.map((at) => at / 1000), ...values];
    this.plot.setData(this.data);
  }

  /** Vertical markers: `[{at (ms), kind, label}]`. */
  setEvents(events) {
    this.events = events || [];
    this.plot.redraw(false, false);
  }

  destroy() {
    this.resize.disconnect();
    this.plot.destroy();
  }
}
