// The viewer's flash-sale card: the sale with its countdown and remaining
// stock, then — after "buy" — the hold with its own countdown and the
// checkout form (shipping and payment, checkout-form.js), then her order,
// which follows the seller's steps live (order-card.js draws it and keeps it
// current). Her bag's holds and orders are not this card's (bag-panel.js).
//
// The server decides everything (stock, limits, holds); this card only asks
// and shows the answer. A `buy` keeps its idempotency key until the server
// has answered definitely, so a retry after a dropped connection, a `busy`
// or an `unavailable` cannot buy twice.

import { clear, h, randomId } from './dom.js';
import { errorText, t } from './i18n.js';
import { formatCountdown, formatCount, formatVnd } from './format.js';
import { BAG_SALE_ID, MyOrders, orderCard, orderCode, roomCodeLoader, statusText } from './order-card.js';
import { checkoutForm } from './checkout-form.js';

const OUTCOME_TEXT = {
  sold_out: 'sale.soldOut',
  limit_reached: 'sale.limitReached',
  not_started: 'sale.notStarted',
  ended: 'sale.ended',
  unavailable: 'sale.unavailable',
};

/** The server's `retry_after_ms` (100 ms to 1.25 s), jittered so buyers told to
 * wait together do not all come back at once. */
function retryDelay(ms) {
  const base = Math.min(Math.max(Number(ms) || 500, 100), 5000);
  return base * (1 + Math.random() * 0.25);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class SaleCard {
  /**
   * @param {{panel: HTMLElement, body: HTMLElement, status: HTMLElement,
   *          proof: HTMLElement, conn: import('./protocol.js').RoomConnection,
   *          displayName: () => string}} parts
   */
  constructor({ panel, body, status, proof, conn, displayName, regularPrice = () => null, claimedVoucher = () => null, myOrders = null }) {
    Object.assign(this, { panel, body, status, proof, conn, displayName, regularPrice, claimedVoucher });
    this.sale = null;
    /** 'sale' | 'hold' | 'order' */
    this.view = 'sale';
    this.hold = null;
    this.order = null;
    this.busy = false;
    /** The idempotency key of a buy not yet answered (reused on retry). */
    this.pendingKey = null;
    this.countdowns = [];
    this.buyButton = null;

    conn.on('buy_result', (m) => this.onBuyResult(m));
    conn.on('my_holds', (m) => this.restoreHold(m.holds));
    // Registered before the handlers below (by the page, or here): it has
    // the orders before the card looks at them.
    this.myOrders = myOrders || new MyOrders(conn);
    this.myOrders.listen((order, live) => this.orderChanged(order, live));
    conn.on('my_orders', (m) => this.restoreOrder(m.orders));
    // Her bag's orders and lines are the bag's (bag-panel.js), not this card's.
    conn.on('order_confirmed', (m) => { if (m.order?.sale_id !== BAG_SALE_ID) this.onOrder(m.order); });
    conn.on('hold_cancelled', (m) => { if (this.hold && m.hold_id === this.hold.hold_id) this.backToSale(); });
    setInterval(() => this.tick(), 250);
  }

  setSale(sale) {
    const changedSale = !this.sale || !sale || this.sale.id !== sale.id;
    this.sale = sale;
    if (changedSale && this.view !== 'order') {
      this.view = 'sale';
      this.hold = null;
    }
    if (this.view === 'sale' || !sale) this.render();
  }

  showPurchase(purchase) {
    this.proof.textContent = t('sale.purchase', { name: purchase.name, n: purchase.quantity });
  }

  setStatus(text, kind = 'info') {
    this.status.textContent = text;
    this.status.dataset.kind = kind;
  }

  render() {
    this.countdowns = [];
    this.buyButton = null;
    clear(this.body);
    this.panel.hidden = !this.sale && this.view !== 'order';
    if (this.view === 'order' && this.order) return this.renderOrder();
    if (!this.sale) return;
    if (this.view === 'hold' && this.hold) return this.renderHold();
    this.renderSale();
  }

  renderSale() {
    const sale = this.sale;
    // Units that went back to the product when the sale ended were not sold.
    const sold = Math.max(0, sale.stock_total - sale.remaining - (sale.returned_to_stock || 0));
    const percent = sale.stock_total > 0 ? Math.round((sold / sale.stock_total) * 100) : 100;
    const countdown = h('p', { class: 'sale-countdown', 'data-testid': 'sale-countdown' });
    this.countdowns.push(() => {
      const now = Date.now();
      if (sale.state === 'scheduled') countdown.textContent = t('sale.startsIn', { time: formatCountdown(sale.starts_at - now) });
      else if (sale.state === 'live') countdown.textContent = t('sale.endsIn', { time: formatCountdown(sale.ends_at - now) });
      else if (sale.state === 'sold_out') countdown.textContent = t('sale.soldOut');
      else countdown.textContent = t('sale.ended');
    });
    const quantity = h('select', { id: 'sale-quantity', 'data-testid': 'sale-quantity' });
    const most = Math.max(1, Math.min(sale.per_buyer_limit || 1, sale.remaining || 1, 10));
    for (let n = 1; n <= most; n += 1) quantity.append(h('option', { value: n }, String(n)));
    this.buyButton = h('button', {
      type: 'button', class: 'btn btn-buy btn-block', 'data-testid': 'buy-button',
      onclick: () => this.buy(Number(quantity.value) || 1),
    }, t('sale.buy'));
    this.body.append(
      h('div', { class: 'sale-head' },
        h('h3', { class: 'sale-product', 'data-testid': 'sale-product', text: sale.product_name }),
        h('span', { class: 'sale-prices' },
          h('span', { class: 'price price-sale', 'data-testid': 'sale-price', text: formatVnd(sale.price_vnd) }),
          this.discount(sale))),
      countdown,
      h('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': sale.stock_total, 'aria-valuenow': sold,
        'aria-label': t('sale.remaining', { remaining: sale.remaining, total: sale.stock_total }) },
      h('span', { class: 'progress-bar', style: { width: `${percent}%` } })),
      h('p', { class: 'sale-remaining', 'data-testid': 'sale-remaining',
        text: t('sale.remaining', { remaining: formatCount(sale.remaining), total: formatCount(sale.stock_total) }) }),
      h('p', { class: 'muted small', text: t('sale.limit', { n: sale.per_buyer_limit }) }),
      h('div', { class: 'buy-row' },
        h('label', { for: 'sale-quantity', text: t('sale.quantity') }), quantity, this.buyButton),
    );
    this.tick();
  }

  /**
   * The catalog price crossed out and the discount in % (rounded down, so
   * the card never promises more than the sale gives), when the sale is
   * below the product's regular price.
   */
  discount(sale) {
    const regular = this.regularPrice(sale.product_id);
    if (!regular || regular <= sale.price_vnd) return null;
    const percent = Math.floor(((regular - sale.price_vnd) / regular) * 100);
    return h('span', { class: 'sale-discount' },
      h('s', { class: 'price-regular', 'data-testid': 'sale-regular-price', 'aria-label': t('sale.regularPrice', { price: formatVnd(regular) }), text: formatVnd(regular) }),
      percent > 0 ? h('span', { class: 'discount-badge', 'data-testid': 'sale-discount', text: `-${percent}%` }) : null);
  }

  buyable() {
    return !this.busy && this.sale?.remaining !== 0 && this.open();
  }

  tick() {
    for (const update of this.countdowns) update();
    if (this.buyButton) this.buyButton.disabled = !this.buyable();
  }

  async buy(quantity) {
    if (!this.sale) return;
    const saleId = this.sale.id;
    this.busy = true;
    this.tick();
    this.setStatus(t('sale.buying'));
    this.pendingKey = this.pendingKey || randomId();
    try {
      // `busy`: the server's queue for this sale was full and nothing was
      // reserved; wait as it says and ask again with the same key, for as
      // long as the sale is open and the buyer is still on it.
      for (;;) {
        const result = await this.conn.request({ type: 'buy', sale_id: saleId, quantity, idempotency_key: this.pendingKey });
        if (result.outcome !== 'busy') break;
        this.setStatus(t('sale.crowded'));
        await sleep(retryDelay(result.retry_after_ms));
        if (this.view !== 'sale' || this.sale?.id !== saleId || !this.open()) break;
        this.setStatus(t('sale.buying'));
      }
    } catch (error) {
      if (error.code !== 'disconnected' && error.code !== 'timeout' && error.code !== 'not_connected') this.pendingKey = null;
      this.setStatus(errorText(error), 'error');
    } finally {
      this.busy = false;
      this.tick();
    }
  }

  /** The sale takes buys now (the server still decides). */
  open() {
    const sale = this.sale;
    return !!sale && (sale.state === 'live' || (sale.state === 'scheduled' && Date.now() >= sale.starts_at));
  }

  /**
   * After (re)joining the server lists this viewer's open holds: a reloaded
   * page shows its hold card and the same countdown again.
   */
  restoreHold(holds) {
    if (this.view !== 'sale' || !this.sale) return;
    // Bag holds (`sale_id: "bag"`) are in the list too: only this sale's count here.
    const hold = (holds || []).find((h) => h.sale_id !== BAG_SALE_ID && h.sale_id === this.sale.id && h.expires_at > Date.now());
    if (!hold) return;
    this.hold = hold;
    this.view = 'hold';
    this.setStatus(t('hold.title'), 'ok');
    this.render();
  }

  /** After (re)joining: this viewer's latest order in the current sale, if no hold is shown. */
  restoreOrder(orders) {
    if (this.view !== 'sale' || !this.sale) return;
    const mine = (orders || []).filter((o) => o.sale_id === this.sale.id);
    if (mine.length > 0) this.onOrder(mine[mine.length - 1], false);
  }

  onBuyResult(result) {
    // `busy` is handled by the buy loop; `unavailable` left the outcome
    // unknown, so the next tap must reuse the key (never buying twice).
    if (result.outcome === 'busy') return;
    if (result.outcome !== 'unavailable') this.pendingKey = null;
    if (result.hold && (result.outcome === 'reserved' || result.outcome === 'duplicate')) {
      this.hold = result.hold;
      this.view = 'hold';
      this.setStatus(t('hold.title'), 'ok');
      this.render();
      this.body.querySelector('#checkout-name')?.focus();
      return;
    }
    this.setStatus(t(OUTCOME_TEXT[result.outcome] || 'error.generic', { code: result.outcome }), 'error');
  }

  renderHold() {
    const hold = this.hold;
    const price = this.sale && this.sale.id === hold.sale_id ? this.sale.price_vnd : 0;
    const left = h('strong', { 'data-testid': 'hold-countdown' });
    this.countdowns.push(() => {
      const ms = hold.expires_at - Date.now();
      left.textContent = formatCountdown(ms);
      if (ms <= 0 && this.view === 'hold') {
        this.backToSale();
        this.setStatus(t('hold.expired'), 'error');
      }
    });
    const checkout = checkoutForm({
      prefix: 'checkout',
      initial: { name: this.displayName(), voucher: this.claimedVoucher() || '' },
      onInvalid: () => this.setStatus(t('checkout.invalid'), 'error'),
      onSubmit: ({ shipping, payment, voucherCode }, submit) => this.confirm(shipping, payment, voucherCode, submit),
    });
    this.body.append(
      h('div', { class: 'hold', 'data-testid': 'hold' },
        h('h3', { text: t('hold.title') }),
        h('p', { 'data-testid': 'hold-summary', text: `${this.sale?.product_name || ''} — ${t('hold.summary', { n: hold.quantity, price: formatVnd(price) })}` }),
        h('p', { class: 'hold-timer' }, t('hold.expires', { time: '' }), left)),
      checkout.form,
      h('button', { type: 'button', class: 'btn btn-ghost btn-block', 'data-testid': 'hold-cancel', onclick: () => this.cancel() }, t('hold.cancel')));
    this.tick();
  }

  async confirm(shipping, payment, voucherCode, submit) {
    submit.disabled = true;
    try {
      const request = { type: 'confirm_hold', hold_id: this.hold.hold_id, shipping, payment };
      if (voucherCode) request.voucher_code = voucherCode;
      await this.conn.request(request);
    } catch (error) {
      this.setStatus(errorText(error), 'error');
      if (error.code === 'hold_expired' || error.code === 'hold_not_found') this.backToSale();
    } finally {
      submit.disabled = false;
    }
  }

  async cancel() {
    const hold = this.hold;
    this.backToSale();
    if (hold) this.conn.request({ type: 'cancel_hold', hold_id: hold.hold_id }).catch(() => {});
  }

  backToSale() {
    this.view = 'sale';
    this.hold = null;
    this.render();
  }

  /** Show `order` (just placed, or found again after a reload). */
  onOrder(order, justPlaced = true) {
    this.order = this.myOrders.get(order.order_id) || order;
    this.view = 'order';
    this.hold = null;
    if (justPlaced) this.setStatus(t('order.confirmed'), 'ok');
    this.render();
  }

  /** A newer version of one of her orders; redraw it if it is the one shown. */
  orderChanged(order, live) {
    if (this.order?.order_id !== order.order_id) return;
    const moved = this.order.status !== order.status;
    this.order = order;
    if (this.view === 'order') this.render();
    if (live && moved) {
      this.setStatus(t('order.statusNow', { code: orderCode(order), status: statusText(order.status) }), order.status === 'cancelled' ? 'info' : 'ok');
    }
  }

  async cancelOrder(order, button) {
    const code = orderCode(order);
    if (!window.confirm(t('order.cancelConfirm', { code }))) return;
    button.disabled = true;
    this.setStatus(t('order.cancelling'));
    try {
      await this.myOrders.cancel(order);
      this.setStatus(t('order.cancelled', { code }), 'ok');
    } catch (error) {
      this.setStatus(errorText(error), 'error');
      if (this.view === 'order') this.render();
    }
  }

  renderOrder() {
    const order = this.order;
    this.body.append(orderCard(order, {
      productName: this.sale && this.sale.id === order.sale_id ? this.sale.product_name : '',
      onCancel: this.myOrders.mayCancel(order) ? (o, button) => this.cancelOrder(o, button) : null,
      loadCode: roomCodeLoader({ roomId: this.conn.roomId, token: this.conn.token }),
      onClose: () => { this.order = null; this.backToSale(); },
    }));
  }
}
