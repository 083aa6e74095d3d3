// Page parts both the seller studio and the viewer page use: the chat log,
// the chat form, the connection banner and short notices.

import { clear, h, safeImageUrl } from './dom.js';
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

/**
 * The chat log. `moderation` (seller studio) adds delete / mute / ban
 * buttons to each message from someone else.
 */
export class ChatLog {
  constructor(listEl, { moderation = null } = {}) {
    this.list = listEl;
    this.moderation = moderation;
    this.model = null;
  }

  item(message) {
    const me = this.model?.me?.user_id;
    const children = [
      h('span', { class: 'chat-time', text: formatTime(message.sent_at, getLang()) }),
      h('span', { class: 'chat-name', 'data-testid': 'chat-name', text: message.name }),
      roleBadge(message.role),
      h('span', { class: 'chat-text', 'data-testid': 'chat-text', text: message.text }),
    ];
    const li = h('li', {
      class: `chat-message${message.user_id === me ? ' chat-mine' : ''}`,
      'data-testid': 'chat-message',
      'data-message-id': message.id,
    }, children);
    if (this.moderation) {
      const actions = h('span', { class: 'chat-actions' },
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
      li.append(actions);
    }
    return li;
  }

  render(model) {
    this.model = model;
    clear(this.list);
    if (model.chat.length === 0) {
      this.list.append(h('li', { class: 'chat-empty', text: t('chat.empty') }));
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

/** Wire a chat form: send on submit, show refusals in `noticeEl`. */
export function wireChatForm(form, input, conn, notice) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      await conn.request({ type: 'chat', text });
      input.value = '';
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
 */
export function productCard(product, { actions = null } = {}) {
  return h('article', { class: 'product-card', 'data-testid': 'product-card', 'data-product-id': product.id },
    h('img', { class: 'product-img', src: safeImageUrl(product.image_url), alt: '', width: 96, height: 96, loading: 'lazy' }),
    h('div', { class: 'product-body' },
      h('h3', { class: 'product-name', 'data-testid': 'product-name', text: product.name }),
      product.description ? h('p', { class: 'product-desc', text: product.description }) : null,
      h('p', { class: 'product-meta' },
        h('span', { class: 'price', 'data-testid': 'product-price', text: formatVnd(product.price_vnd) }),
        h('span', { class: 'stock', 'data-testid': 'product-stock', text: stockText(product) })),
      actions));
}
