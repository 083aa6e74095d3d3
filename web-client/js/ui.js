// Page parts both the seller studio and the viewer page use: the chat log,
// the chat form, the connection banner and short notices.

import { clear, h, safeImageUrl, thumbOf } from './dom.js';
import { errorText, t, getLang } from './i18n.js';
import { formatCount, formatTime, formatVnd } from './format.js';

/** Keep the log scrolled to the end unless the reader scrolled up. */
function nearBottom(el) {
  return el.scrollHeight - el.scrollTop - el.clientHeight < 80;
}

function roleBadge(role) {
  if (role === 'seller') return h('span', { class: 'badge badge-seller', text: t('chat.seller') });
  if (role === 'moderator') return h('span', { class: 'badge badge-mod', text: t('chat.moderator') });
  return null;
}

/** The question a reply answers, quoted above it (name and text, as text). */
function replyQuote(replyTo) {
  if (!replyTo || typeof replyTo !== 'object') return null;
  return h('span', { class: 'chat-quote', 'data-testid': 'chat-quote', 'data-reply-to': replyTo.id },
    h('span', { class: 'visually-hidden', text: t('chat.replyingTo') }),
    h('span', { class: 'chat-quote-name', 'data-testid': 'chat-quote-name', text: replyTo.name ?? '' }),
    h('span', { class: 'chat-quote-text', 'data-testid': 'chat-quote-text', text: replyTo.text ?? '' }));
}

/**
 * The chat log. `moderation` (seller studio) adds delete / mute / ban
 * buttons to each message from someone else; `onReply(message)` (studio) a
 * "Trả lời" button to each, also reached by tapping the message's text;
 * `questions` (a QuestionTracker) marks viewers' questions; `empty` is the
 * i18n key of what an empty log says.
 */
export class ChatLog {
  constructor(listEl, { moderation = null, onReply = null, questions = null, empty = 'chat.empty' } = {}) {
    this.list = listEl;
    // In a role=log region a line is not a list item (axe `listitem`); in a plain list it is.
    this.lineRole = listEl.getAttribute('role') === 'log' ? 'none' : null;
    this.empty = empty;
    this.moderation = moderation;
    this.onReply = onReply;
    this.questions = questions;
    this.model = null;
  }

  item(message) {
    const me = this.model?.me?.user_id;
    const children = [
      replyQuote(message.reply_to),
      h('span', { class: 'chat-time', text: formatTime(message.sent_at, getLang()) }),
      h('span', { class: 'chat-name', 'data-testid': 'chat-name', text: message.name }),
      roleBadge(message.role),
      h('span', {
        class: 'chat-text', 'data-testid': 'chat-text', text: message.text,
        onclick: this.onReply && message.user_id !== me ? () => this.onReply(message) : null,
      }),
    ];
    const question = this.questions?.isQuestion(message.id);
    const li = h('li', {
      class: `chat-message${message.user_id === me ? ' chat-mine' : ''}${message.reply_to ? ' chat-reply' : ''}${question ? ' chat-question' : ''}`,
      'data-testid': 'chat-message',
      'data-message-id': message.id,
      role: this.lineRole,
    }, children);
    if (this.moderation || this.onReply) {
      const actions = h('span', { class: 'chat-actions' });
      if (this.onReply && message.user_id !== me) {
        actions.append(h('button', {
          type: 'button', class: 'btn-link', 'data-testid': 'chat-reply-button',
          'aria-label': t('chat.replyLabel', { name: message.name }),
          onclick: () => this.onReply(message),
        }, t('chat.reply')));
      }
      li.append(actions);
    }
    if (this.moderation) {
      const actions = li.querySelector('.chat-actions');
      actions.append(
        h('button', {
          type: 'button', class: 'btn-link', 'data-testid': 'mod-delete',
          'aria-label': t('mod.deleteLabel', { name: message.name }),
          onclick: () => this.moderation.onDelete(message),
        }, t('mod.delete')));
      if (message.user_id !== me && message.role !== 'seller') {
        actions.append(
          h('button', {
            type: 'button', class: 'btn-link', 'data-testid': 'mod-mute',
            'aria-label': t('mod.muteLabel', { name: message.name }),
            onclick: () => this.moderation.onMute(message),
          }, t('mod.mute')),
          h('button', {
            type: 'button', class: 'btn-link btn-danger-link', 'data-testid': 'mod-ban',
            'aria-label': t('mod.banLabel', { name: message.name }),
            onclick: () => this.moderation.onBan(message),
          }, t('mod.ban')),
        );
      }
    }
    return li;
  }

  render(model) {
    this.model = model;
    clear(this.list);
    if (model.chat.length === 0) {
      this.list.append(h('li', { class: 'chat-empty', role: this.lineRole, text: t(this.empty) }));
      return;
    }
    for (const message of model.chat) this.list.append(this.item(message));
    this.list.scrollTop = this.list.scrollHeight;
  }

  append(model, message) {
    this.model = model;
    const stick = nearBottom(this.list);
    this.list.querySelector('.chat-empty')?.remove();
    this.list.append(this.item(message));
    while (this.list.children.length > 200) this.list.firstElementChild.remove();
    if (stick) this.list.scrollTop = this.list.scrollHeight;
  }

  remove(messageId) {
    this.list.querySelector(`[data-message-id="${Number(messageId)}"]`)?.remove();
  }
}

/**
 * Wire a chat form: send on submit, show refusals in `noticeEl`. `reply`
 * (studio): `{ current(): message|null, clear() }`, the message being
 * answered, whose id the frame carries as `reply_to`.
 */
export function wireChatForm(form, input, conn, notice, reply = null) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    const replyTo = reply?.current() || null;
    try {
      await conn.request(replyTo ? { type: 'chat', text, reply_to: replyTo.id } : { type: 'chat', text });
      input.value = '';
      if (replyTo) reply.clear();
      notice.clear();
    } catch (error) {
      notice.show(errorText(error), 'error');
    } finally {
      button.disabled = false;
      input.focus();
    }
  });
}

/** A short message area (role=status) that fades after a while. */
export class Notice {
  constructor(el) {
    this.el = el;
    this.timer = null;
  }

  show(text, kind = 'info', ms = 6000) {
    clearTimeout(this.timer);
    this.el.textContent = text;
    this.el.dataset.kind = kind;
    this.el.hidden = false;
    if (ms) this.timer = setTimeout(() => this.clear(), ms);
  }

  clear() {
    clearTimeout(this.timer);
    this.el.textContent = '';
    this.el.hidden = true;
  }
}

/** The connection banner: hidden while connected, explains anything else. */
export function renderConnection(el, status) {
  const key = {
    connecting: 'conn.connecting',
    reconnecting: 'conn.reconnecting',
    ended: 'conn.ended',
    banned: 'conn.banned',
    failed: 'conn.failed',
  }[status];
  el.dataset.status = status;
  el.hidden = !key;
  el.textContent = key ? t(key) : '';
}

/** Room status pill text: scheduled / live / ended. */
export function renderRoomStatus(el, status) {
  el.dataset.status = status || 'scheduled';
  el.textContent = t(`status.${status || 'scheduled'}`);
}

/** "Còn 115": what a product has on hand (outside a running flash sale and the bags). */
export function stockText(product) {
  return t('product.stock', { n: formatCount(product.stock) });
}

/**
 * A product card (the viewer page's pinned product and catalog).
 * `actions`: an element under its price (the viewer's add-to-bag control).
 * `onToggle(open)`: the card opens and closes (its name is a button, its
 * picture a tap target; a closed card shows two lines of its description);
 * `open` is its state to start with.
 */
export function productCard(product, { actions = null, onToggle = null, open = false } = {}) {
  const card = h('article', { class: `product-card${onToggle ? ' can-open' : ''}${open ? ' is-open' : ''}`, 'data-testid': 'product-card', 'data-product-id': product.id });
  let name = product.name;
  let image = h('img', { class: 'product-img', src: safeImageUrl(thumbOf(product.image_url)), alt: '', width: 96, height: 96, loading: 'lazy' });
  if (onToggle) {
    const toggle = () => {
      const nowOpen = !card.classList.contains('is-open');
      card.classList.toggle('is-open', nowOpen);
      button.setAttribute('aria-expanded', String(nowOpen));
      onToggle(nowOpen);
    };
    const button = h('button', { type: 'button', class: 'product-open', 'data-testid': 'product-open', 'aria-expanded': String(open), onclick: toggle }, product.name);
    name = button;
    image.addEventListener('click', toggle);
  }
  card.append(image,
    h('div', { class: 'product-body' },
      h('h3', { class: 'product-name', 'data-testid': 'product-name' }, name),
      product.description ? h('p', { class: 'product-desc', text: product.description }) : null,
      h('p', { class: 'product-meta' },
        h('span', { class: 'price', 'data-testid': 'product-price', text: formatVnd(product.price_vnd) }),
        h('span', { class: 'stock', 'data-testid': 'product-stock', text: stockText(product) })),
      actions));
  return card;
}
