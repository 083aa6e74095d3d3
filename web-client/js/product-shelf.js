/**
 * A list of product cards on the viewer page (the session's catalog, the
 * pinned product), drawn from the room model and kept in place: a stock
 * change updates the card's count and its add-to-bag control instead of
 * drawing the list again, so a buyer's focus and a tap in progress survive
 * the stream of `product_stock` events a busy live sends. A card is drawn
 * anew only when its product's name, description, price, image or limit
 * changed, or on `redraw` (a language switch).
 */

import { productCard, stockText } from './ui.js';

/** The fields a card shows, but the stock (which is updated in place). */
function looks(product) {
  return JSON.stringify([product.name, product.description, product.price_vnd, product.image_url ?? null, product.per_buyer_limit ?? null]);
}

export class ProductShelf {
  /**
   * @param {HTMLElement} container
   * @param {{wrap?: (card: HTMLElement) => HTMLElement,
   *   actions?: (product: object) => {root: HTMLElement, update: Function, dispose: Function},
   *   onOpen?: (product: object) => void}} options
   * `wrap` puts a card in its list item; `actions` makes a card's control;
   * `onOpen` hears each time a buyer opens a card (taps its name or picture).
   */
  constructor(container, { wrap = (card) => card, actions = null, onOpen = null } = {}) {
    Object.assign(this, { container, wrap, actions, onOpen });
    /** product id → `{item, card, looks, control}`. */
    this.items = new Map();
    /** Ids of the cards she opened: a card drawn anew stays open. */
    this.opened = new Set();
  }

  /** Show `products`, in this order. */
  render(products, { redraw = false } = {}) {
    const wanted = new Set(products.map((p) => p.id));
    for (const [id, entry] of this.items) {
      if (redraw || !wanted.has(id)) this.forget(id, entry);
    }
    let previous = null;
    for (const product of products) {
      let entry = this.items.get(product.id);
      if (entry && entry.looks !== looks(product)) {
        this.forget(product.id, entry);
        entry = null;
      }
      if (entry) {
        entry.card.querySelector('[data-testid=product-stock]').textContent = stockText(product);
        entry.control?.update(product);
      } else {
        const control = this.actions ? this.actions(product) : null;
        const onToggle = this.onOpen ? (open) => {
          if (open) {
            this.opened.add(product.id);
            this.onOpen(product);
          } else {
            this.opened.delete(product.id);
          }
        } : null;
        const card = productCard(product, { actions: control?.root, onToggle, open: this.opened.has(product.id) });
        entry = { item: this.wrap(card), card, looks: looks(product), control };
        this.items.set(product.id, entry);
      }
      // Move only what is out of place (moving a node takes its focus away).
      const expected = previous ? previous.nextElementSibling : this.container.firstElementChild;
      if (expected !== entry.item) {
        if (previous) previous.after(entry.item);
        else this.container.prepend(entry.item);
      }
      previous = entry.item;
    }
  }

  forget(id, entry) {
    entry.item.remove();
    entry.control?.dispose();
    this.items.delete(id);
  }
}
