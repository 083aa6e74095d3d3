// Money inputs that format as you type: the seller types 250000 and sees
// "250.000 ₫" (format.js's way of writing đồng), the caret stays after the
// digit she just typed, and the page reads back exactly 250000.
//
// A money input is an `<input type="text" inputmode="numeric">` (a number
// input cannot show dots or "₫"; `inputmode` still opens the phone's digit
// keypad). Only digits count: whatever else is typed or pasted is dropped,
// so "250.000 ₫", "250,000" and "250000" all read 250000.
//
// `data-money="off"` on an input turns formatting off while it holds
// something else (a voucher's percent); the value is read the same way.

import { formatVnd } from './format.js';

/** Past 15 digits a Number no longer holds every đồng; no price is near it. */
const MAX_DIGITS = 15;

/** The digits of `text`, without leading zeros ("" when there are none). */
export function digitsOf(text) {
  return String(text ?? '').replace(/\D/g, '').replace(/^0+(?=\d)/, '').slice(0, MAX_DIGITS);
}

/** The amount typed in `input`: a whole number, or `NaN` when it is empty. */
export function moneyValue(input) {
  const digits = digitsOf(input.value);
  return digits === '' ? NaN : Number(digits);
}

function formatting(input) {
  return input.dataset.money !== 'off';
}

/** How `digits` are shown in `input`. */
function shown(input, digits) {
  if (digits === '') return '';
  return formatting(input) ? formatVnd(Number(digits)) : digits;
}

/** Set `input` to `amount` (a number, or empty for `null`/`NaN`), formatted. */
export function setMoney(input, amount) {
  const digits = amount === null || amount === undefined || Number.isNaN(Number(amount)) ? '' : digitsOf(String(Math.trunc(Number(amount))));
  input.value = shown(input, digits);
}

/** The position in `text` just after its `n`-th digit (0: before the first). */
function afterDigit(text, n) {
  if (n === 0) {
    const first = text.search(/\d/);
    return first < 0 ? 0 : first;
  }
  let seen = 0;
  for (let i = 0; i < text.length; i += 1) {
    if (/\d/.test(text[i])) {
      seen += 1;
      if (seen === n) return i + 1;
    }
  }
  return text.length;
}

/** Digits in `text` before position `at`. */
function digitsBefore(text, at) {
  return (text.slice(0, at).match(/\d/g) || []).length;
}

function setCaret(input, at) {
  if (document.activeElement !== input) return;
  try { input.setSelectionRange(at, at); } catch { /* not a text input */ }
}

/** Format `input` again from its digits, keeping the caret after the same digit. */
function reformat(input) {
  const before = input.value;
  const caret = input.selectionStart ?? before.length;
  const digitsLeft = digitsBefore(before, caret);
  const digits = digitsOf(before);
  // Leading zeros dropped: the caret counts only the digits kept.
  const dropped = (before.replace(/\D/g, '').match(/^0+(?=\d)/) || [''])[0].length;
  const after = shown(input, digits);
  if (after !== before) input.value = after;
  setCaret(input, afterDigit(after, Math.max(0, Math.min(digits.length, digitsLeft - dropped))));
}

/**
 * Make `input` a money input: formatted now and on every edit; Backspace
 * and Delete next to a dot remove the digit beyond it, and the caret is
 * kept out of the "₫" at the end. Returns `input`.
 */
export function attachMoneyInput(input) {
  if (input.dataset.moneyInput) return input;
  input.dataset.moneyInput = 'on';
  input.type = 'text';
  input.inputMode = 'numeric';
  input.autocomplete = 'off';
  input.value = shown(input, digitsOf(input.value));
  input.addEventListener('input', () => reformat(input));
  input.addEventListener('keydown', (event) => {
    if (!formatting(input) || input.selectionStart !== input.selectionEnd) return;
    const text = input.value;
    const at = input.selectionStart ?? text.length;
    const lastDigit = afterDigit(text, digitsOf(text).length);
    if (event.key === 'Backspace') {
      // From inside "₫" or after a dot: the digit before is what goes.
      let to = Math.min(at, lastDigit);
      while (to > 0 && !/\d/.test(text[to - 1])) to -= 1;
      if (to !== at) input.setSelectionRange(to, to);
    } else if (event.key === 'Delete') {
      let to = at;
      while (to < lastDigit && !/\d/.test(text[to])) to += 1;
      if (to !== at) input.setSelectionRange(to, to);
    }
  });
  // A click or tab into the field never leaves the caret in " ₫".
  const keepOutOfSuffix = () => {
    if (!formatting(input) || input.selectionStart !== input.selectionEnd) return;
    const lastDigit = afterDigit(input.value, digitsOf(input.value).length);
    if ((input.selectionStart ?? 0) > lastDigit) input.setSelectionRange(lastDigit, lastDigit);
  };
  input.addEventListener('click', keepOutOfSuffix);
  input.addEventListener('focus', () => setTimeout(keepOutOfSuffix, 0));
  return input;
}

/** Turn formatting on or off (`data-money`) and show the value again. */
export function setMoneyFormatting(input, on) {
  const digits = digitsOf(input.value);
  input.dataset.money = on ? 'on' : 'off';
  input.value = shown(input, digits);
}

/** Every money input under `root`, formatted again (after a form's `reset()`). */
export function refreshMoneyInputs(root = document) {
  for (const input of root.querySelectorAll('input[data-money-input]')) input.value = shown(input, digitsOf(input.value));
}
