// The studio on a phone (below 960 px wide; docs/studio.md): the camera
// preview fills the screen and what the seller needs while on camera floats
// on it — the room's state, viewers and orders at the top; the front/back
// switch, "Quản lý" and the language at the right; chat, the flash-sale
// presets, the product strip (one tap pins or unpins) and the chat box at
// the bottom, where her thumb is. Everything else (the sale form, products,
// orders, vouchers, payment, webhooks, moderation settings, numbers) is the
// full studio, opened with "Quản lý" as a full-screen sheet and closed with
// "Về màn hình live" or Escape. From 960 px the phone layer is not shown
// (css/studio.css) and the desktop studio is the page.
//
// This module only draws and wires the layer; what its buttons do is the
// studio's own: SellerMedia (camera, live), the `act` helper of seller.js
// (pin), SalePresets (seller-presets.js), PhoneChat (seller-chat.js).

import { $, clear, h, safeImageUrl, thumbOf } from './dom.js';
import { t } from './i18n.js';
import { formatCount, formatVnd } from './format.js';

/** Where the phone layer is the studio (css/studio.css uses the same width). */
export const PHONE_QUERY = '(max-width: 959.98px)';

export class PhoneStudio {
  /**
   * @param {{model: object, media: import('./seller-media.js').SellerMedia,
   *   sheet: import('./seller-sheet.js').ActionSheet,
   *   pin(productId: string|null): Promise<boolean>}} deps
   * `pin(id)` pins a product, `pin(null)` unpins (seller.js sends the frame).
   */
  constructor({ model, media, sheet, pin }) {
    Object.assign(this, { model, media, sheet, pin });
    this.layer = $('#phone-studio');
    this.preview = $('#phone-preview');
    this.strip = $('#product-strip');
    /** Orders in this room so far (every status), from the orders table's last load. */
    this.orders = null;
    this.phone = window.matchMedia(PHONE_QUERY);

    $('#phone-flip').addEventListener('click', () => this.media.flipCamera());
    $('#phone-preview-button').addEventListener('click', () => this.media.startCamera().catch(() => {}));
    $('#phone-go-live').addEventListener('click', () => this.media.goLive());
    $('#phone-end-live').addEventListener('click', (event) => this.sheet.confirm({
      title: t('seller.endLive'), text: t('seller.endConfirm'), yes: t('phone.endYes'), testid: 'end-confirm',
      returnTo: event.currentTarget,
      run: () => this.media.endLive({ confirmed: true }),
    }));
    $('#phone-manage').addEventListener('click', () => this.manage(true));
    $('#manage-back').addEventListener('click', () => this.manage(false));
    document.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && this.managing && !this.sheet.isOpen) {
        event.preventDefault();
        this.manage(false);
      }
    });
    // Back to a wide screen: the full studio is the page, nothing to close.
    this.phone.addEventListener?.('change', () => {
      if (!this.phone.matches) this.manage(false, { focus: false });
    });
    media.onChange(() => this.renderMedia());
    this.renderMedia();
  }

  /** True while the phone layer is what the seller sees. */
  get active() {
    return this.phone.matches && !this.managing;
  }

  get managing() {
    return document.body.classList.contains('is-managing');
  }

  /** Open ("Quản lý") or close ("Về màn hình live") the full studio on a phone. */
  manage(open, { focus = true } = {}) {
    if (open === this.managing) return;
    document.body.classList.toggle('is-managing', open);
    $('#phone-manage').setAttribute('aria-expanded', String(open));
    if (open) {
      window.scrollTo(0, 0);
      if (focus) $('#manage-back').focus({ preventScroll: true });
    } else if (focus && this.phone.matches) {
      $('#phone-manage').focus({ preventScroll: true });
    }
  }

  /** The preview, the camera side and the go-live / end-live buttons. */
  renderMedia() {
    const { media } = this;
    if (this.preview.srcObject !== media.stream) {
      this.preview.srcObject = media.stream;
      if (media.stream) this.preview.play().catch(() => {});
    }
    this.layer.dataset.facing = media.facing;
    this.layer.dataset.onAir = String(media.onAir);
    $('#phone-preview-note').hidden = Boolean(media.stream);
    const ended = this.model.room?.status === 'ended';
    const starting = Boolean(media.publisher);
    $('#phone-start').hidden = starting || ended;
    $('#phone-preview-button').hidden = Boolean(media.stream);
    $('#phone-end-live').hidden = !starting && this.model.room?.status !== 'live';
    $('#phone-end-live').disabled = ended;
    $('#phone-flip').setAttribute('aria-label', t(media.facing === 'user' ? 'phone.flipToBack' : 'phone.flipToFront'));
    $('#phone-flip').title = $('#phone-flip').getAttribute('aria-label');
    this.renderStatus();
  }

  /** "ĐANG LIVE" (or what the room is), viewers, orders. */
  renderStatus() {
    const status = this.model.room?.status || 'scheduled';
    const badge = $('#phone-status');
    badge.dataset.status = this.media.onAir ? 'live' : status;
    badge.textContent = this.media.onAir ? t('phone.onAir') : t(`status.${status}`);
    $('#phone-viewers').textContent = formatCount(this.model.viewers);
    $('#phone-orders').textContent = this.orders === null ? '—' : formatCount(this.orders);
    $('#phone-orders-wrap').setAttribute('aria-label', t('phone.ordersLabel', { n: this.orders ?? 0 }));
    $('#phone-viewers-wrap').setAttribute('aria-label', t('phone.viewersLabel', { n: this.model.viewers }));
  }

  /** The orders counter: `n` orders in this room. */
  setOrders(n) {
    this.orders = n;
    this.renderStatus();
  }

  /** The product strip: one tap pins a product, a tap on the pinned one unpins it. */
  renderStrip() {
    const pinnedId = this.model.pinned?.id;
    // Drawn again on every stock move: keep the scroll and the focus.
    const scroll = this.strip.scrollLeft;
    const focused = this.strip.contains(document.activeElement) ? document.activeElement.dataset.productId : null;
    clear(this.strip);
    for (const p of this.model.products) {
      const pinned = p.id === pinnedId;
      this.strip.append(h('li', {},
        h('button', {
          type: 'button', class: `strip-item${pinned ? ' is-pinned' : ''}`, 'data-testid': 'strip-product', 'data-product-id': p.id,
          // Named by what it shows (the product, its price or "Đang ghim"); pressed = pinned.
          'aria-pressed': String(pinned),
          onclick: () => this.pin(pinned ? null : p.id),
        },
        h('img', { src: safeImageUrl(thumbOf(p.image_url)), alt: '', width: 40, height: 40, loading: 'lazy' }),
        h('span', { class: 'strip-words' },
          h('span', { class: 'strip-name', text: p.name }),
          h('span', { class: 'strip-price', text: pinned ? t('seller.pinned') : formatVnd(p.price_vnd) })))));
    }
    this.strip.scrollLeft = scroll;
    if (focused) this.strip.querySelector(`[data-product-id="${CSS.escape(focused)}"]`)?.focus({ preventScroll: true });
  }
}
