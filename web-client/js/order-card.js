// An order as its buyer sees it, on the viewer's sale card, in her bag and
// on the order page: its code, a status badge, what she bought (a flash-sale
// order's product, or a bag order's lines), the payment method (with the
// VietQR spot for bank transfers not yet paid), the carrier and tracking
// code once shipped, and a small timeline of its history in local time.
//
// Also the order page's two calls (code + phone, no session), and her own
// orders in the room kept current (`MyOrders`) after the room announced
// that one moved (`order_status` names only its status and tag).

import { h } from './dom.js';
import { getLang, t } from './i18n.js';
import { formatDateTime, formatVnd } from './format.js';
import { fetchJson } from './protocol.js';

export const ORDER_STATUSES = ['confirmed', 'paid', 'packed', 'shipped', 'delivered', 'cancelled'];
export const CARRIERS = ['ghn', 'ghtk', 'viettel_post', 'vnpost', 'other'];

/** Vietnamese numbers as the server accepts them (it normalises to 0xxxxxxxxx). */
export const PHONE = /^(\+?84|0)\d{9,10}$/;

/** A phone number as typed, without its spaces, dots and dashes. */
export function compactPhone(text) {
  return String(text || '').replace(/[\s.-]/g, '');
}

/** The code a buyer reads, types and writes in a transfer note: `CP4C1D9E0B7A2F3E88`. */
export function orderCode(order) {
  return `CP${String(order.order_id || '').toUpperCase()}`;
}

/** The order page, with the code filled in (never the phone: it stays out of URLs). */
export function orderPageUrl(order) {
  return `/order.html?code=${encodeURIComponent(orderCode(order))}`;
}

/** The `sale_id` of orders and holds from the shopping bag. */
export const BAG_SALE_ID = 'bag';

/** A bag order (`sale_id: "bag"`): several products, each a line. */
export function isBagOrder(order) {
  return order?.sale_id === BAG_SALE_ID;
}

/** The cancel question for the buyer: a bag order's units go back to the shop, a sale's to the sale. */
export function cancelConfirmText(order) {
  return t(isBagOrder(order) ? 'order.cancelConfirmBag' : 'order.cancelConfirm', { code: orderCode(order) });
}

/**
 * What the order holds, one `{product_name, quantity, unit_price_vnd}` a
 * line: a bag order's lines, or a flash-sale order's one product.
 */
export function orderLines(order, productName = order.product_name || '') {
  if (Array.isArray(order.lines) && order.lines.length > 0) return order.lines;
  return [{ product_id: null, product_name: productName, quantity: order.quantity, unit_price_vnd: order.unit_price_vnd }];
}

/** A bag order's lines as a list: `Name — 2 × 250.000 ₫` each (price of one unit). */
export function orderLineList(order) {
  return h('ul', { class: 'order-lines', 'data-testid': 'order-lines', 'aria-label': t('order.lines') },
    orderLines(order).map((line) => h('li', {
      class: 'order-line', 'data-testid': 'order-line', 'data-product-id': line.product_id,
      text: t('order.line', { name: line.product_name, n: line.quantity, price: formatVnd(line.unit_price_vnd) }),
    })));
}

export function statusText(status) {
  return t(`orderStatus.${status}`);
}

export function paymentText(payment) {
  return t(`payment.${payment || 'cod'}`);
}

export function carrierText(carrier) {
  return t(`carrier.${carrier || 'other'}`);
}

/** The localized status badge (colour by `data-status` in app.css). */
export function statusBadge(status) {
  return h('span', { class: 'order-badge', 'data-status': status, 'data-testid': 'order-status', text: statusText(status) });
}

/** The steps the order went through: placed (its `created_at`), then each change. */
export function orderTimeline(order) {
  const lang = getLang();
  const steps = [{ status: 'confirmed', at: order.created_at, by: null }, ...(order.history || [])];
  const last = steps.length - 1;
  return h('ol', { class: 'order-timeline', 'data-testid': 'order-timeline', 'aria-label': t('order.timeline') },
    steps.map((step, i) => h('li', {
      class: 'timeline-step', 'data-status': step.status, 'aria-current': i === last ? 'step' : null,
    },
    h('span', { class: 'timeline-status', text: statusText(step.status) }),
    h('time', { class: 'timeline-time', datetime: new Date(step.at).toISOString(), text: formatDateTime(step.at, lang) }),
    step.by && step.status === 'cancelled' ? h('span', { class: 'timeline-by', text: `(${t(`order.by.${step.by}`)})` }) : null)));
}

/** Carrier and tracking code, once the seller has shipped. */
export function shipmentLine(order) {
  if (!order.shipment) return null;
  return h('p', { class: 'order-shipment', 'data-testid': 'order-shipment' },
    h('span', { text: t('order.carrier', { carrier: carrierText(order.shipment.carrier) }) }), h('br'),
    h('span', { text: `${t('order.tracking')}: ` }),
    h('strong', { class: 'tracking-code', 'data-testid': 'order-tracking', text: order.shipment.tracking_code }));
}

/**
 * The order's details for its buyer. `productName` when known (the order
 * itself names only its sale); `onCancel` adds the cancel button while the
 * order is `confirmed` (the server decides whether the window is still open).
 */
export function orderDetails(order, { productName = order.product_name || '', onCancel = null, loadCode = null } = {}) {
  const code = orderCode(order);
  const bankTransfer = order.payment === 'bank_transfer';
  const quantity = t('order.quantity', { n: order.quantity, price: formatVnd(order.unit_price_vnd) });
  return h('div', { class: 'order-details', 'data-status': order.status },
    h('p', { class: 'order-code-line' },
      h('span', { 'data-testid': 'order-id', text: t('order.number', { id: code }) }), ' ',
      statusBadge(order.status)),
    isBagOrder(order)
      ? orderLineList(order)
      : h('p', { 'data-testid': 'order-product', text: productName ? `${productName} — ${quantity}` : quantity }),
    order.discount_vnd > 0
      ? h('p', { 'data-testid': 'order-discount', text: t('order.discount', { amount: formatVnd(order.discount_vnd), code: order.voucher_code || '' }) })
      : null,
    h('p', { class: 'order-total', 'data-testid': 'order-total', text: t('order.total', { total: formatVnd(order.total_vnd) }) }),
    h('p', { 'data-testid': 'order-payment', text: t('order.payment', { method: paymentText(order.payment) }) }),
    bankTransfer && order.status === 'confirmed'
      ? h('div', { class: 'order-vietqr', 'data-testid': 'order-vietqr', 'data-order-code': code },
        h('p', { class: 'vietqr-title', text: t('order.vietqr') }),
        loadCode ? vietQr(order, loadCode) : h('p', { class: 'small', text: t('order.vietqrNote', { code }) }))
      : null,
    shipmentLine(order),
    orderTimeline(order),
    onCancel && order.status === 'confirmed'
      ? h('button', {
        type: 'button', class: 'btn btn-danger btn-block', 'data-testid': 'order-cancel',
        'aria-label': t('order.cancelLabel', { code }), onclick: (event) => onCancel(order, event.currentTarget),
      }, t('order.cancel'))
      : null);
}

/**
 * The order's VietQR code and the account it pays. `loadCode(order)`
 * resolves with the code's details (`bank`, `account_number`,
 * `account_name`, `amount_vnd`, `note`) and an element drawing the code: in
 * the room an `<img>` of the SVG endpoint (her token in its address, as an
 * `<img>` cannot send a header), on the order page the SVG itself (it has
 * no token, and the phone stays out of URLs).
 */
function vietQr(order, loadCode) {
  const box = h('div', { class: 'vietqr' });
  const details = h('dl', { class: 'vietqr-account', 'data-testid': 'vietqr-account' });
  loadCode(order).then(({ code, image }) => {
    const row = (key, value, testid) => [h('dt', { text: t(key) }), h('dd', { 'data-testid': testid, text: value })];
    details.append(
      ...row('vietqr.bank', code.bank ? code.bank.short_name : code.bin, 'vietqr-bank'),
      ...row('vietqr.account', code.account_number, 'vietqr-number'),
      ...row('vietqr.name', code.account_name, 'vietqr-name'),
      ...row('vietqr.amount', formatVnd(code.amount_vnd), 'vietqr-amount'),
      ...row('vietqr.note', code.note, 'vietqr-note'));
    image.classList.add('vietqr-image');
    image.setAttribute('data-testid', 'vietqr-image');
    image.setAttribute('role', 'img');
    image.setAttribute('aria-label', t('vietqr.alt', { amount: formatVnd(code.amount_vnd) }));
    box.prepend(image);
  }).catch((error) => {
    const key = error.code === 'payment_not_set' ? 'vietqr.notSet' : 'vietqr.unavailable';
    details.append(h('p', { class: 'small', 'data-testid': 'vietqr-error', text: t(key) }));
  });
  box.append(details);
  return box;
}

/** A room member's code: the JSON and SVG endpoints, her token in the address. */
export function roomCodeLoader({ roomId, token }) {
  return (order) => {
    const base = `/api/rooms/${encodeURIComponent(roomId)}/orders/${encodeURIComponent(order.order_id)}/vietqr`;
    const query = `?token=${encodeURIComponent(token)}`;
    return fetchJson(`${base}${query}`).then((code) => ({
      code,
      image: h('img', { src: `${base}.svg${query}`, alt: '', width: 240, height: 240 }),
    }));
  };
}

/**
 * The order page's code: `POST /api/orders/vietqr` with the order code and
 * phone answers the details and the SVG markup, parsed as an image (never
 * as HTML) and adopted into the page.
 */
export function pageCodeLoader(phone) {
  return (order) => fetchJson('/api/orders/vietqr', { method: 'POST', body: { order_code: order.order_id, phone } })
    .then((code) => {
      const svg = new DOMParser().parseFromString(code.svg, 'image/svg+xml').documentElement;
      if (svg.nodeName !== 'svg') throw Object.assign(new Error('not an SVG'), { code: 'internal' });
      return { code, image: document.importNode(svg, true) };
    });
}

/**
 * The viewer's card for her order: the details, a link to the order page
 * (to come back to it after the live) and a way back to the sale.
 */
export function orderCard(order, { productName = order.product_name || '', onCancel = null, loadCode = null, onClose }) {
  const heading = order.status === 'confirmed' ? `✓ ${t('order.confirmed')}` : t('order.yours');
  return h('div', { class: 'order-confirmed', 'data-testid': 'order-confirmed', 'data-status': order.status },
    h('h3', { text: heading }),
    orderDetails(order, { productName, onCancel, loadCode }),
    h('p', {}, h('a', { href: orderPageUrl(order), target: '_blank', rel: 'noopener', 'data-testid': 'order-link' }, t('order.pageLink'))),
    order.status === 'confirmed' ? h('p', { class: 'muted', text: t('order.thanks') }) : null,
    h('button', { type: 'button', class: 'btn btn-ghost btn-block', onclick: onClose }, t('order.close')));
}

/** `POST /api/orders/lookup`: the order, for its code and shipping phone. */
export function lookupOrder(code, phone) {
  return fetchJson('/api/orders/lookup', { method: 'POST', body: { order_code: code, phone } });
}

/** `POST /api/orders/cancel`: the buyer cancels (while `confirmed`, within the window). */
export function cancelOrderByCode(code, phone) {
  return fetchJson('/api/orders/cancel', { method: 'POST', body: { order_code: code, phone } });
}

/**
 * The viewer's own orders in the room, kept current: from `order_confirmed`
 * and `my_orders`, changed by `order_updated` (her own cancel) and by the
 * room's `order_status` events whose tag is one of hers. Such an event says
 * only the new status, so the order is shown moved at once and then read
 * again over the room connection (`list_my_orders`) for the exact times and,
 * once shipped, the carrier and tracking code.
 * `onChange(order, live)` is called with each new version (`live`: it moved
 * while she watched, not a first sighting or a reload).
 */
export class MyOrders {
  constructor(conn, onChange = null) {
    this.conn = conn;
    /** Everyone told of each new version (the sale card, the bag). */
    this.listeners = onChange ? [onChange] : [];
    /** order_id → Order */
    this.byId = new Map();
    /** Orders whose buyer cancel the server refused: no cancel button again. */
    this.cancelRefused = new Set();
    conn.on('order_confirmed', (m) => this.put(m.order, false));
    conn.on('order_updated', (m) => this.put(m.order, true));
    conn.on('my_orders', (m) => { for (const order of m.orders || []) this.put(order, false); });
    conn.on('order_status', (m) => this.onStatus(m));
  }

  /** Also call `onChange(order, live)` with each new version. */
  listen(onChange) {
    this.listeners.push(onChange);
  }

  onChange(order, live) {
    for (const listener of this.listeners) {
      try {
        listener(order, live);
      } catch (error) {
        console.error('an order listener failed', error);
      }
    }
  }

  get(orderId) {
    return this.byId.get(orderId) || null;
  }

  /** Every order of hers known here, oldest first. */
  all() {
    return [...this.byId.values()].sort((a, b) => a.created_at - b.created_at);
  }

  /** A version of an order from the server. */
  put(order, live) {
    if (!order?.order_id) return;
    this.byId.set(order.order_id, order);
    this.onChange(order, live);
  }

  onStatus({ status_tag: tag, status }) {
    if (!tag) return;
    const order = [...this.byId.values()].find((o) => o.status_tag === tag);
    if (!order) return;
    if (order.status !== status) {
      const moved = { ...order, status, history: [...(order.history || []), { status, at: Date.now(), by: null }] };
      this.byId.set(order.order_id, moved);
      this.onChange(moved, true);
    }
    // A cancellation has nothing more to show (and her own comes back as `order_updated`).
    if (status !== 'cancelled') this.refresh();
  }

  /** Read her orders again; the answer (`my_orders`) updates them through `put`. */
  async refresh() {
    try {
      await this.conn.request({ type: 'list_my_orders' });
    } catch {
      // Offline: the status shown stays right; details come with the next change or reload.
    }
  }

  mayCancel(order) {
    return order.status === 'confirmed' && !this.cancelRefused.has(order.order_id);
  }

  /** Cancel over the room connection; resolves with the order, rejects with the server's error. */
  async cancel(order) {
    try {
      const reply = await this.conn.request({ type: 'cancel_order', order_id: order.order_id });
      this.put(reply.order, true);
      return reply.order;
    } catch (error) {
      if (error.code === 'cancel_window_closed' || error.code === 'forbidden') this.cancelRefused.add(order.order_id);
      throw error;
    }
  }
}
