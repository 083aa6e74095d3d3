/**
 * The bag on the viewer page: the bag button in the top bar (a badge
 * counts the units in it) and the sheet it opens (a modal <dialog>, a
 * bottom sheet on a phone): one line per bag hold — product, price of one,
 * quantity, its own countdown to the hold's deadline, a remove button —
 * the subtotal and the checkout form (checkout-form.js, as the flash-sale
 * card's). Checking out shows the order (order-card.js's card, with its
 * lines, the discount, the total and VietQR for a transfer); her earlier
 * bag orders are listed below, each kept current as the seller moves it.
 *
 * What is in the bag, and talking to the server about it, is bag.js's; this
 * module draws it and says what happened, by the error's code.
 */

import { $, clear, h } from './dom.js';
import { errorText, t } from './i18n.js';
import { formatCountdown, formatVnd } from './format.js';
import { checkoutForm } from './checkout-form.js';
import {
  cancelConfirmText, isBagOrder, orderCard, orderCode, orderLines, orderPageUrl, roomCodeLoader, statusBadge, statusText,
} from './order-card.js';

/** Errors whose meaning differs in the bag from the flash sale's. */
const BAG_ERRORS = {
  hold_not_found: 'bag.error.hold_not_found',
  hold_expired: 'bag.error.hold_expired',
  limit_reached: 'bag.error.limit_reached',
  invalid_state: 'bag.notLive',
};

export function bagErrorText(error) {
  const key = BAG_ERRORS[error?.code];
  return key ? t(key) : errorText(error);
}

/** A line under her countdown this long is shown as urgent. */
const URGENT_MS = 60_000;

export class BagPanel {
  /**
   * @param {{bag: import('./bag.js').Bag, myOrders: import('./order-card.js').MyOrders,
   *   conn: import('./protocol.js').RoomConnection, roomStatus: () => string,
   *   productName: (productId: string) => string, displayName: () => string,
   *   claimedVoucher: () => string|null}} parts
   */
  constructor({ bag, myOrders, conn, roomStatus, productName, displayName, claimedVoucher }) {
    Object.assign(this, { bag, myOrders, conn, roomStatus, productName, displayName, claimedVoucher });
    this.button = $('#bag-button');
    this.count = $('#bag-count');
    this.dialog = $('#bag-sheet');
    this.closedNote = $('#bag-closed');
    this.orderBox = $('#bag-order');
    this.content = $('#bag-content');
    this.empty = $('#bag-empty');
    this.list = $('#bag-lines');
    this.subtotalText = $('#bag-subtotal');
    this.checkoutBox = $('#bag-checkout');
    this.formBox = $('#bag-checkout-form');
    this.status = $('#bag-status');
    this.ordersBox = $('#bag-orders');
    this.orderList = $('#bag-order-list');
    /** 'bag' | 'order' (an order's card instead of the lines). */
    this.view = 'bag';
    this.order = null;
    /** The version of `order` whose card is drawn. */
    this.drawnOrder = null;
    /** The checkout form, kept while lines come and go (what she typed stays). */
    this.form = null;
    /** The claimed voucher code already put in the form (once per code). */
    this.voucherFilled = null;
    /** The orders listed (ids and statuses). */
    this.drawnOrders = null;
    /** The lines drawn (their hold ids), and each line's countdown element. */
    this.drawn = null;
    this.countdowns = new Map();

    this.button.hidden = false;
    this.button.addEventListener('click', () => this.open());
    $('#bag-close').addEventListener('click', () => this.dialog.close());
    // A tap on the backdrop (outside the sheet's inner box) closes it.
    this.dialog.addEventListener('click', (event) => { if (event.target === this.dialog) this.dialog.close(); });
    // What was said is for this look at the bag; an expiry while closed is kept (tick).
    // Opened again, the sheet shows the bag (an order shown stays in the list below).
    this.dialog.addEventListener('close', () => {
      this.setStatus('');
      this.view = 'bag';
      this.order = null;
      this.drawnOrder = null;
      this.render();
    });
    bag.onChange(() => this.render());
    myOrders.listen((order, live) => this.orderChanged(order, live));
    setInterval(() => this.tick(), 500);
    this.render();
  }

  open() {
    if (!this.dialog.open) this.dialog.showModal();
    this.render();
  }

  /** The badge's little jump when something went in the bag. */
  bump() {
    this.count.classList.remove('bump');
    void this.count.offsetWidth; // restart the animation
    this.count.classList.add('bump');
  }

  setStatus(text, kind = 'info') {
    this.status.textContent = text;
    this.status.dataset.kind = kind;
  }

  /** Draw what changed; `redraw` draws everything again (a language switch). */
  render({ redraw = false } = {}) {
    const units = this.bag.units();
    this.count.textContent = String(units);
    this.count.hidden = units === 0;
    this.button.setAttribute('aria-label', t('bag.open', { n: units }));
    const status = this.roomStatus();
    this.closedNote.hidden = status === 'live' || !status;
    this.closedNote.textContent = status === 'ended' ? t('conn.ended') : t('bag.notLive');

    const showOrder = this.view === 'order' && this.order;
    this.orderBox.hidden = !showOrder;
    this.content.hidden = Boolean(showOrder);
    if (showOrder && (redraw || this.drawnOrder !== this.order)) this.renderOrder();

    const lines = this.bag.lines();
    const key = lines.map((hold) => hold.hold_id).join(' ');
    if (redraw || key !== this.drawn) this.renderLines(lines, key);
    this.empty.hidden = lines.length > 0;
    this.subtotalText.hidden = lines.length === 0;
    this.subtotalText.textContent = t('bag.subtotal', { n: units, total: formatVnd(this.bag.subtotal()) });
    this.checkoutBox.hidden = lines.length === 0;
    if (lines.length > 0) this.renderForm(redraw);
    this.renderOrders(redraw);
  }

  renderLines(lines, key) {
    this.drawn = key;
    this.countdowns.clear();
    clear(this.list);
    for (const hold of lines) {
      const name = this.productName(hold.product_id);
      const left = h('strong', { class: 'bag-line-countdown', 'data-testid': 'bag-line-countdown' });
      this.countdowns.set(hold.hold_id, left);
      this.list.append(h('li', { class: 'bag-line', 'data-testid': 'bag-line', 'data-hold-id': hold.hold_id, 'data-product-id': hold.product_id },
        h('div', { class: 'bag-line-main' },
          h('span', { class: 'bag-line-name', 'data-testid': 'bag-line-name', text: name }),
          h('span', { class: 'bag-line-figures' },
            h('span', { class: 'price', 'data-testid': 'bag-line-price', text: formatVnd(hold.unit_price_vnd) }), ' ',
            h('span', { class: 'bag-line-quantity', 'data-testid': 'bag-line-quantity', text: `× ${hold.quantity}` }))),
        h('p', { class: 'bag-line-timer' }, `${t('bag.holdLeft')} `, left),
        h('button', {
          type: 'button', class: 'btn btn-small btn-ghost bag-line-remove', 'data-testid': 'bag-line-remove',
          'aria-label': t('bag.removeLabel', { name }), onclick: (event) => this.remove(hold, event.currentTarget),
        }, t('bag.remove'))));
    }
    this.tick();
  }

  /** The checkout form: built once, again on a language switch (keeping what she typed). */
  renderForm(redraw) {
    if (!this.form || redraw) {
      const initial = this.form ? this.form.values() : { name: this.displayName() };
      this.form = checkoutForm({ ...this.formOptions(), initial });
      clear(this.formBox).append(this.form.form);
    }
    const claimed = this.claimedVoucher();
    const voucher = this.form.form.querySelector('[data-testid=bag-checkout-voucher]');
    if (claimed && claimed !== this.voucherFilled && !voucher.value) {
      voucher.value = claimed;
      this.voucherFilled = claimed;
    }
    this.form.setSubmitLabel(t('bag.submit', { total: formatVnd(this.bag.subtotal()) }));
  }

  /** Countdowns; a line past its deadline leaves the bag (the server gives its units back). */
  tick() {
    const gone = this.bag.expireDue();
    if (gone.length > 0) this.setStatus(t('bag.expired', { names: this.names(gone) }), 'error');
    const now = Date.now();
    for (const [holdId, el] of this.countdowns) {
      const hold = this.bag.holds.get(holdId);
      if (!hold) continue;
      const ms = hold.expires_at - now;
      el.textContent = formatCountdown(ms);
      el.dataset.urgent = String(ms < URGENT_MS);
    }
  }

  names(holds) {
    return holds.map((hold) => this.productName(hold.product_id)).join(', ');
  }

  async remove(hold, button) {
    const name = this.productName(hold.product_id);
    button.disabled = true;
    const next = button.closest('li')?.nextElementSibling || button.closest('li')?.previousElementSibling;
    const nextId = next?.dataset.holdId;
    try {
      await this.bag.remove(hold.hold_id);
      this.setStatus(t('bag.removed', { name }), 'ok');
    } catch (error) {
      // Gone already (ordered elsewhere, or past its deadline): out of the bag here too.
      if (error.code === 'hold_not_found' || error.code === 'hold_expired') this.bag.drop([hold.hold_id]);
      else button.disabled = false;
      this.setStatus(bagErrorText(error), 'error');
    }
    // Keep the keyboard in the sheet: on the next line's button, or the close button.
    if (!button.isConnected) {
      const again = nextId && this.list.querySelector(`[data-hold-id="${CSS.escape(nextId)}"] [data-testid=bag-line-remove]`);
      (again || $('#bag-close')).focus();
    }
  }

  async checkout(details, submit) {
    if (this.bag.holds.size === 0) return;
    submit.disabled = true;
    this.setStatus(t('bag.ordering'));
    try {
      const order = await this.bag.checkout(details);
      // The same shipping details next time, but a voucher is used once.
      this.form = checkoutForm({ ...this.formOptions(), initial: { ...this.form.values(), voucher: '' } });
      clear(this.formBox).append(this.form.form);
      this.showOrder(this.myOrders.get(order.order_id) || order);
      this.setStatus(t('order.confirmed'), 'ok');
    } catch (error) {
      if (error.code === 'hold_expired' && error.expired?.length > 0) {
        this.setStatus(t('bag.expiredRetry', { names: this.names(error.expired) }), 'error');
      } else {
        this.setStatus(bagErrorText(error), 'error');
      }
    } finally {
      submit.disabled = false;
    }
  }

  formOptions() {
    return {
      prefix: 'bag-checkout',
      paymentPrefix: 'bag-payment',
      onInvalid: () => this.setStatus(t('checkout.invalid'), 'error'),
      onSubmit: (details, submit) => this.checkout(details, submit),
    };
  }

  /** Show one of her bag orders (just placed, or picked from the list). */
  showOrder(order) {
    this.order = order;
    this.view = 'order';
    this.render();
    this.orderBox.querySelector('h3')?.focus();
  }

  renderOrder() {
    const order = this.order;
    this.drawnOrder = order;
    const card = orderCard(order, {
      onCancel: this.myOrders.mayCancel(order) ? (o, button) => this.cancelOrder(o, button) : null,
      loadCode: roomCodeLoader({ roomId: this.conn.roomId, token: this.conn.token }),
      // "Tiếp tục xem": back to the live (the close handler shows the bag next time).
      onClose: () => this.dialog.close(),
    });
    card.querySelector('h3')?.setAttribute('tabindex', '-1');
    clear(this.orderBox).append(card);
  }

  async cancelOrder(order, button) {
    if (!window.confirm(cancelConfirmText(order))) return;
    const code = orderCode(order);
    button.disabled = true;
    this.setStatus(t('order.cancelling'));
    try {
      await this.myOrders.cancel(order);
      this.setStatus(t('order.cancelled', { code }), 'ok');
    } catch (error) {
      this.setStatus(errorText(error), 'error');
      if (this.order?.order_id === order.order_id) this.renderOrder();
    }
  }

  /** A newer version of one of her orders: the list, and the card if it shows it. */
  orderChanged(order, live) {
    if (!isBagOrder(order)) return;
    if (this.order?.order_id === order.order_id) {
      const moved = this.order.status !== order.status;
      this.order = order;
      if (live && moved) {
        this.setStatus(t('order.statusNow', { code: orderCode(order), status: statusText(order.status) }), order.status === 'cancelled' ? 'info' : 'ok');
      }
    }
    this.render();
  }

  /** Her bag orders in this room, newest first: code, status, lines, total. */
  renderOrders(redraw = false) {
    const mine = this.myOrders.all().filter(isBagOrder).reverse();
    this.ordersBox.hidden = mine.length === 0;
    // Drawn again only when one changed (the focus stays on its button otherwise).
    const key = mine.map((order) => `${order.order_id}:${order.status}:${order.total_vnd}`).join(' ');
    if (!redraw && key === this.drawnOrders) return;
    this.drawnOrders = key;
    clear(this.orderList);
    for (const order of mine) {
      const code = orderCode(order);
      const badge = statusBadge(order.status);
      badge.setAttribute('data-testid', 'bag-order-status');
      const what = orderLines(order).map((line) => `${line.product_name} × ${line.quantity}`).join(', ');
      this.orderList.append(h('li', { class: 'bag-order-item', 'data-testid': 'bag-order-item', 'data-order-id': order.order_id },
        h('p', { class: 'order-code-line' },
          h('a', { href: orderPageUrl(order), target: '_blank', rel: 'noopener', class: 'order-code', 'data-testid': 'bag-order-code', text: code }), ' ', badge),
        h('p', { class: 'small', 'data-testid': 'bag-order-lines', text: what }),
        h('p', { class: 'bag-order-foot' },
          h('strong', { 'data-testid': 'bag-order-total', text: formatVnd(order.total_vnd) }),
          h('button', {
            type: 'button', class: 'btn btn-small btn-ghost', 'data-testid': 'bag-order-show',
            'aria-label': t('bag.orderShowLabel', { code }), onclick: () => this.showOrder(order),
          }, t('bag.orderShow')))));
    }
  }
}
