// The seller's bank account for VietQR transfers (GET/PUT/DELETE
// /api/rooms/{id}/payment): a bank from the server's list (NAPAS BIN), the
// account number and the holder's name as the bank prints it. Buyers who
// choose bank transfer then see a QR with the exact amount and their order
// code; without an account they can pay on delivery only.

import { $, clear, h } from './dom.js';
import { errorText, t } from './i18n.js';
import { fetchJson } from './protocol.js';
import { Notice } from './ui.js';

export class SellerPayment {
  constructor({ roomId, token }) {
    Object.assign(this, { roomId, token });
    this.form = $('#payment-form');
    this.bank = $('#payment-bank');
    this.number = $('#payment-number');
    this.name = $('#payment-name');
    this.current = $('#payment-current');
    this.notice = new Notice($('#payment-notice'));
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.save();
    });
    $('#payment-remove').addEventListener('click', () => this.remove());
    this.load();
  }

  get url() {
    return `/api/rooms/${encodeURIComponent(this.roomId)}/payment`;
  }

  async load() {
    try {
      const banks = await fetchJson('/api/banks');
      clear(this.bank);
      for (const bank of banks) this.bank.append(h('option', { value: bank.bin }, `${bank.short_name} — ${bank.name}`));
    } catch (error) {
      this.notice.show(errorText(error), 'error');
    }
    try {
      this.show(await fetchJson(this.url, { token: this.token }));
    } catch (error) {
      if (error.code === 'payment_not_set') this.show(null);
      else this.notice.show(errorText(error), 'error');
    }
  }

  show(account) {
    if (account) {
      if ([...this.bank.options].some((o) => o.value === account.bin)) this.bank.value = account.bin;
      this.number.value = account.account_number;
      this.name.value = account.account_name;
      const bank = account.bank ? account.bank.short_name : account.bin;
      this.current.textContent = t('bank.current', { bank, number: account.account_number, name: account.account_name });
    } else {
      this.current.textContent = t('bank.none');
    }
  }

  async save() {
    const body = { bin: this.bank.value, account_number: this.number.value.replace(/\s/g, ''), account_name: this.name.value.trim() };
    try {
      const account = await fetchJson(this.url, { token: this.token, method: 'PUT', body });
      this.show(account);
      this.notice.show(t('bank.saved'), 'ok', 4000);
    } catch (error) {
      this.notice.show(errorText(error), 'error');
    }
  }

  async remove() {
    try {
      await fetchJson(this.url, { token: this.token, method: 'DELETE' });
      this.number.value = '';
      this.name.value = '';
      this.show(null);
      this.notice.show(t('bank.removed'), 'ok', 4000);
    } catch (error) {
      this.notice.show(errorText(error), 'error');
    }
  }
}
