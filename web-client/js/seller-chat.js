// The chat as the seller handles it with a thumb: the lines overlaid on the
// phone studio's camera preview (the newest at the bottom, older ones
// fading, css/studio.css), and a message's actions — reply, delete, mute,
// ban — in the action sheet (seller-sheet.js), opened by a long press
// (≈ 500 ms) on the message or by its "…" button (for keyboards and screen
// readers, and for anyone who does not know about long presses). The long
// press works on the desktop studio's chat log too, as does a right click.
//
// Every name and text goes in as a text node (dom.js): chat is never HTML.

import { $, clear, h } from './dom.js';
import { t } from './i18n.js';

/** How long a finger rests on a message before its actions open. */
export const LONG_PRESS_MS = 500;
/** A finger that moves further than this is scrolling, not pressing. */
const MOVE_SLOP_PX = 10;
/** Lines drawn on the preview: the overlay shows the latest few; scrolling up reaches these. */
const SHOWN = 40;

/**
 * Open `open(message, element)` when a message in `list` is long-pressed
 * (or right-clicked); `find(id)` turns a `data-message-id` into the
 * message. The click that ends a long press does nothing else (on the
 * desktop log a tap on a message's text would start a reply).
 */
export function wireLongPress(list, { find, open }) {
  let timer = null;
  let start = null;
  /**
   * Set when a long press fires: the click that some browsers send when the
   * finger lifts is hit-tested where the finger is — now the sheet — and must
   * not press one of its buttons. Any new touch clears it.
   */
  let swallowClick = false;
  const cancel = () => {
    clearTimeout(timer);
    timer = null;
    start = null;
  };
  const target = (event) => {
    const li = event.target.closest?.('[data-message-id]');
    if (!li || !list.contains(li)) return null;
    // Its own buttons ("…", "Trả lời", "Xoá"…) keep their taps.
    if (event.target.closest('button, a, input')) return null;
    return li;
  };
  const fire = (li) => {
    cancel();
    const message = find(Number(li.dataset.messageId));
    if (!message) return;
    swallowClick = true;
    open(message, li);
  };
  list.addEventListener('pointerdown', (event) => {
    if (event.button !== 0) return;
    const li = target(event);
    if (!li) return;
    cancel();
    start = { x: event.clientX, y: event.clientY };
    timer = setTimeout(() => fire(li), LONG_PRESS_MS);
  });
  list.addEventListener('pointermove', (event) => {
    if (start && Math.hypot(event.clientX - start.x, event.clientY - start.y) > MOVE_SLOP_PX) cancel();
  });
  for (const type of ['pointerup', 'pointercancel', 'pointerleave']) list.addEventListener(type, cancel);
  list.addEventListener('scroll', cancel, { passive: true });
  // A phone reports a long press as a context menu too; a mouse's right button does.
  list.addEventListener('contextmenu', (event) => {
    const li = target(event);
    if (!li) return;
    event.preventDefault();
    if (!swallowClick) fire(li);
  });
  document.addEventListener('pointerdown', () => { swallowClick = false; }, true);
  document.addEventListener('click', (event) => {
    if (!swallowClick) return;
    swallowClick = false;
    event.preventDefault();
    event.stopPropagation();
  }, true);
}

export class PhoneChat {
  /**
   * @param {{model: object, sheet: import('./seller-sheet.js').ActionSheet,
   *   actions: {reply(m: object): void, remove(m: object): void, mute(m: object): void, ban(m: object): void}}} deps
   * `actions` are the studio's own (seller.js): the same frames as the
   * desktop chat's buttons send.
   */
  constructor({ model, sheet, actions }) {
    Object.assign(this, { model, sheet, actions });
    this.list = $('#phone-chat-log');
    const find = (id) => this.model.chat.find((m) => Number(m.id) === id);
    const open = (message, li) => this.openActions(message, li.querySelector('.phone-more') || li);
    wireLongPress(this.list, { find, open });
    wireLongPress($('#chat-log'), { find, open });
  }

  /** Draw the latest lines again (on any chat change: they are few). */
  render() {
    const stick = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 60;
    clear(this.list);
    const shown = this.model.chat.slice(-SHOWN);
    if (shown.length === 0) this.list.append(h('li', { class: 'chat-empty', role: 'none', text: t('chat.empty') }));
    for (const message of shown) this.list.append(this.line(message));
    if (stick) this.list.scrollTop = this.list.scrollHeight;
  }

  line(message) {
    const quote = message.reply_to && typeof message.reply_to === 'object'
      ? h('span', { class: 'chat-quote', 'data-testid': 'chat-quote' },
        h('span', { class: 'chat-quote-name', text: message.reply_to.name ?? '' }),
        h('span', { text: message.reply_to.text ?? '' }))
      : null;
    const mine = message.user_id === this.model.me?.user_id;
    return h('li', {
      class: `phone-chat-line${mine ? ' chat-mine' : ''}`,
      'data-testid': 'phone-chat-message',
      'data-message-id': message.id,
      // The list is the chat's role=log region: a line is not a list item.
      role: 'none',
    },
    h('span', { class: 'phone-chat-words' },
      quote,
      h('span', { class: 'chat-name', text: message.name }),
      message.role === 'seller' ? h('span', { class: 'badge badge-seller', text: t('chat.seller') }) : null,
      h('span', { class: 'chat-text', 'data-testid': 'chat-text', text: message.text })),
    h('button', {
      type: 'button', class: 'phone-more', 'data-testid': 'phone-chat-more',
      'aria-label': t('phone.messageActions', { name: message.name }),
      'aria-haspopup': 'dialog',
      onclick: (event) => this.openActions(message, event.currentTarget),
    }, '…'));
  }

  /** The message's actions in the sheet: what the seller may do to it. */
  openActions(message, returnTo) {
    const mine = message.user_id === this.model.me?.user_id;
    const actions = [];
    if (!mine) actions.push({ label: t('phone.reply'), testid: 'sheet-reply', kind: 'primary', run: () => this.actions.reply(message) });
    actions.push({ label: t('phone.delete'), testid: 'sheet-delete', run: () => this.actions.remove(message) });
    if (!mine && message.role !== 'seller') {
      actions.push(
        { label: t('phone.mute'), testid: 'sheet-mute', run: () => this.actions.mute(message) },
        {
          label: t('phone.ban'), testid: 'sheet-ban', kind: 'danger',
          run: () => this.sheet.confirm({
            title: t('phone.banTitle', { name: message.name }),
            text: t('phone.banText'),
            yes: t('phone.banYes'), testid: 'ban-confirm', returnTo,
            run: () => this.actions.ban(message),
          }),
        },
      );
    }
    this.sheet.open({ title: message.name, text: message.text, actions, returnTo, testid: 'message-sheet' });
  }

  /** The "Trả lời Lan: …" bar above the phone's chat box (null: none). */
  showReply(message) {
    $('#phone-reply-bar').hidden = !message;
    $('#phone-reply-to').textContent = message ? t('chat.replyTo', { name: message.name, text: message.text }) : '';
  }
}
