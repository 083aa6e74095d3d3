// The seller's vouchers (POST/GET /api/rooms/{id}/vouchers): create a
// typed voucher or a drop, see each one's uses and claims, and drop one
// during the live (`drop_voucher`: viewers see it and the first N claim it).

import { $, clear, h } from './dom.js';
import { errorText, getLang, t } from './i18n.js';
import { formatDateTime } from './format.js';
import { fetchJson } from './protocol.js';
import { Notice } from './ui.js';
import { discountText } from './voucher-drop.js';
import { attachMoneyInput, moneyValue, refreshMoneyInputs, setMoneyFormatting } from './money-input.js';

export class SellerVouchers {
  constructor({ conn, roomId, token }) {
    Object.assign(this, { conn, roomId, token });
    this.form = $('#voucher-form');
    this.list = $('#voucher-list');
    this.notice = new Notice($('#voucher-notice'));
    this.kind = $('#voucher-kind');
    // Amounts in đồng format as typed ("50.000 ₫"); the value is a percent
    // while the kind is one (showKind).
    for (const id of ['#voucher-value', '#voucher-max', '#voucher-min']) attachMoneyInput($(id));
    this.kind.addEventListener('change', () => this.showKind());
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.create();
    });
    this.showKind();
    this.load();
  }

  get url() {
    return `/api/rooms/${encodeURIComponent(this.roomId)}/vouchers`;
  }

  /** The cap applies to a percent only; the value is đồng or a percent. */
  showKind() {
    const percent = this.kind.value === 'percent';
    $('#voucher-max-field').hidden = !percent;
    setMoneyFormatting($('#voucher-value'), !percent);
  }

  async create() {
    const number = (id) => Number($(id).value) || 0;
    const money = (id) => moneyValue($(id)) || 0;
    const discount = this.kind.value === 'percent'
      ? { kind: 'percent', percent: money('#voucher-value'), max_vnd: money('#voucher-max') }
      : { kind: 'fixed', amount_vnd: money('#voucher-value') };
    const body = {
      code: $('#voucher-code').value.trim(),
      discount,
      min_order_vnd: money('#voucher-min'),
      total_uses: number('#voucher-uses'),
      ends_at: Date.now() + number('#voucher-minutes') * 60_000,
      drop: $('#voucher-drop-kind').checked,
    };
    try {
      const made = await fetchJson(this.url, { token: this.token, method: 'POST', body });
      this.notice.show(t('vouchers.created', { code: made.code }), 'ok', 4000);
      this.form.reset();
      refreshMoneyInputs(this.form);
      this.showKind();
      this.load();
    } catch (error) {
      this.notice.show(errorText(error), 'error');
    }
  }

  async drop(code) {
    try {
      await this.conn.request({ type: 'drop_voucher', code });
      this.notice.show(t('vouchers.dropped', { code }), 'ok', 4000);
      this.load();
    } catch (error) {
      this.notice.show(errorText(error), 'error');
    }
  }

  async load() {
    let vouchers;
    try {
      vouchers = (await fetchJson(this.url, { token: this.token })).vouchers || [];
    } catch (error) {
      clear(this.list).append(h('p', { class: 'muted small', text: errorText(error) }));
      return;
    }
    clear(this.list);
    if (vouchers.length === 0) {
      this.list.append(h('p', { class: 'muted small', text: t('vouchers.none') }));
      return;
    }
    const lang = getLang();
    this.list.append(h('table', { class: 'orders-table', 'data-testid': 'voucher-table' },
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col', text: t('vouchers.code') }),
        h('th', { scope: 'col', text: t('vouchers.discount') }),
        h('th', { scope: 'col', class: 'num', text: t('vouchers.uses') }),
        h('th', { scope: 'col', text: t('vouchers.ends') }),
        h('th', { scope: 'col', text: t('vouchers.action') }))),
      h('tbody', {}, vouchers.map((v) => h('tr', { 'data-testid': 'voucher-row', 'data-code': v.code },
        h('td', {}, h('strong', { text: v.code }), v.drop ? h('span', { class: 'small muted', text: ` (${t('vouchers.dropKind')})` }) : null),
        h('td', { class: 'small', text: discountText(v) }),
        h('td', { class: 'num', 'data-testid': 'voucher-uses', text: v.drop ? `${v.claimed}/${v.total_uses} · ${v.used}` : `${v.used}/${v.total_uses}` }),
        h('td', { class: 'small', text: formatDateTime(v.ends_at, lang) }),
        h('td', {}, v.drop ? h('button', {
          type: 'button', class: 'btn btn-small btn-primary', 'data-testid': 'voucher-drop-button',
          'aria-label': t('vouchers.dropLabel', { code: v.code }), onclick: () => this.drop(v.code),
        }, v.dropped ? t('vouchers.dropAgain') : t('vouchers.drop')) : null))))));
  }
}
