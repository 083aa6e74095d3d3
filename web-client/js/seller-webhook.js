// The room's webhook in the studio (GET/PUT/DELETE /api/rooms/{id}/webhook):
// the URL of the shop's own system and the secret it verifies signatures
// with (shown to the seller only), a test ping, and the delivery log
// (GET …/webhook/deliveries) with a retry for each delivery.

import { $, clear, h } from './dom.js';
import { errorText, getLang, t } from './i18n.js';
import { formatDateTime } from './format.js';
import { fetchJson } from './protocol.js';
import { Notice } from './ui.js';

/** How often the open studio re-reads the delivery log. */
const LOG_REFRESH_MS = 10_000;

export class SellerWebhook {
  constructor({ roomId, token }) {
    Object.assign(this, { roomId, token });
    this.form = $('#webhook-form');
    this.url = $('#webhook-url');
    this.secret = $('#webhook-secret');
    this.log = $('#webhook-log');
    this.notice = new Notice($('#webhook-notice'));
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.save();
    });
    $('#webhook-test').addEventListener('click', () => this.test());
    $('#webhook-remove').addEventListener('click', () => this.remove());
    $('#webhook-refresh').addEventListener('click', () => this.loadLog());
    this.load();
    setInterval(() => { if (!document.hidden) this.loadLog(); }, LOG_REFRESH_MS);
  }

  get base() {
    return `/api/rooms/${encodeURIComponent(this.roomId)}/webhook`;
  }

  async load() {
    try {
      this.show(await fetchJson(this.base, { token: this.token }));
    } catch (error) {
      if (error.code !== 'webhook_not_found') this.notice.show(errorText(error), 'error');
      this.show(null);
    }
    this.loadLog();
  }

  show(webhook) {
    this.url.value = webhook ? webhook.url : '';
    this.secret.value = webhook ? webhook.secret : '';
  }

  async save() {
    const body = { url: this.url.value.trim() };
    // An empty secret keeps the current one (or makes one for a new webhook).
    if (this.secret.value.trim()) body.secret = this.secret.value.trim();
    try {
      this.show(await fetchJson(this.base, { token: this.token, method: 'PUT', body }));
      this.notice.show(t('webhook.saved'), 'ok', 5000);
    } catch (error) {
      this.notice.show(errorText(error), 'error');
    }
  }

  async remove() {
    try {
      await fetchJson(this.base, { token: this.token, method: 'DELETE' });
      this.show(null);
      this.notice.show(t('webhook.removed'), 'ok', 4000);
      this.loadLog();
    } catch (error) {
      this.notice.show(errorText(error), 'error');
    }
  }

  async test() {
    try {
      await fetchJson(`${this.base}/test`, { token: this.token, method: 'POST' });
      this.notice.show(t('webhook.testSent'), 'ok', 4000);
      setTimeout(() => this.loadLog(), 1500);
    } catch (error) {
      this.notice.show(errorText(error), 'error');
    }
  }

  async retry(eventId) {
    try {
      await fetchJson(`${this.base}/deliveries/${encodeURIComponent(eventId)}/retry`, { token: this.token, method: 'POST' });
      this.notice.show(t('webhook.retrying'), 'ok', 4000);
      setTimeout(() => this.loadLog(), 1500);
    } catch (error) {
      this.notice.show(errorText(error), 'error');
    }
  }

  async loadLog() {
    let log;
    try {
      log = await fetchJson(`${this.base}/deliveries`, { token: this.token });
    } catch (error) {
      clear(this.log).append(h('p', { class: 'muted small', text: errorText(error) }));
      return;
    }
    this.renderLog(log.deliveries || []);
  }

  renderLog(deliveries) {
    clear(this.log);
    if (deliveries.length === 0) {
      this.log.append(h('p', { class: 'muted small', 'data-testid': 'webhook-log-empty', text: t('webhook.logEmpty') }));
      return;
    }
    const lang = getLang();
    this.log.append(h('table', { class: 'orders-table webhook-table', 'data-testid': 'webhook-log-table' },
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col', text: t('webhook.when') }),
        h('th', { scope: 'col', text: t('webhook.event') }),
        h('th', { scope: 'col', text: t('webhook.state') }),
        h('th', { scope: 'col', class: 'num', text: t('webhook.attempts') }),
        h('th', { scope: 'col', text: t('webhook.result') }),
        h('th', { scope: 'col', text: t('webhook.action') }))),
      h('tbody', {}, deliveries.map((d) => h('tr', { 'data-testid': 'webhook-row', 'data-state': d.state, 'data-event-id': d.event_id },
        h('td', { class: 'small', text: formatDateTime(d.created_at, lang) }),
        h('td', {}, h('code', { text: d.event_type })),
        h('td', {}, h('span', { class: 'order-badge', 'data-status': d.state, 'data-testid': 'webhook-state', text: t(`webhook.states.${d.state}`) })),
        h('td', { class: 'num', text: String(d.attempts) }),
        h('td', { class: 'small', text: d.last_error || (d.last_status ? `HTTP ${d.last_status}` : '') }),
        h('td', {}, d.state === 'delivered' ? null : h('button', {
          type: 'button', class: 'btn btn-small', 'data-testid': 'webhook-retry',
          'aria-label': t('webhook.retryLabel', { event: d.event_type }), onclick: () => this.retry(d.event_id),
        }, t('webhook.retry'))))))));
  }
}
