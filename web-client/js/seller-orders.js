// The seller's orders: the table (GET /api/rooms/{id}/orders, filtered by
// status and a search) with what each order holds (a flash-sale order's
// product, or a bag order's every line), each order's next steps (paid, packed, shipped with
// a carrier and tracking code, delivered, cancelled), the same steps for the
// checked orders at once (POST …/orders/status, with each order's result),
// and the CSV in the studio's language with the same filters.
//
// The table is drawn again whenever the server says an order moved or a
// purchase happened; what the seller is doing in it — the checked rows, the
// carrier and tracking code typed in a row, the focused control — survives.

import { $, clear, h } from './dom.js';
import { errorText, getLang, t } from './i18n.js';
import { formatCount, formatDateTime, formatVnd } from './format.js';
import { fetchJson } from './protocol.js';
import { Notice } from './ui.js';
import { CARRIERS, carrierText, isBagOrder, orderCode, orderLines, statusBadge, statusText } from './order-card.js';

const SEARCH_DEBOUNCE_MS = 350;
/** Tracking codes the server accepts: 1–64 letters, digits and dashes. */
const TRACKING = /^[A-Za-z0-9-]{1,64}$/;

export class SellerOrders {
  constructor({ conn, roomId, token }) {
    Object.assign(this, { conn, roomId, token });
    this.box = $('#orders');
    this.statusFilter = $('#orders-status');
    this.search = $('#orders-search');
    this.selectedText = $('#orders-selected');
    this.bulkPacked = $('#orders-bulk-packed');
    this.bulkShip = $('#orders-bulk-ship');
    this.results = $('#orders-results');
    this.notice = new Notice($('#orders-notice'));
    /** The last answer for the current filters: `{orders, units_sold, revenue_vnd}`. */
    this.report = null;
    this.selected = new Set();
    /** order_id → {carrier, tracking}: what the seller typed for a shipment. */
    this.drafts = new Map();
    /** order_id → why its last change was refused. */
    this.rowErrors = new Map();
    /** The last bulk change: `{done, total, failures: [{code, reason}]}`. */
    this.lastBulk = null;
    this.refreshTimer = null;
    this.searchTimer = null;
    this.loads = 0;
    /** Told every room-wide total after a load (`{orders, units_sold, revenue_vnd}`): the phone studio's orders counter. */
    this.onTotals = null;

    $('#orders-refresh').addEventListener('click', () => this.load());
    $('#orders-csv').addEventListener('click', () => this.downloadCsv());
    $('#orders-filter').addEventListener('submit', (event) => {
      event.preventDefault();
      clearTimeout(this.searchTimer);
      this.load();
    });
    this.statusFilter.addEventListener('change', () => this.load());
    this.search.addEventListener('input', () => {
      clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => this.load(), SEARCH_DEBOUNCE_MS);
    });
    this.bulkPacked.addEventListener('click', () => this.bulk('packed'));
    this.bulkShip.addEventListener('click', () => this.bulk('shipped'));
    conn.on('order_status', () => this.schedule());
    this.renderBulkBar();
  }

  /** The table's filters as query parameters (`extra` first, e.g. the CSV's language). */
  query(extra = {}) {
    const params = new URLSearchParams(extra);
    if (this.statusFilter.value) params.set('status', this.statusFilter.value);
    // A code as printed (`CP 4C1D…`) searches for the order id inside it.
    const q = this.search.value.trim().replace(/^cp\s*(?=[0-9a-f]+$)/i, '');
    if (q) params.set('q', q);
    const text = params.toString();
    return text ? `?${text}` : '';
  }

  path(rest = '') {
    return `/api/rooms/${encodeURIComponent(this.roomId)}/orders${rest}`;
  }

  /**
   * Reload soon: purchases and status changes come in bursts. The first
   * event of a burst sets the time, so a steady stream still refreshes.
   */
  schedule(delayMs = 800) {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      this.load();
    }, delayMs);
  }

  async load() {
    const n = ++this.loads;
    const filtered = this.query();
    try {
      // The stats count every order, whatever the table shows.
      const [report, all] = await Promise.all([
        fetchJson(this.path(filtered), { token: this.token }),
        filtered ? fetchJson(this.path(), { token: this.token }) : null,
      ]);
      if (n !== this.loads) return; // a newer load is on its way
      this.report = report;
      const totals = all || report;
      $('[data-testid=stat-units]').textContent = formatCount(totals.units_sold);
      $('[data-testid=stat-revenue]').textContent = formatVnd(totals.revenue_vnd);
      this.onTotals?.(totals);
    } catch (error) {
      if (n !== this.loads) return;
      this.report = null;
      clear(this.box).append(h('p', { class: 'muted', 'data-testid': 'orders-error', text: t('seller.ordersError', { code: error.code }) }));
      return;
    }
    this.render();
  }

  /** Replace orders in the table with newer versions (from a change's answer). */
  merge(orders) {
    if (!this.report) return;
    const fresh = new Map(orders.map((o) => [o.order_id, o]));
    this.report.orders = this.report.orders.map((o) => fresh.get(o.order_id) || o);
  }

  visible() {
    return this.report ? [...this.report.orders].sort((a, b) => b.created_at - a.created_at) : [];
  }

  render() {
    const focused = this.box.contains(document.activeElement) ? document.activeElement : null;
    const focus = focused?.id ? { id: focused.id, start: focused.selectionStart, end: focused.selectionEnd } : null;
    clear(this.box);
    const orders = this.visible();
    const shown = new Set(orders.map((o) => o.order_id));
    for (const id of this.selected) if (!shown.has(id)) this.selected.delete(id);
    this.renderBulkBar();
    if (!this.report) return;
    if (orders.length === 0) {
      const filtered = this.query() !== '';
      this.box.append(h('p', { class: 'muted', 'data-testid': 'orders-empty', text: t(filtered ? 'orders.noMatch' : 'seller.ordersEmpty') }));
      return;
    }
    const all = orders.every((o) => this.selected.has(o.order_id));
    const selectAll = h('input', {
      type: 'checkbox', id: 'orders-select-all', 'data-testid': 'orders-select-all', checked: all,
      'aria-label': t('orders.selectAll'),
      onchange: (event) => {
        for (const o of orders) {
          if (event.target.checked) this.selected.add(o.order_id);
          else this.selected.delete(o.order_id);
        }
        this.render();
      },
    });
    const th = (key, cls) => h('th', { scope: 'col', class: cls, text: t(key) });
    this.box.append(h('table', { class: 'orders-table', 'data-testid': 'orders-table' },
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col', class: 'col-select' }, h('label', { class: 'check-hit' }, selectAll)),
        th('orders.colCode'), th('orders.colBuyer'), th('orders.colProducts'), th('orders.colQuantity', 'num'), th('orders.colTotal', 'num'),
        th('orders.colPayment'), th('orders.colStatus'), th('orders.colActions'))),
      h('tbody', {}, orders.map((o) => this.row(o)))));
    if (focus) {
      const again = document.getElementById(focus.id);
      if (again && this.box.contains(again)) {
        again.focus();
        if (typeof focus.start === 'number' && typeof again.setSelectionRange === 'function') {
          try { again.setSelectionRange(focus.start, focus.end); } catch { /* not a text field */ }
        }
      }
    }
  }

  renderBulkBar() {
    const n = this.selected.size;
    this.selectedText.textContent = t('orders.selected', { n });
    this.bulkPacked.disabled = n === 0;
    this.bulkShip.disabled = n === 0;
    clear(this.results);
    this.results.hidden = !this.lastBulk;
    if (!this.lastBulk) return;
    const { done, total, failures } = this.lastBulk;
    this.results.dataset.kind = failures.length > 0 ? 'error' : 'ok';
    this.results.append(h('p', { 'data-testid': 'bulk-summary', text: t('orders.bulkDone', { ok: done, total }) }));
    if (failures.length > 0) {
      this.results.append(h('ul', { class: 'bulk-failures' },
        failures.map((f) => h('li', { 'data-testid': 'bulk-failure', text: t('orders.bulkFailed', f) }))));
    }
  }

  row(o) {
    const code = orderCode(o);
    const lang = getLang();
    const select = h('input', {
      type: 'checkbox', id: `order-select-${o.order_id}`, 'data-testid': 'order-select',
      checked: this.selected.has(o.order_id), 'aria-label': t('orders.select', { code }),
      onchange: (event) => {
        if (event.target.checked) this.selected.add(o.order_id);
        else this.selected.delete(o.order_id);
        this.render();
      },
    });
    const error = this.rowErrors.get(o.order_id);
    return h('tr', {
      'data-testid': 'order-row', 'data-order-id': o.order_id, 'data-status': o.status,
      class: this.selected.has(o.order_id) ? 'is-selected' : null,
    },
    h('td', { class: 'col-select' }, h('label', { class: 'check-hit' }, select)),
    h('td', { class: 'col-code' },
      h('strong', { class: 'order-code', 'data-testid': 'order-code', text: code }), h('br'),
      h('time', { class: 'small muted', datetime: new Date(o.created_at).toISOString(), text: formatDateTime(o.created_at, lang) })),
    h('td', { class: 'col-buyer' },
      h('strong', { 'data-testid': 'order-buyer', text: o.buyer_name }), h('br'),
      h('span', { class: 'small', text: `${o.shipping.name} · ${o.shipping.phone}` }), h('br'),
      h('span', { class: 'small muted', text: o.shipping.address })),
    h('td', { class: 'col-products' }, this.products(o)),
    h('td', { class: 'num col-qty', 'data-label': t('orders.colQuantity'), text: formatCount(o.quantity) }),
    h('td', { class: 'num col-total', 'data-label': t('orders.colTotal'), text: formatVnd(o.total_vnd) }),
    h('td', { class: 'col-payment', 'data-label': t('orders.colPayment'), 'data-testid': 'order-payment', text: t(`paymentShort.${o.payment || 'cod'}`) }),
    h('td', { class: 'col-status' },
      statusBadge(o.status),
      o.shipment ? h('span', { class: 'small shipment', 'data-testid': 'order-shipment', text: `${carrierText(o.shipment.carrier)} · ${o.shipment.tracking_code}` }) : null),
    h('td', { class: 'col-actions' },
      h('div', { class: 'order-actions' }, this.actions(o, code)),
      error ? h('p', { class: 'row-error', 'data-testid': 'order-error', text: error }) : null));
  }

  /**
   * What the order holds, one line per product: `Chè Tân Cương × 2` (a bag
   * order's `unit_price_vnd` is 0 when it has several lines, so each line
   * says its own price).
   */
  products(o) {
    const bag = isBagOrder(o);
    return h('ul', { class: 'order-products', 'data-testid': 'order-products', 'data-bag': String(bag) },
      orderLines(o).map((line) => h('li', { 'data-testid': 'order-line', 'data-product-id': line.product_id },
        h('span', { class: 'order-line-name', text: `${line.product_name} × ${formatCount(line.quantity)}` }),
        bag ? h('span', { class: 'small muted', text: ` · ${formatVnd(line.unit_price_vnd)}` }) : null)));
  }

  /** The steps the server allows from this order's status (docs/protocol.md, "Orders after checkout"). */
  actions(o, code) {
    const button = (step, onclick, cls = '') => h('button', {
      type: 'button', id: `order-${step}-${o.order_id}`, class: `btn btn-small ${cls}`.trim(),
      'data-testid': `order-${step}`, 'aria-label': t(`orders.${step}Label`, { code }), onclick,
    }, t(`orders.${step}`));
    const simple = (step) => button(step, () => this.changeOne(o, { status: step }));
    const cancel = button('cancel', () => {
      if (window.confirm(t(isBagOrder(o) ? 'orders.cancelConfirmBag' : 'orders.cancelConfirm', { code }))) this.changeOne(o, { status: 'cancelled' });
    }, 'btn-danger');
    switch (o.status) {
      case 'confirmed':
        return [o.payment === 'bank_transfer' ? simple('paid') : simple('packed'), cancel];
      case 'paid':
        return [simple('packed'), cancel];
      case 'packed':
        return [this.shipFields(o, code), button('ship', () => this.ship(o), 'btn-primary'), cancel];
      case 'shipped':
        return [simple('delivered')];
      default:
        return [];
    }
  }

  draft(orderId) {
    if (!this.drafts.has(orderId)) this.drafts.set(orderId, { carrier: 'ghn', tracking: '' });
    return this.drafts.get(orderId);
  }

  /** The carrier and tracking code of a packed order, kept while the table redraws. */
  shipFields(o, code) {
    const draft = this.draft(o.order_id);
    const carrier = h('select', {
      id: `ship-carrier-${o.order_id}`, 'data-testid': 'order-carrier', 'aria-label': t('orders.carrierLabel', { code }),
      onchange: (event) => { draft.carrier = event.target.value; },
    }, CARRIERS.map((c) => h('option', { value: c, selected: c === draft.carrier }, carrierText(c))));
    const tracking = h('input', {
      id: `ship-tracking-${o.order_id}`, 'data-testid': 'order-tracking', type: 'text', value: draft.tracking,
      maxlength: 64, autocomplete: 'off', spellcheck: 'false', autocapitalize: 'characters',
      placeholder: t('orders.tracking'), 'aria-label': t('orders.trackingLabel', { code }),
      oninput: (event) => { draft.tracking = event.target.value; },
      onkeydown: (event) => {
        if (event.key === 'Enter') {
          event.preventDefault();
          this.ship(o);
        }
      },
    });
    return h('span', { class: 'ship-fields' }, carrier, tracking);
  }

  /** The shipment typed for `o`, or why it cannot be sent. */
  shipment(o) {
    if (o.status !== 'packed') return { error: t('orders.notPacked') };
    const draft = this.draft(o.order_id);
    const tracking = draft.tracking.trim();
    if (!TRACKING.test(tracking)) return { error: t('orders.trackingMissing') };
    return { change: { status: 'shipped', carrier: draft.carrier, tracking_code: tracking } };
  }

  ship(o) {
    const { change, error } = this.shipment(o);
    if (error) {
      this.rowErrors.set(o.order_id, error);
      this.render();
      document.getElementById(`ship-tracking-${o.order_id}`)?.focus();
      return;
    }
    this.changeOne(o, change);
  }

  async changeOne(o, change) {
    const code = orderCode(o);
    this.rowErrors.delete(o.order_id);
    try {
      const reply = await fetchJson(this.path(`/${encodeURIComponent(o.order_id)}/status`), { token: this.token, method: 'POST', body: change });
      this.merge([reply.order]);
      if (reply.order.status === 'shipped') this.drafts.delete(o.order_id);
      this.notice.show(t('orders.changed', { code, status: statusText(reply.order.status) }), 'ok', 4000);
    } catch (error) {
      this.rowErrors.set(o.order_id, errorText(error));
      this.notice.show(`${code}: ${errorText(error)}`, 'error');
    }
    this.render();
    this.schedule();
  }

  /** `packed` or `shipped` for every checked order; each order's result is shown. */
  async bulk(status) {
    const orders = this.visible().filter((o) => this.selected.has(o.order_id));
    if (orders.length === 0) return;
    const failures = [];
    const changes = [];
    for (const o of orders) {
      this.rowErrors.delete(o.order_id);
      if (status === 'shipped') {
        const { change, error } = this.shipment(o);
        if (error) {
          failures.push({ id: o.order_id, code: orderCode(o), reason: error });
          continue;
        }
        changes.push({ order_id: o.order_id, ...change });
      } else {
        changes.push({ order_id: o.order_id, status });
      }
    }
    this.bulkPacked.disabled = true;
    this.bulkShip.disabled = true;
    let done = 0;
    if (changes.length > 0) {
      try {
        const results = await fetchJson(this.path('/status'), { token: this.token, method: 'POST', body: { changes } });
        this.merge(results.filter((r) => r.order).map((r) => r.order));
        for (const r of results) {
          const o = orders.find((x) => x.order_id === r.order_id);
          if (r.order) {
            done += 1;
            this.selected.delete(r.order_id);
            if (status === 'shipped') this.drafts.delete(r.order_id);
          } else {
            failures.push({ id: r.order_id, code: o ? orderCode(o) : r.order_id, reason: errorText(r.error) });
          }
        }
      } catch (error) {
        for (const c of changes) {
          const o = orders.find((x) => x.order_id === c.order_id);
          failures.push({ id: c.order_id, code: orderCode(o), reason: errorText(error) });
        }
      }
    }
    for (const f of failures) this.rowErrors.set(f.id, f.reason);
    this.lastBulk = { done, total: orders.length, failures: failures.map(({ code, reason }) => ({ code, reason })) };
    this.render();
    this.schedule();
  }

  async downloadCsv() {
    const english = getLang() === 'en';
    try {
      const response = await fetch(this.path(`.csv${this.query(english ? { lang: 'en' } : {})}`), {
        headers: { Authorization: `Bearer ${this.token}` },
      });
      if (!response.ok) throw Object.assign(new Error(response.statusText), { code: `http_${response.status}` });
      const blob = await response.blob();
      const url = URL.createObjectURL(blob);
      const link = h('a', { href: url, download: `${english ? 'orders' : 'don-hang'}-${this.roomId}.csv` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (error) {
      this.notice.show(t('seller.ordersError', { code: error.code || error.message }), 'error');
    }
  }
}
