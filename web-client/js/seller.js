// The seller studio: one page to go live, show products, run flash sales,
// talk with viewers and moderate the chat.
//
// The seller's token comes in the URL fragment (`#token=…`, printed by the
// server at start), which browsers never send to servers or in referrers.

import { $, clear, h, safeImageUrl, thumbOf } from './dom.js';
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
import { SellerLiveReport } from './seller-report.js';
import { QuestionTracker, UNANSWERED_AFTER_MS } from './question.js';
import { ActionSheet } from './seller-sheet.js';
import { PhoneChat } from './seller-chat.js';
import { SalePresets } from './seller-presets.js';
import { PhoneStudio } from './seller-phone.js';
import { SellerNote } from './seller-note.js';
import { attachCoaching } from './seller-coaching.js';
import { attachSchedule } from './seller-schedule.js';
import { PhotoPicker, advancedBlock, wireDisclosure } from './seller-photo.js';
import { attachMoneyInput, digitsOf, moneyValue, refreshMoneyInputs } from './money-input.js';

const params = new URLSearchParams(location.search);
const roomId = params.get('room') || 'tra-thai-nguyen';
const token = new URLSearchParams(location.hash.slice(1)).get('token') || sessionStorage.getItem(`chophien.seller.${roomId}`);

const model = createRoomModel();
/**
 * Test and debugging hook: the live objects of this page. `questionAfterMs`
 * is how old an unanswered question must be to be highlighted (one minute;
 * tests lower it instead of waiting).
 */
const hook = { model, state: model, conn: null, pc: null, publisher: null, questionAfterMs: UNANSWERED_AFTER_MS };
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
  // With a token the phone studio takes the screen below 960 px (css/studio.css).
  document.body.classList.add('studio-ready');
  const conn = new RoomConnection({ roomId, token });
  hook.conn = conn;
  const chatNotice = new Notice($('#chat-notice'));
  const productNotice = new Notice($('#product-notice'));
  const modNotice = new Notice($('#mod-notice'));
  const cameraNotice = new Notice($('#camera-notice'));
  const phoneNotice = new Notice($('#phone-notice'));
  // The camera's troubles are told where she looks: the phone's live screen, or the camera panel.
  const mediaNotice = {
    show: (...args) => (phone.active ? phoneNotice : cameraNotice).show(...args),
    clear: () => { cameraNotice.clear(); phoneNotice.clear(); },
  };
  const media = new SellerMedia({ conn, model, notice: mediaNotice, hook });
  const sales = new SellerSales({ conn, model });
  const orders = new SellerOrders({ conn, roomId, token });
  hook.payment = new SellerPayment({ roomId, token });
  hook.webhook = new SellerWebhook({ roomId, token });
  hook.vouchers = new SellerVouchers({ conn, roomId, token });
  hook.media = media;
  hook.sales = sales;
  hook.orders = orders;
  const liveReport = new SellerLiveReport({ roomId, token, model });
  hook.liveReport = liveReport;
  const questions = new QuestionTracker();
  hook.questions = questions;
  /** The product whose form is open, and what was typed in it (by product id). */
  let editing = null;
  const drafts = new Map();

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

  /** The message the seller is answering (its id goes out as `reply_to`). */
  let replyingTo = null;
  const reply = {
    current: () => replyingTo,
    clear: () => startReply(null),
  };
  function startReply(message) {
    replyingTo = message;
    $('#reply-bar').hidden = !message;
    $('#reply-to').textContent = message ? t('chat.replyTo', { name: message.name, text: message.text }) : '';
    phoneChat.showReply(message);
    if (message) chatInput().focus();
  }
  /** The chat box the seller sees: the phone studio's, or the full studio's. */
  const chatInput = () => (phone.active ? $('#phone-chat-input') : $('#chat-input'));
  $('#reply-cancel').addEventListener('click', () => {
    startReply(null);
    $('#chat-input').focus();
  });
  $('#phone-reply-cancel').addEventListener('click', () => {
    startReply(null);
    $('#phone-chat-input').focus();
  });

  // The studio on a phone (seller-phone.js): the same actions, large and in reach.
  const sheet = new ActionSheet();
  const phone = new PhoneStudio({
    model, media, sheet,
    pin: (productId) => act(productId ? { type: 'pin_product', product_id: productId } : { type: 'unpin_product' }, phoneNotice),
  });
  const presets = new SalePresets({ conn, model, sheet, notice: phoneNotice });
  // A long press works on the full studio's chat too: say how it went where she looks.
  const sheetNotice = () => (phone.active ? phoneNotice : chatNotice);
  const phoneChat = new PhoneChat({
    model, sheet,
    actions: {
      reply: startReply,
      remove: (m) => act({ type: 'delete_message', message_id: m.id }, sheetNotice()),
      mute: (m) => act({ type: 'mute_user', user_id: m.user_id, minutes: 5 }, sheetNotice(), t('phone.muted', { name: m.name })),
      ban: (m) => act({ type: 'ban_user', user_id: m.user_id }, sheetNotice(), t('phone.banned', { name: m.name })),
    },
  });
  orders.onTotals = (totals) => phone.setOrders(totals.orders.length);
  hook.phone = phone;
  hook.note = new SellerNote({ conn, notice: chatNotice, bars: [$('#note-current'), $('#phone-note')] });
  hook.sheet = sheet;

  /** Highlight the questions waiting longer than `hook.questionAfterMs` and count them. */
  function markQuestions() {
    const waiting = new Set(questions.unanswered(Date.now(), hook.questionAfterMs).map((m) => Number(m.id)));
    for (const li of $('#chat-log').querySelectorAll('.chat-question')) {
      const id = Number(li.dataset.messageId);
      li.classList.toggle('is-unanswered', waiting.has(id));
      li.classList.toggle('is-answered', questions.isAnswered(id));
    }
    const el = $('#questions-waiting');
    el.dataset.count = String(waiting.size);
    el.hidden = waiting.size === 0;
    el.textContent = waiting.size ? t('chat.questionsWaiting', { n: formatCount(waiting.size) }) : '';
  }
  setInterval(markQuestions, 5000);

  const chatLog = new ChatLog($('#chat-log'), {
    onReply: startReply,
    questions,
    moderation: {
      onDelete: (m) => act({ type: 'delete_message', message_id: m.id }, chatNotice),
      onMute: (m) => act({ type: 'mute_user', user_id: m.user_id, minutes: 5 }, chatNotice, t('notice.done')),
      onBan: (m) => {
        if (window.confirm(t('mod.banConfirm', { name: m.name }))) act({ type: 'ban_user', user_id: m.user_id }, chatNotice, t('notice.done'));
      },
    },
  });
  wireChatForm($('#chat-form'), $('#chat-input'), conn, chatNotice, reply);
  wireChatForm($('#phone-chat-form'), $('#phone-chat-input'), conn, phoneNotice, reply);

  $('#slow-form').addEventListener('submit', (event) => {
    event.preventDefault();
    act({ type: 'set_slow_mode', seconds: Number($('#slow-mode').value) || 0 }, modNotice, t('mod.saved'));
  });
  $('#words-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const words = $('#banned-words').value.split(',').map((w) => w.trim()).filter(Boolean);
    act({ type: 'set_banned_words', words }, modNotice, t('mod.saved'));
  });
  // "Ảnh sản phẩm": an uploaded photo's URL goes in the image field (under "Nâng cao").
  const newPhoto = new PhotoPicker({
    roomId, token, idPrefix: 'new',
    onUploaded: (url) => { $('#new-image').value = url; },
  });
  $('#new-photo-field').append(newPhoto.el);
  wireDisclosure($('#new-advanced-toggle'));
  attachMoneyInput($('#new-price'));
  $('#add-product').addEventListener('submit', async (event) => {
    event.preventDefault();
    const product = {
      name: $('#new-name').value.trim(),
      price_vnd: moneyValue($('#new-price')) || 0,
      stock: Number($('#new-stock').value),
      description: $('#new-description').value.trim(),
    };
    const image = $('#new-image').value.trim();
    if (image) product.image_url = image;
    // Empty: no limit (the field is left out).
    const limit = $('#new-limit').value.trim();
    if (limit) product.per_buyer_limit = Number(limit);
    if (await act({ type: 'add_product', product }, productNotice, t('seller.saved'))) {
      event.target.reset();
      refreshMoneyInputs(event.target);
      newPhoto.reset();
    }
  });

  function renderProducts() {
    const list = $('#product-rows');
    // The list is drawn again on every stock move: keep the focus where it was.
    const focused = list.contains(document.activeElement) ? document.activeElement : null;
    const focus = focused?.id ? { id: focused.id, start: focused.selectionStart, end: focused.selectionEnd } : null;
    clear(list);
    const pinnedId = model.pinned?.id;
    for (const p of model.products) {
      const pinned = p.id === pinnedId;
      const row = h('li', { class: `product-row${pinned ? ' is-pinned' : ''}`, 'data-testid': 'product-row', 'data-product-id': p.id },
        h('img', { src: safeImageUrl(thumbOf(p.image_url)), alt: '', width: 56, height: 56, loading: 'lazy', 'data-testid': 'product-thumb' }),
        h('div', {},
          h('strong', { 'data-testid': 'product-name', text: p.name }),
          pinned ? h('span', { class: 'pinned-tag', text: t('seller.pinned') }) : null,
          h('div', { class: 'product-meta' },
            h('span', { class: 'price', 'data-testid': 'product-price', text: formatVnd(p.price_vnd) }),
            h('span', { class: 'stock', text: t('product.stock', { n: formatCount(p.stock) }) }),
            p.per_buyer_limit ? h('span', { class: 'stock', 'data-testid': 'product-limit', text: t('sale.limit', { n: p.per_buyer_limit }) }) : null)),
        h('div', { class: 'row-actions' },
          pinned
            ? h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'unpin', onclick: () => act({ type: 'unpin_product' }, productNotice) }, t('seller.unpin'))
            : h('button', { type: 'button', class: 'btn btn-small btn-primary', 'data-testid': 'pin', 'aria-label': t('seller.pinLabel', { name: p.name }), onclick: () => act({ type: 'pin_product', product_id: p.id }, productNotice) }, t('seller.pin')),
          h('button', { type: 'button', id: `edit-${p.id}`, class: 'btn btn-small btn-ghost', 'data-testid': 'edit', 'aria-expanded': String(editing === p.id), onclick: () => { drafts.delete(p.id); editing = editing === p.id ? null : p.id; renderProducts(); } }, t('seller.edit')),
          h('button', { type: 'button', class: 'btn btn-small btn-danger', 'data-testid': 'remove', onclick: () => { if (window.confirm(t('seller.removeConfirm', { name: p.name }))) act({ type: 'remove_product', product_id: p.id }, productNotice); } }, t('seller.remove'))));
      if (editing === p.id) row.append(editForm(p));
      list.append(row);
    }
    const again = focus && document.getElementById(focus.id);
    if (again) {
      again.focus();
      try { again.setSelectionRange?.(focus.start, focus.end); } catch { /* a number field has no selection */ }
    }
    sales.renderProducts();
    phone.renderStrip();
  }

  /**
   * The product form of the row being edited. What she types is kept in a
   * draft, so the list drawn again (stock moves with every bag and sale) does
   * not wipe it; only the fields she changed since opening it are sent, so a
   * price fix never writes back a stock count that has moved meanwhile.
   */
  function editForm(p) {
    const id = (name) => `edit-${p.id}-${name}`;
    let draft = drafts.get(p.id);
    if (!draft) {
      const shown = { price: String(p.price_vnd), stock: String(p.stock), image: p.image_url || '', limit: p.per_buyer_limit ? String(p.per_buyer_limit) : '' };
      draft = { ...shown, shown };
      drafts.set(p.id, draft);
    }
    const input = (name, props) => h('input', { id: id(name), value: draft[name], 'data-testid': `edit-${name}`, oninput: (event) => { draft[name] = event.target.value; }, ...props });
    const field = (name, key, props) => h('div', { class: 'field' }, h('label', { for: id(name), text: t(key) }), input(name, props));
    const price = field('price', 'seller.productPrice', { type: 'text' });
    attachMoneyInput(price.querySelector('input'));
    const image = field('image', 'seller.productImage', { type: 'text', inputmode: 'url' });
    const photo = new PhotoPicker({
      roomId, token, idPrefix: id('image'), current: draft.image,
      status: draft.photoStatus,
      onStatus: (status) => { draft.photoStatus = status; },
      // The draft holds it; the form is drawn again to show it (this one
      // may have been replaced while the photo was uploading).
      onUploaded: (url) => {
        draft.image = url;
        if (editing === p.id) renderProducts();
      },
    });
    const close = () => {
      editing = null;
      drafts.delete(p.id);
      renderProducts();
    };
    const form = h('form', { class: 'edit-form form-grid' },
      price,
      field('stock', 'seller.productStock', { type: 'number', min: 0 }),
      // Empty: no limit.
      field('limit', 'seller.productLimit', { type: 'number', min: 1, max: 1000, step: 1, inputmode: 'numeric', placeholder: t('seller.productLimitHint') }),
      photo.el,
      advancedBlock(id('advanced'), image),
      h('div', { class: 'button-row wide' },
        h('button', { type: 'submit', class: 'btn btn-primary btn-small', 'data-testid': 'edit-save' }, t('seller.save')),
        h('button', { type: 'button', class: 'btn btn-ghost btn-small', onclick: close }, t('seller.cancel'))));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const changed = (name) => draft[name].trim() !== draft.shown[name];
      const changes = {};
      // The price is compared by its digits ("250.000 ₫" is 250000).
      const typedPrice = digitsOf(draft.price);
      if (typedPrice !== '' && typedPrice !== draft.shown.price) changes.price_vnd = Number(typedPrice);
      if (changed('stock')) changes.stock = Number(draft.stock);
      if (changed('image') && draft.image.trim()) changes.image_url = draft.image.trim();
      // A limit typed or changed is sent; a cleared one is 0, which removes it.
      if (changed('limit')) changes.per_buyer_limit = draft.limit.trim() === '' ? 0 : Number(draft.limit);
      if (Object.keys(changes).length === 0) {
        close();
        return;
      }
      if (await act({ type: 'update_product', product_id: p.id, ...changes }, productNotice, t('seller.saved'))) close();
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
      liveReport.follow();
    }
    if (changed.has('stats')) {
      $('[data-testid=stat-viewers]').textContent = formatCount(model.viewers);
      $('[data-testid=stat-hearts]').textContent = formatCount(model.heartsTotal);
      phone.renderStatus();
    }
    if (changed.has('chat')) {
      questions.reset(model.chat);
      chatLog.render(model);
    }
    if (changed.has('chat-append')) {
      questions.observe(model.lastChat);
      chatLog.append(model, model.lastChat);
    }
    if (changed.has('chat-delete')) {
      questions.forget(model.lastDeleted);
      chatLog.remove(model.lastDeleted);
      if (replyingTo && Number(replyingTo.id) === Number(model.lastDeleted)) startReply(null);
    }
    if (changed.has('chat') || changed.has('chat-append') || changed.has('chat-delete')) {
      markQuestions();
      phoneChat.render();
    }
    if (changed.has('products') || changed.has('pinned')) renderProducts();
    if (changed.has('settings') && document.activeElement !== $('#slow-mode')) $('#slow-mode').value = String(model.settings.slow_mode_seconds);
    if (changed.has('sale')) sales.renderSale();
    if (changed.has('sale') || changed.has('pinned') || changed.has('products')) presets.render();
    // New orders come with `sale_purchase`; changed ones with `order_status` (seller-orders.js).
    if (changed.has('purchase')) orders.schedule();
    if (changed.has('stream')) media.render();
    if (changed.has('moderation')) renderBans();
  }

  conn.on('status', ({ status }) => {
    renderConnection($('[data-testid=connection]'), status);
    if (status === 'ended') {
      media.render();
      liveReport.follow({ ended: true });
    }
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
    liveReport.render({ redraw: true });
    if (replyingTo) startReply(replyingTo);
  });
  // The practice coaching box and the schedule panel own their containers
  // and only listen on this connection.
  attachCoaching($('#coaching'), hook);
  attachSchedule($('#schedule-panel'), hook, { roomId, token });
  conn.connect();
  orders.load();
}
