/**
 * The checkout form, one for the flash-sale hold and one for the bag: the
 * recipient's name, phone and address, a voucher code (filled in from a
 * claimed drop) and the payment method (cash on delivery by default, or a
 * VietQR bank transfer). It checks the shipping details as the server will
 * and hands them to its owner, which sends `confirm_hold` or
 * `checkout_bag`; it sends nothing itself.
 *
 * Ids and test ids carry a prefix, so two forms can share a page without
 * two labels pointing at one field: `checkout` gives `checkout-name`,
 * `checkout-phone`, … and the payment radios `payment-cod` /
 * `payment-bank_transfer` (the flash-sale card's, as they always were);
 * `bag-checkout` gives `bag-checkout-name`, … and `bag-payment-cod`.
 */

import { h } from './dom.js';
import { t } from './i18n.js';
import { PHONE, compactPhone } from './order-card.js';

export const PAYMENTS = ['cod', 'bank_transfer'];

/** Shipping details the server will take: a name, a Vietnamese phone, an address. */
export function validShipping(shipping) {
  return Boolean(shipping.name) && PHONE.test(shipping.phone) && shipping.address.length >= 5;
}

/**
 * @param {{prefix?: string, paymentPrefix?: string, initial?: object,
 *   submitLabel?: string, onSubmit: Function, onInvalid: Function}} options
 * `initial`: `{name, phone, address, voucher, payment}` to start from.
 * `onSubmit({shipping, payment, voucherCode}, submitButton)` with valid
 * details; `onInvalid()` otherwise.
 * @returns {{form: HTMLFormElement, submit: HTMLButtonElement,
 *   values: () => object, focus: () => void, setSubmitLabel: (text: string) => void}}
 */
export function checkoutForm({ prefix = 'checkout', paymentPrefix = 'payment', initial = {}, submitLabel = t('checkout.submit'), onSubmit, onInvalid }) {
  const id = (field) => `${prefix}-${field}`;
  const field = (name, key, input) => h('div', { class: 'field' }, h('label', { for: id(name), text: t(key) }), input);
  const name = h('input', { id: id('name'), 'data-testid': id('name'), required: true, maxlength: 80, autocomplete: 'name', value: initial.name || '' });
  const phone = h('input', { id: id('phone'), 'data-testid': id('phone'), type: 'tel', required: true, maxlength: 15, autocomplete: 'tel', inputmode: 'tel', placeholder: '0912 345 678', value: initial.phone || '' });
  const address = h('textarea', { id: id('address'), 'data-testid': id('address'), required: true, maxlength: 300, rows: 2, autocomplete: 'street-address', value: initial.address || '' });
  const voucher = h('input', {
    id: id('voucher'), 'data-testid': id('voucher'), maxlength: 20, autocomplete: 'off',
    autocapitalize: 'characters', spellcheck: 'false', value: initial.voucher || '',
  });
  const submit = h('button', { type: 'submit', class: 'btn btn-buy btn-block', 'data-testid': id('submit') }, submitLabel);
  const chosen = PAYMENTS.includes(initial.payment) ? initial.payment : 'cod';
  const option = (value) => h('label', { class: 'pay-option', for: id(`payment-${value}`) },
    h('input', { type: 'radio', name: id('payment'), id: id(`payment-${value}`), value, checked: value === chosen, 'data-testid': `${paymentPrefix}-${value}` }),
    h('span', { text: t(`payment.${value}`) }));
  const payment = h('fieldset', { class: 'pay-choice', 'data-testid': id('payment') },
    h('legend', { text: t('checkout.payment') }),
    PAYMENTS.map(option));
  const form = h('form', { class: 'checkout', 'data-testid': id('form'), novalidate: true },
    field('name', 'checkout.name', name),
    field('phone', 'checkout.phone', phone),
    field('address', 'checkout.address', address),
    field('voucher', 'checkout.voucher', voucher),
    payment,
    submit);
  const values = () => ({
    name: name.value,
    phone: phone.value,
    address: address.value,
    voucher: voucher.value,
    payment: form.querySelector(`input[name="${id('payment')}"]:checked`)?.value || 'cod',
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const typed = values();
    const shipping = { name: typed.name.trim(), phone: compactPhone(typed.phone), address: typed.address.trim() };
    if (!validShipping(shipping)) {
      onInvalid?.();
      return;
    }
    onSubmit({ shipping, payment: typed.payment, voucherCode: typed.voucher.trim() || null }, submit);
  });
  return {
    form,
    submit,
    values,
    focus: () => name.focus(),
    setSubmitLabel: (text) => { submit.textContent = text; },
  };
}
