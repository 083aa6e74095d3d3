// The seller's flash sales: start/end a sale and watch its stock and
// countdown. Its orders are in seller-orders.js.
//
// The form speaks as sellers do: the price formats as typed ("199.000 ₫",
// money-input.js) and the duration is in minutes, like the presets'
// ("5 phút"); `start_sale` still takes seconds, converted here.

import { $, clear, h } from './dom.js';
import { errorText, t } from './i18n.js';
import { formatCount, formatCountdown, formatVnd } from './format.js';
import { Notice } from './ui.js';
import { attachMoneyInput, moneyValue, setMoney } from './money-input.js';

/** Seconds `start_sale` is given for `minutes` typed in the form. */
export function durationSecs(minutes) {
  return Math.round(Number(minutes) * 60);
}

export class SellerSales {
  constructor({ conn, model }) {
    Object.assign(this, { conn, model });
    this.notice = new Notice($('#sale-notice'));
    this.summary = $('#sale-summary');
    this.productSelect = $('#sale-product');
    this.countdown = null;
    attachMoneyInput($('#sale-price'));

    this.productSelect.addEventListener('change', () => this.prefillPrice());
    $('#sale-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.start();
    });
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
    if (product) setMoney($('#sale-price'), Math.max(1000, Math.round((product.price_vnd * 0.8) / 1000) * 1000));
  }

  async start() {
    const number = (id) => Number($(id).value);
    const message = {
      type: 'start_sale',
      product_id: this.productSelect.value,
      stock: number('#sale-stock'),
      price_vnd: moneyValue($('#sale-price')) || 0,
      per_buyer_limit: number('#sale-limit'),
      starts_in_secs: number('#sale-starts'),
      duration_secs: durationSecs($('#sale-duration').value),
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
}
