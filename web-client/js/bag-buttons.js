/**
 * The "Thêm vào giỏ" / "Add to bag" control under each product card on the
 * viewer page (the pinned product and the session's catalog): the button,
 * the product's per-buyer limit when it has one, and the answer to her last
 * tap next to it ("Đã thêm vào giỏ", "Hết hàng", the limit message, …).
 *
 * One control per card; a product may have two (pinned and in the
 * catalog), which share the product's message. Controls are updated in
 * place (`refresh`), never redrawn, so focus and a tap in progress survive
 * the room's stock events. The button is off while the product has no
 * stock, while the room is not live (the bag opens with the live) and
 * while an add of it is on its way. Adding itself is bag.js's.
 */

import { h } from './dom.js';
import { errorText, t } from './i18n.js';

/** How long an answer stays next to the button. */
const MESSAGE_MS = { ok: 4000, error: 10000 };

export class BagButtons {
  /**
   * @param {{bag: import('./bag.js').Bag, isLive: () => boolean,
   *   announce: (text: string) => void, onAdded?: () => void}} parts
   * `announce` reads an answer out (a live region that stays on the page).
   */
  constructor({ bag, isLive, announce, onAdded = () => {} }) {
    Object.assign(this, { bag, isLive, announce, onAdded });
    /** Every control drawn: `{product, root, button, limit, message}`. */
    this.controls = new Set();
    /** product_id → `{text, kind, timer}`: the answer to her last tap. */
    this.messages = new Map();
    bag.onChange(() => this.refresh());
  }

  /** A new control for `product`'s card: `{root, update(product), dispose()}`. */
  control(product) {
    const entry = {
      product,
      button: h('button', { type: 'button', class: 'btn btn-small btn-bag-add', 'data-testid': 'add-to-bag', onclick: () => this.add(entry.product) }),
      limit: h('p', { class: 'bag-limit small muted', 'data-testid': 'product-limit' }),
      message: h('p', { class: 'bag-add-message', 'data-testid': 'bag-add-message' }),
    };
    entry.root = h('div', { class: 'bag-add' }, entry.limit, entry.button, entry.message);
    this.controls.add(entry);
    this.draw(entry);
    return {
      root: entry.root,
      update: (next) => {
        entry.product = next;
        this.draw(entry);
      },
      dispose: () => this.controls.delete(entry),
    };
  }

  /** Bring every control up to date (stock, room status, adds on their way, language). */
  refresh() {
    for (const entry of this.controls) this.draw(entry);
  }

  draw(entry) {
    const { product, button, limit, message } = entry;
    const soldOut = !(product.stock > 0);
    const adding = this.bag.adding.has(product.id);
    const label = t(soldOut ? 'bag.soldOut' : adding ? 'bag.adding' : 'bag.add');
    button.textContent = label;
    button.setAttribute('aria-label', t('bag.addLabel', { action: label, name: product.name }));
    button.disabled = soldOut || adding || !this.isLive();
    limit.textContent = product.per_buyer_limit ? t('sale.limit', { n: product.per_buyer_limit }) : '';
    limit.hidden = !product.per_buyer_limit;
    const said = this.messages.get(product.id);
    message.textContent = said ? said.text : '';
    message.hidden = !said;
    if (said) message.dataset.kind = said.kind;
  }

  say(productId, text, kind) {
    const old = this.messages.get(productId);
    clearTimeout(old?.timer);
    const timer = setTimeout(() => {
      if (this.messages.get(productId)?.timer === timer) this.messages.delete(productId);
      this.refresh();
    }, MESSAGE_MS[kind] || MESSAGE_MS.error);
    this.messages.set(productId, { text, kind, timer });
    this.announce(text);
    this.refresh();
  }

  async add(product) {
    if (!this.isLive()) {
      this.say(product.id, t('bag.notLive'), 'error');
      return;
    }
    const { outcome, error } = await this.bag.add(product.id, 1);
    switch (outcome) {
      case 'busy':
        return;
      case 'reserved':
      case 'duplicate':
        this.say(product.id, t('bag.added'), 'ok');
        this.onAdded(product);
        return;
      case 'sold_out':
        this.say(product.id, t('bag.outcome.sold_out'), 'error');
        return;
      case 'limit_reached':
        this.say(product.id, t('bag.outcome.limit_reached', { n: product.per_buyer_limit || '?' }), 'error');
        return;
      case 'unavailable':
        this.say(product.id, t('bag.outcome.unavailable'), 'error');
        return;
      case 'full':
        this.say(product.id, t('bag.full', { n: this.bag.holds.size }), 'error');
        return;
      default:
        this.say(product.id, error?.code === 'invalid_state' ? t('bag.notLive') : errorText(error), 'error');
    }
  }
}
