// The seller studio: one page to go live, show products, run flash sales,
// talk with viewers and moderate the chat.
//
// The seller's token comes in the URL fragment (`#token=…`, printed by the
// server at start), which browsers never send to servers or in referrers.

import { $, clear, h, safeImageUrl } from './dom.js';
import { errorText, initI18n, t } from './i18n.js';
import { formatCount, formatVnd } from './format.js';
import { RoomConnection } from './protocol.js';
import { applyMessage, createRoomModel } from './room-model.js';
import { ChatLog, Notice, renderConnection, renderRoomStatus, wireChatForm } from './ui.js';
import { SellerMedia } from './seller-media.js';
import { SellerSales } from './seller-sale.js';
import { SellerOrders } from './seller-orders.js';
import { SellerPayment } from './seller-payment.js';
import { SellerWebhook } from './seller-webhook.js';
import { SellerVouchers } from './seller-vouchers.js';

const params = new URLSearchParams(location.search);
const roomId = params.get('room') || 'tra-thai-nguyen';
const token = new URLSearchParams(location.hash.slice(1)).get('token') || sessionStorage.getItem(`chophien.seller.${roomId}`);

const model = createRoomModel();
/** Test and debugging hook: the live objects of this page. */
const hook = { model, state: model, conn: null, pc: null, publisher: null };
window.__chophien = hook;

initI18n();

if (!token) {
  $('#no-token').hidden = false;
} else {
  try {
    sessionStorage.setItem(`chophien.seller.${roomId}`, token);
  } catch {
    // Private mode: the fragment is still in the URL.
  }
  start();
}

function start() {
  const conn = new RoomConnection({ roomId, token });
  hook.conn = conn;
  const chatNotice = new Notice($('#chat-notice'));
  const productNotice = new Notice($('#product-notice'));
  const modNotice = new Notice($('#mod-notice'));
  const media = new SellerMedia({ conn, model, notice: new Notice($('#camera-notice')), hook });
  const sales = new SellerSales({ conn, model });
  const orders = new SellerOrders({ conn, roomId, token });
  hook.payment = new SellerPayment({ roomId, token });
  hook.webhook = new SellerWebhook({ roomId, token });
  hook.vouchers = new SellerVouchers({ conn, roomId, token });
  hook.media = media;
  hook.sales = sales;
  hook.orders = orders;
  let editing = null;

  const act = async (message, notice, okText) => {
    try {
      await conn.request(message);
      if (okText) notice.show(okText, 'ok', 3000);
      return true;
    } catch (error) {
      notice.show(errorText(error), 'error');
      return false;
    }
  };

  const chatLog = new ChatLog($('#chat-log'), {
    moderation: {
      onDelete: (m) => act({ type: 'delete_message', message_id: m.id }, chatNotice),
      onMute: (m) => act({ type: 'mute_user', user_id: m.user_id, minutes: 5 }, chatNotice, t('notice.done')),
      onBan: (m) => {
        if (window.confirm(t('mod.banConfirm', { name: m.name }))) act({ type: 'ban_user', user_id: m.user_id }, chatNotice, t('notice.done'));
      },
    },
  });
  wireChatForm($('#chat-form'), $('#chat-input'), conn, chatNotice);

  $('#slow-form').addEventListener('submit', (event) => {
    event.preventDefault();
    act({ type: 'set_slow_mode', seconds: Number($('#slow-mode').value) || 0 }, modNotice, t('mod.saved'));
  });
  $('#words-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const words = $('#banned-words').value.split(',').map((w) => w.trim()).filter(Boolean);
    act({ type: 'set_banned_words', words }, modNotice, t('mod.saved'));
  });
  $('#add-product').addEventListener('submit', async (event) => {
    event.preventDefault();
    const product = {
      name: $('#new-name').value.trim(),
      price_vnd: Number($('#new-price').value),
      stock: Number($('#new-stock').value),
      description: $('#new-description').value.trim(),
    };
    const image = $('#new-image').value.trim();
    if (image) product.image_url = image;
    if (await act({ type: 'add_product', product }, productNotice, t('seller.saved'))) event.target.reset();
  });

  function renderProducts() {
    const list = $('#product-rows');
    clear(list);
    const pinnedId = model.pinned?.id;
    for (const p of model.products) {
      const pinned = p.id === pinnedId;
      const row = h('li', { class: `product-row${pinned ? ' is-pinned' : ''}`, 'data-testid': 'product-row', 'data-product-id': p.id },
        h('img', { src: safeImageUrl(p.image_url), alt: '', width: 56, height: 56, loading: 'lazy' }),
        h('div', {},
          h('strong', { 'data-testid': 'product-name', text: p.name }),
          pinned ? h('span', { class: 'pinned-tag', text: t('seller.pinned') }) : null,
          h('div', { class: 'product-meta' },
            h('span', { class: 'price', 'data-testid': 'product-price', text: formatVnd(p.price_vnd) }),
            h('span', { class: 'stock', text: t('product.stock', { n: formatCount(p.stock) }) }))),
        h('div', { class: 'row-actions' },
          pinned
            ? h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'unpin', onclick: () => act({ type: 'unpin_product' }, productNotice) }, t('seller.unpin'))
            : h('button', { type: 'button', class: 'btn btn-small btn-primary', 'data-testid': 'pin', 'aria-label': t('seller.pinLabel', { name: p.name }), onclick: () => act({ type: 'pin_product', product_id: p.id }, productNotice) }, t('seller.pin')),
          h('button', { type: 'button', class: 'btn btn-small btn-ghost', 'data-testid': 'edit', 'aria-expanded': String(editing === p.id), onclick: () => { editing = editing === p.id ? null : p.id; renderProducts(); } }, t('seller.edit')),
          h('button', { type: 'button', class: 'btn btn-small btn-danger', 'data-testid': 'remove', onclick: () => { if (window.confirm(t('seller.removeConfirm', { name: p.name }))) act({ type: 'remove_product', product_id: p.id }, productNotice); } }, t('seller.remove'))));
      if (editing === p.id) row.append(editForm(p));
      list.append(row);
    }
    sales.renderProducts();
  }

  function editForm(p) {
    const id = (name) => `edit-${p.id}-${name}`;
    const field = (name, key, input) => h('div', { class: 'field' }, h('label', { for: id(name), text: t(key) }), input);
    const price = h('input', { id: id('price'), type: 'number', min: 0, step: 1000, value: p.price_vnd, 'data-testid': 'edit-price' });
    const stock = h('input', { id: id('stock'), type: 'number', min: 0, value: p.stock, 'data-testid': 'edit-stock' });
    const image = h('input', { id: id('image'), type: 'text', inputmode: 'url', value: p.image_url || '', 'data-testid': 'edit-image' });
    const form = h('form', { class: 'edit-form form-grid' },
      field('price', 'seller.productPrice', price),
      field('stock', 'seller.productStock', stock),
      h('div', { class: 'wide' }, field('image', 'seller.productImage', image)),
      h('div', { class: 'button-row wide' },
        h('button', { type: 'submit', class: 'btn btn-primary btn-small', 'data-testid': 'edit-save' }, t('seller.save')),
        h('button', { type: 'button', class: 'btn btn-ghost btn-small', onclick: () => { editing = null; renderProducts(); } }, t('seller.cancel'))));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const changes = { price_vnd: Number(price.value), stock: Number(stock.value) };
      if (image.value.trim()) changes.image_url = image.value.trim();
      if (await act({ type: 'update_product', product_id: p.id, ...changes }, productNotice, t('seller.saved'))) {
        editing = null;
        renderProducts();
      }
    });
    return form;
  }

  /** Who is banned, each with an undo for the roles that may lift a ban. */
  function renderBans() {
    const list = $('#ban-list');
    clear(list);
    const mayUnban = ['seller', 'trainer', 'admin'].includes(model.me?.role);
    for (const [userId, name] of model.banned) {
      const label = name || userId;
      list.append(h('li', { class: 'ban-row', 'data-testid': 'ban-row', 'data-user-id': userId },
        h('span', { class: 'ban-name', text: label, title: userId }),
        mayUnban
          ? h('button', {
            type: 'button', class: 'btn btn-small', 'data-testid': 'unban',
            'aria-label': t('mod.unbanLabel', { name: label }),
            onclick: () => act({ type: 'unban_user', user_id: userId }, modNotice, t('mod.unbanned', { name: label })),
          }, t('mod.unban'))
          : null));
    }
    $('#no-bans').hidden = model.banned.size > 0;
  }

  function render(changed) {
    if (changed.has('room') && model.room) {
      $('[data-testid=room-title]').textContent = model.room.title;
      const pill = $('[data-testid=room-status]');
      pill.hidden = false;
      renderRoomStatus(pill, model.room.status);
      media.render();
    }
    if (changed.has('stats')) {
      $('[data-testid=stat-viewers]').textContent = formatCount(model.viewers);
      $('[data-testid=stat-hearts]').textContent = formatCount(model.heartsTotal);
    }
    if (changed.has('chat')) chatLog.render(model);
    if (changed.has('chat-append')) chatLog.append(model, model.lastChat);
    if (changed.has('chat-delete')) chatLog.remove(model.lastDeleted);
    if (changed.has('products') || changed.has('pinned')) renderProducts();
    if (changed.has('settings') && document.activeElement !== $('#slow-mode')) $('#slow-mode').value = String(model.settings.slow_mode_seconds);
    if (changed.has('sale')) sales.renderSale();
    // New orders come with `sale_purchase`; changed ones with `order_status` (seller-orders.js).
    if (changed.has('purchase')) orders.schedule();
    if (changed.has('stream')) media.render();
    if (changed.has('moderation')) renderBans();
  }

  conn.on('status', ({ status }) => {
    renderConnection($('[data-testid=connection]'), status);
    if (status === 'ended') media.render();
  });
  conn.on('*', (message) => {
    render(applyMessage(model, message));
    // A new connection has no publish on the server: offer again if on air.
    if (message.type === 'snapshot' || message.type === 'resumed') media.publish();
    // A fresh snapshot replays no events: orders may have moved meanwhile.
    if (message.type === 'snapshot') orders.schedule();
  });
  window.addEventListener('langchange', () => {
    render(new Set(['room', 'stats', 'chat', 'products', 'sale', 'stream', 'moderation']));
    orders.render();
  });
  conn.connect();
  orders.load();
}
