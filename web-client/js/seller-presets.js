// Flash sales in one tap on the phone studio: three presets computed from
// the pinned product's price ("50 suất, giảm 20%, 5 phút" and two more),
// each a big button showing the price it will sell at (`1.250.000 ₫`), and a
// confirm step in the action sheet before the `start_sale` goes out. While a
// sale runs, the same place shows it (remaining, countdown) with its end
// button. The full form (any product, price, timing) stays in "Quản lý".
// The desktop studio shows the same presets above its sale form.

import { $, clear, h } from './dom.js';
import { errorText, t } from './i18n.js';
import { formatCount, formatCountdown, formatVnd } from './format.js';

/**
 * The presets: `units` on sale (fewer if the product has fewer on hand),
 * `discount` in percent off the list price, `minutes` it runs, `limit` per
 * buyer. A short, sharp one; the one live sellers use most; a long, gentle one.
 */
export const PRESETS = [
  { id: 'classic', units: 50, discount: 20, minutes: 5, limit: 2 },
  { id: 'flash', units: 20, discount: 30, minutes: 3, limit: 1 },
  { id: 'long', units: 100, discount: 10, minutes: 10, limit: 5 },
];

/**
 * What a preset sells `product` at: the price `discount` % off, rounded to
 * 1.000 ₫ (never under 1.000 ₫, the server's floor), and the units, capped
 * by what the product has on hand (0: it cannot run).
 */
export function presetSale(preset, product) {
  const price = Math.max(1000, Math.round((product.price_vnd * (100 - preset.discount)) / 100 / 1000) * 1000);
  return { price_vnd: price, units: Math.min(preset.units, Math.max(0, Number(product.stock) || 0)) };
}

export class SalePresets {
  /**
   * @param {{conn: import('./protocol.js').RoomConnection, model: object,
   *   sheet: import('./seller-sheet.js').ActionSheet, notice: import('./ui.js').Notice}} deps
   */
  constructor({ conn, model, sheet, notice }) {
    Object.assign(this, { conn, model, sheet, notice });
    /** Where presets are drawn: the phone studio's, and the desktop sale panel's. */
    this.boxes = [$('#phone-presets'), $('#desk-presets')];
    this.running = $('#phone-sale');
    this.countdown = null;
    setInterval(() => this.countdown?.(), 500);
  }

  get saleActive() {
    const state = this.model.sale?.state;
    return state === 'scheduled' || state === 'live';
  }

  render() {
    this.renderRunning();
    for (const box of this.boxes) this.renderBox(box);
  }

  renderBox(box) {
    clear(box);
    const product = this.model.pinned;
    box.hidden = this.saleActive;
    if (this.saleActive) return;
    if (!product) {
      box.append(h('p', { class: 'phone-hint', 'data-testid': 'presets-hint', text: t('phone.presetsHint') }));
      return;
    }
    const titleId = `${box.id}-title`;
    box.append(h('p', { class: 'presets-title', id: titleId, text: t('phone.presetsTitle', { name: product.name }) }));
    const row = h('div', { class: 'preset-row', role: 'group', 'aria-labelledby': titleId });
    for (const preset of PRESETS) {
      const sale = presetSale(preset, product);
      const what = t('phone.preset', { units: formatCount(sale.units), discount: preset.discount, minutes: preset.minutes });
      row.append(h('button', {
        type: 'button', class: 'btn preset', 'data-testid': 'preset', 'data-preset': preset.id,
        disabled: sale.units === 0,
        onclick: (event) => this.ask(preset, product, event.currentTarget),
      },
      // Named by what it shows, after what it does (WCAG 2.5.3, label in name).
      h('span', { class: 'visually-hidden', text: `${t('phone.presetAction')} ` }),
      h('span', { class: 'preset-what', text: what }), ' ',
      h('span', { class: 'preset-price', 'data-testid': 'preset-price', text: formatVnd(sale.price_vnd) })));
    }
    box.append(row);
  }

  /** The confirm step: what exactly goes on sale, then `start_sale`. */
  ask(preset, product, returnTo) {
    const sale = presetSale(preset, product);
    this.sheet.open({
      title: t('phone.presetConfirmTitle'),
      text: t('phone.presetConfirm', {
        name: product.name, units: formatCount(sale.units), price: formatVnd(sale.price_vnd),
        regular: formatVnd(product.price_vnd), discount: preset.discount, minutes: preset.minutes, limit: preset.limit,
      }),
      testid: 'preset-sheet',
      returnTo,
      closeLabel: t('sheet.cancel'),
      actions: [{ label: t('phone.presetStart'), testid: 'preset-confirm', kind: 'primary', run: () => this.start(preset, product) }],
    });
  }

  async start(preset, product) {
    const sale = presetSale(preset, product);
    try {
      await this.conn.request({
        type: 'start_sale', product_id: product.id, stock: sale.units, price_vnd: sale.price_vnd,
        per_buyer_limit: preset.limit, starts_in_secs: 0, duration_secs: preset.minutes * 60,
      });
      this.notice.show(t('seller.saleStarted'), 'ok', 3000);
    } catch (error) {
      this.notice.show(errorText(error), 'error');
    }
  }

  /** The running sale, in one line, with its end button. */
  renderRunning() {
    const sale = this.model.sale;
    clear(this.running);
    this.countdown = null;
    this.running.hidden = !this.saleActive;
    if (!this.saleActive) return;
    const timer = h('span', { class: 'phone-sale-time', 'data-testid': 'phone-sale-countdown' });
    this.countdown = () => {
      const now = Date.now();
      timer.textContent = sale.state === 'scheduled'
        ? t('sale.startsIn', { time: formatCountdown(sale.starts_at - now) })
        : formatCountdown(sale.ends_at - now);
    };
    this.countdown();
    this.running.append(
      h('span', { class: 'phone-sale-words' },
        h('span', { 'aria-hidden': 'true', text: '⚡ ' }),
        h('strong', { class: 'price', text: formatVnd(sale.price_vnd) }), ' · ',
        h('span', { 'data-testid': 'phone-sale-remaining', text: t('sale.remaining', { remaining: formatCount(sale.remaining), total: formatCount(sale.stock_total) }) }), ' · ',
        timer),
      h('button', {
        type: 'button', class: 'btn btn-danger phone-sale-end', 'data-testid': 'phone-sale-end',
        onclick: () => this.conn.request({ type: 'end_sale', sale_id: sale.id }).catch((error) => this.notice.show(errorText(error), 'error')),
      }, t('seller.saleEnd')));
  }
}
