// The order page (/order.html?code=CP…): a buyer finds her order with its
// code and the delivery phone number — no session, no account — sees what
// she bought (a bag order's every line), where it is (status, timeline,
// carrier and tracking code) and may cancel it while it is only placed. The
// phone goes in the request body, never in the address bar.

import { $, clear, h } from './dom.js';
import { errorText, getLang, initI18n, t } from './i18n.js';
import { formatTime } from './format.js';
import { Notice } from './ui.js';
import { PHONE, cancelConfirmText, cancelOrderByCode, compactPhone, lookupOrder, orderCode, orderDetails, pageCodeLoader } from './order-card.js';

initI18n();

const form = $('#lookup-form');
const codeInput = $('#lookup-code');
const phoneInput = $('#lookup-phone');
const submit = $('[data-testid=lookup-submit]');
const status = new Notice($('#lookup-status'));
const orderNotice = new Notice($('#order-notice'));
const result = $('#order-result');
const body = $('#order-body');

/** The order shown, the code and phone that found it, and when. */
let shown = null;
/** Orders whose cancel the server refused (window closed): no button again. */
const cancelRefused = new Set();

codeInput.value = new URLSearchParams(location.search).get('code') || '';
(codeInput.value ? phoneInput : codeInput).focus();

form.addEventListener('submit', (event) => {
  event.preventDefault();
  find();
});
window.addEventListener('langchange', render);

/** What went wrong, in the buyer's words. */
function problem(error) {
  if (error.code === 'order_not_found') return t('orderPage.notFound');
  if (error.code === 'rate_limited') return t('orderPage.rateLimited');
  return errorText(error);
}

async function find() {
  const code = codeInput.value.trim();
  const phone = compactPhone(phoneInput.value);
  if (!code || !PHONE.test(phone)) {
    status.show(t('orderPage.invalid'), 'error', 0);
    (code ? phoneInput : codeInput).focus();
    return;
  }
  submit.disabled = true;
  status.show(t('orderPage.loading'), 'info', 0);
  orderNotice.clear();
  try {
    const order = await lookupOrder(code, phone);
    shown = { order, phone, at: Date.now() };
    status.clear();
    // Keep the code (never the phone) in the address, for a reload or a bookmark.
    history.replaceState(null, '', `${location.pathname}?code=${encodeURIComponent(orderCode(order))}`);
  } catch (error) {
    shown = null;
    status.show(problem(error), 'error', 0);
  }
  submit.disabled = false;
  render();
}

async function cancel(order, button) {
  const code = orderCode(order);
  if (!window.confirm(cancelConfirmText(order))) return;
  button.disabled = true;
  orderNotice.show(t('order.cancelling'), 'info', 0);
  try {
    const cancelled = await cancelOrderByCode(order.order_id, shown.phone);
    shown = { ...shown, order: cancelled, at: Date.now() };
    orderNotice.show(t('order.cancelled', { code }), 'ok', 0);
  } catch (error) {
    if (error.code === 'cancel_window_closed') cancelRefused.add(order.order_id);
    orderNotice.show(problem(error), 'error', 0);
  }
  render();
}

function render() {
  clear(body);
  result.hidden = !shown;
  if (!shown) return;
  const { order, at } = shown;
  const mayCancel = order.status === 'confirmed' && !cancelRefused.has(order.order_id);
  if (order.practice) {
    // A practice room's order: nothing ships, nobody pays.
    body.append(h('p', { class: 'order-practice', 'data-testid': 'order-practice' },
      h('span', { class: 'status-pill practice-badge', text: t('practice.badge') }), ' ',
      h('span', { text: t('orderPage.practice') })));
  }
  body.append(
    orderDetails(order, { onCancel: mayCancel ? cancel : null, loadCode: pageCodeLoader(shown.phone) }),
    h('p', { class: 'muted small', 'data-testid': 'order-checked-at', text: t('orderPage.updated', { time: formatTime(at, getLang()) }) }));
}
