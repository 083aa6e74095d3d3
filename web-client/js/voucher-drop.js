// Vouchers on the viewer page: when the seller drops one (`voucher_dropped`)
// a card offers it ("Lấy mã"); tapping claims it (`claim_voucher`: the
// first N viewers get it, the server decides) and keeps the code, which the
// checkout form then fills in. A typed code works at checkout too.

import { clear, h } from './dom.js';
import { errorText, t } from './i18n.js';
import { formatVnd } from './format.js';

/** "giảm 10% (tối đa 30.000 ₫)" / "giảm 20.000 ₫", and the minimum if any. */
export function discountText(voucher) {
  const d = voucher.discount;
  const off = d.kind === 'percent'
    ? t('voucher.percent', { percent: d.percent, max: formatVnd(d.max_vnd) })
    : t('voucher.fixed', { amount: formatVnd(d.amount_vnd) });
  return voucher.min_order_vnd > 0 ? `${off} · ${t('voucher.min', { min: formatVnd(voucher.min_order_vnd) })}` : off;
}

export class VoucherDrop {
  /** @param {{box: HTMLElement, conn: import('./protocol.js').RoomConnection}} parts */
  constructor({ box, conn }) {
    Object.assign(this, { box, conn });
    /** The code this viewer claimed last (filled in at checkout). */
    this.claimed = null;
    this.voucher = null;
    conn.on('voucher_dropped', (m) => this.show(m.voucher));
  }

  show(voucher) {
    this.voucher = voucher;
    this.render();
  }

  render(message = null, kind = 'info') {
    const voucher = this.voucher;
    clear(this.box);
    this.box.hidden = !voucher;
    if (!voucher) return;
    const mine = this.claimed === voucher.code;
    this.box.append(
      h('p', { class: 'voucher-title' },
        h('span', { 'aria-hidden': 'true', text: '🎁 ' }),
        h('strong', { 'data-testid': 'voucher-code', text: voucher.code }), ' — ',
        h('span', { text: discountText(voucher) })),
      mine
        ? h('p', { class: 'voucher-mine', 'data-testid': 'voucher-mine', text: t('voucher.yours') })
        : h('button', { type: 'button', class: 'btn btn-buy btn-block', 'data-testid': 'voucher-claim', onclick: (e) => this.claim(e.currentTarget) }, t('voucher.claim')),
      message ? h('p', { class: 'small', 'data-kind': kind, 'data-testid': 'voucher-message', text: message }) : null);
  }

  async claim(button) {
    button.disabled = true;
    try {
      const reply = await this.conn.request({ type: 'claim_voucher', code: this.voucher.code });
      this.claimed = reply.voucher.code;
      this.render();
    } catch (error) {
      this.render(error.code === 'voucher_used_up' ? t('voucher.gone') : errorText(error), 'error');
    }
  }
}
