// The room as this client knows it, kept up to date from the protocol's
// snapshot and room events. Pages render from it; it never touches the DOM.
//
// `apply(message)` folds one frame in and returns the names of the parts
// that changed ('room', 'products', 'pinned', 'chat', 'stats', 'settings',
// 'sale', 'stream', 'me', 'moderation'), so a page redraws only what it must.

const MAX_CHAT = 200;

export function createRoomModel() {
  return {
    room: null,
    me: null,
    products: [],
    pinned: null,
    chat: [],
    settings: { slow_mode_seconds: 0 },
    heartsTotal: 0,
    viewers: 0,
    sale: null,
    /** Latest remaining stock per sale id (sale_stock is more frequent than sale_updated). */
    streamLive: false,
    iceServers: [],
    /** The server node this connection landed on (for support; any node serves any room). */
    node: null,
    /** Users muted in this room: user id → until (unix ms). */
    muted: new Map(),
    /** Users banned from this room (only told to roles that moderate): user id → name or null. */
    banned: new Map(),
    /** Recent social-proof purchases, newest last. */
    purchases: [],
    lastChat: null,
    lastDeleted: null,
  };
}

function upsert(list, product) {
  const i = list.findIndex((p) => p.id === product.id);
  if (i >= 0) list[i] = product;
  else list.push(product);
}

/**
 * A product's own stock changed outside a catalog edit: a flash sale took its
 * units or gave back what it did not sell (told by `product_stock`, or inside
 * the sale's `sale_updated`), or a bag took some or gave them back.
 */
function setProductStock(model, changed, productId, stock) {
  const product = model.products.find((p) => p.id === productId);
  if (product) product.stock = stock;
  if (model.pinned && model.pinned.id === productId) {
    model.pinned = { ...model.pinned, stock };
    changed.add('pinned');
  }
  changed.add('products');
}

/** Fold one frame into the model; returns the set of changed parts. */
export function applyMessage(model, message) {
  const changed = new Set();
  switch (message.type) {
    case 'snapshot':
      model.room = message.room;
      model.me = message.me;
      model.products = [...message.products];
      model.pinned = message.pinned_product || null;
      model.chat = [...message.chat];
      model.settings = message.settings || { slow_mode_seconds: 0 };
      model.heartsTotal = message.hearts_total || 0;
      model.viewers = message.room.viewer_count || 0;
      model.sale = message.sale || null;
      model.streamLive = Boolean(message.stream_live);
      model.iceServers = Array.isArray(message.ice_servers) ? message.ice_servers : [];
      model.node = message.node || null;
      model.banned = new Map((message.banned || []).map((b) => [b.user_id, b.name ?? null]));
      ['room', 'me', 'products', 'pinned', 'chat', 'stats', 'settings', 'sale', 'stream', 'moderation'].forEach((p) => changed.add(p));
      break;
    case 'resumed':
      model.me = message.me;
      model.node = message.node || null;
      changed.add('me');
      break;
    case 'chat':
      model.chat.push(message.message);
      if (model.chat.length > MAX_CHAT) model.chat.splice(0, model.chat.length - MAX_CHAT);
      model.lastChat = message.message;
      changed.add('chat-append');
      break;
    case 'message_deleted':
      model.chat = model.chat.filter((m) => m.id !== message.message_id);
      model.lastDeleted = message.message_id;
      changed.add('chat-delete');
      break;
    case 'hearts':
      model.heartsTotal = message.total;
      model.lastHearts = message.count;
      changed.add('stats');
      changed.add('hearts');
      break;
    case 'viewer_count':
      model.viewers = message.count;
      if (model.room) model.room.viewer_count = message.count;
      changed.add('stats');
      break;
    case 'room_status':
      if (model.room) model.room.status = message.status;
      changed.add('room');
      break;
    case 'room_closed':
      if (model.room) model.room.status = 'ended';
      model.streamLive = false;
      changed.add('room');
      changed.add('stream');
      break;
    case 'product_upserted':
      upsert(model.products, message.product);
      if (model.pinned && model.pinned.id === message.product.id) {
        model.pinned = message.product;
        changed.add('pinned');
      }
      changed.add('products');
      break;
    case 'product_stock':
      setProductStock(model, changed, message.product_id, message.stock);
      break;
    case 'product_removed':
      model.products = model.products.filter((p) => p.id !== message.product_id);
      if (model.pinned && model.pinned.id === message.product_id) {
        model.pinned = null;
        changed.add('pinned');
      }
      changed.add('products');
      break;
    case 'product_pinned':
      model.pinned = message.product;
      if (model.room) model.room.pinned_product_id = message.product.id;
      changed.add('pinned');
      changed.add('products');
      break;
    case 'product_unpinned':
      model.pinned = null;
      if (model.room) model.room.pinned_product_id = null;
      changed.add('pinned');
      changed.add('products');
      break;
    case 'user_muted':
      model.muted.set(message.user_id, message.until);
      changed.add('moderation');
      break;
    case 'user_unmuted':
      model.muted.delete(message.user_id);
      changed.add('moderation');
      break;
    case 'user_banned':
      model.chat = model.chat.filter((m) => m.user_id !== message.user_id);
      model.banned.set(message.user_id, message.name ?? null);
      changed.add('chat');
      changed.add('moderation');
      break;
    case 'user_unbanned':
      model.banned.delete(message.user_id);
      changed.add('moderation');
      break;
    case 'settings_changed':
      model.settings = message.settings;
      changed.add('settings');
      break;
    case 'sale_updated':
      model.sale = message.sale;
      changed.add('sale');
      // A start or end may carry the product's stock after it (no separate
      // product_stock follows then).
      if (typeof message.product_stock === 'number' && message.sale) {
        setProductStock(model, changed, message.sale.product_id, message.product_stock);
      }
      break;
    case 'sale_stock':
      if (model.sale && model.sale.id === message.sale_id) {
        model.sale = { ...model.sale, remaining: message.remaining };
        changed.add('sale');
      }
      break;
    case 'sale_purchase':
      model.purchases.push({ saleId: message.sale_id, name: message.buyer_name, quantity: message.quantity, at: Date.now() });
      if (model.purchases.length > 5) model.purchases.shift();
      changed.add('purchase');
      break;
    case 'stream_state':
      model.streamLive = Boolean(message.live);
      changed.add('stream');
      break;
    default:
      break;
  }
  return changed;
}

/** Whether `userId` is muted right now. */
export function isMuted(model, userId) {
  const until = model.muted.get(userId);
  return until !== undefined && until > Date.now();
}
