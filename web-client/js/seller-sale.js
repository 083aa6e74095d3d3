// The seller's flash sales and orders: start/end a sale, watch its stock
// and countdown, list the orders (GET /api/rooms/{id}/orders) and save them
// as CSV (fetched with the seller's token, saved as a blob).

import { $, clear, h } from './dom.js';
import { errorText, getLang, t } from './i18n.js';
import { formatCount, formatCountdown, formatDateTime, formatVnd } from './format.js';
import { fetchJson } from './protocol.js';
import { Notice } from './ui.js';

export class SellerSales {
  constructor({ conn, model, roomId, token }) {
    Object.assign(this, { conn, model, roomId, token });
    this.notice = new Notice($('#sale-notice'));
    this.summary = $('#sale-summary');
    this.productSelect = $('#sale-product');
    this.countdown = null;
    this.orders = null;
    this.refreshTimer = null;

    this.productSelect.addEventListener('change', () => this.prefillPrice());
    $('#sale-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.start();
    });
    $('#orders-refresh').addEventListener('click', () => this.loadOrders());
    $('#orders-csv').addEventListener('click', () => this.downloadCsv());
    setInterval(() => this.countdown?.(), 500);
  }

  renderProducts() {
    const chosen = this.productSelect.value;
    clear(this.productSelect);
    for (const p of this.model.products) {
      this.productSelect.append(h('option', { value: p.id }, `${p.name} — ${formatVnd(p.price_vnd)}`));
    }
    if ([...this.productSelect.options].some((o) => o.value === chosen)) this.productSelect.value = chosen;
    else this.prefillPrice();
  }

  /** Suggest a sale price 20% under the list price, rounded to 1.000 ₫. */
  prefillPrice() {
    const product = this.model.products.find((p) => p.id === this.productSelect.value);
    if (product) $('#sale-price').value = String(Math.max(1000, Math.round((product.price_vnd * 0.8) / 1000) * 1000));
  }

  async start() {
    const number = (id) => Number($(id).value);
    const message = {
      type: 'start_sale',
      product_id: this.productSelect.value,
      stock: number('#sale-stock'),
      price_vnd: number('#sale-price'),
      per_buyer_limit: number('#sale-limit'),
      starts_in_secs: number('#sale-starts'),
      duration_secs: number('#sale-duration'),
    };
    try {
      await this.conn.request(message);
      this.notice.show(t('seller.saleStarted'), 'ok');
    } catch (error) {
      this.notice.show(errorText(error), 'error');
    }
  }

  async end(saleId) {
    try {
      await this.conn.request({ type: 'end_sale', sale_id: saleId });
    } catch (error) {
      this.notice.show(errorText(error), 'error');
    }
  }

  renderSale() {
    const sale = this.model.sale;
    clear(this.summary);
    this.countdown = null;
    if (!sale) {
      this.summary.append(h('p', { class: 'muted', text: t('seller.saleNone') }));
      return;
    }
    const timer = h('span', { 'data-testid': 'seller-sale-countdown' });
    this.countdown = () => {
      const now = Date.now();
      if (sale.state === 'scheduled') timer.textContent = t('sale.startsIn', { time: formatCountdown(sale.starts_at - now) });
      else if (sale.state === 'live') timer.textContent = t('sale.endsIn', { time: formatCountdown(sale.ends_at - now) });
      else timer.textContent = t(sale.state === 'sold_out' ? 'sale.soldOut' : 'sale.ended');
    };
    this.countdown();
    const active = sale.state === 'scheduled' || sale.state === 'live';
    this.summary.append(h('div', { class: 'sale-summary', 'data-state': sale.state },
      h('p', {}, h('strong', { text: sale.product_name }), ' — ', h('span', { class: 'price', text: formatVnd(sale.price_vnd) })),
      h('p', { 'data-testid': 'seller-sale-remaining', text: t('sale.remaining', { remaining: formatCount(sale.remaining), total: formatCount(sale.stock_total) }) }),
      h('p', {}, timer),
      active ? h('button', { type: 'button', class: 'btn btn-danger btn-small', 'data-testid': 'sale-end', onclick: () => this.end(sale.id) }, t('seller.saleEnd')) : null));
  }

  /** Reload orders soon (purchases arrive in bursts during a sale). */
  scheduleOrders(delayMs = 800) {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => this.loadOrders(), delayMs);
  }

  async loadOrders() {
    const box = $('#orders');
    try {
      this.orders = await fetchJson(`/api/rooms/${encodeURIComponent(this.roomId)}/orders`, { token: this.token });
    } catch (error) {
      clear(box).append(h('p', { class: 'muted', 'data-testid': 'orders-error', text: t('seller.ordersError', { code: error.code }) }));
      return;
    }
    $('[data-testid=stat-units]').textContent = formatCount(this.orders.units_sold);
    $('[data-testid=stat-revenue]').textContent = formatVnd(this.orders.revenue_vnd);
    this.renderOrders();
  }

  renderOrders() {
    const box = $('#orders');
    clear(box);
    if (!this.orders) return;
    const orders = [...this.orders.orders].sort((a, b) => b.created_at - a.created_at);
    if (orders.length === 0) {
      box.append(h('p', { class: 'muted', text: t('seller.ordersEmpty') }));
      return;
    }
    const lang = getLang();
    box.append(h('table', { class: 'orders-table', 'data-testid': 'orders-table' },
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col', text: '#' }),
        h('th', { scope: 'col', text: t('checkout.name') }),
        h('th', { scope: 'col', class: 'num', text: t('sale.quantity') }),
        h('th', { scope: 'col', class: 'num', text: t('stats.revenue') }))),
      h('tbody', {}, orders.map((o) => h('tr', { 'data-testid': 'order-row' },
        h('td', {}, h('span', { class: 'small muted', text: formatDateTime(o.created_at, lang) })),
        h('td', {}, h('strong', { 'data-testid': 'order-buyer', text: o.buyer_name }), h('br'),
          h('span', { class: 'small', text: `${o.shipping.name} · ${o.shipping.phone}` }), h('br'),
          h('span', { class: 'small muted', text: o.shipping.address })),
        h('td', { class: 'num', text: formatCount(o.quantity) }),
        h('td', { class: 'num', text: formatVnd(o.total_vnd) }))))));
  }

  async downloadCsv() {
    try {
      const response = await fetch(`/api/rooms/${encodeURIComponent(this.roomId)}/orders.csv`, {
        headers: { Authorization: `Bearer ${this.token}` },
      });
      if (!response.ok) throw Object.assign(new Error(response.statusText), { code: `http_${response.status}` });
      const blob = await response.blob();
      const url = URL.createObjectURL(blob);
      const link = h('a', { href: url, download: `don-hang-${this.roomId}.csv` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (error) {
      this.notice.show(t('seller.ordersError', { code: error.code || error.message }), 'error');
    }
  }
}
