// A tiny element builder. Every piece of data goes in as a text node or an
// attribute value, never as markup: there is no innerHTML anywhere in the
// client, so a chat message like `<img onerror=…>` is only ever text.

/**
 * h('button', { class: 'btn', onclick: fn, 'data-testid': 'x' }, 'Label', child)
 * Props: `class`, `text`, `dataset`, `style` (an object of CSS properties, set
 * through CSSOM: the server's Content-Security-Policy refuses `style="…"`
 * attributes), `on<event>` listeners, boolean and string attributes.
 * Children: nodes or strings (strings become text nodes).
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = String(value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'style') {
      if (typeof value !== 'object') throw new TypeError('h(): style takes an object of CSS properties');
      for (const [property, v] of Object.entries(value)) el.style.setProperty(property, String(v));
    }
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'value') el.value = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Remove every child of `el`. */
export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** `document.querySelector` that fails loudly when the page is missing a part. */
export function $(selector, root = document) {
  const el = root.querySelector(selector);
  if (!el) throw new Error(`missing element ${selector}`);
  return el;
}

/**
 * Only image addresses that cannot run code or surprise the viewer: paths on
 * this server and http(s) addresses, what a room accepts as `image_url` and
 * the server's Content-Security-Policy (`img-src`) admits. Anything else gets
 * the placeholder.
 */
export function safeImageUrl(url, fallback = '/img/placeholder.svg') {
  if (typeof url !== 'string' || url.trim() === '') return fallback;
  const u = url.trim();
  if (u.startsWith('/') && !u.startsWith('//')) return u;
  if (/^https?:\/\//i.test(u)) return u;
  return fallback;
}

/**
 * `/photos/<id>.jpg` → `/photos/<id>-thumb.jpg`: the small copy for
 * thumbnails; any other URL as it is.
 */
export function thumbOf(url) {
  const match = /^\/photos\/([0-9a-f]{32})\.jpg$/.exec(url || '');
  return match ? `/photos/${match[1]}-thumb.jpg` : url;
}

/** A random id for requests and idempotency keys (works without a secure context). */
export function randomId() {
  if (globalThis.crypto?.randomUUID) {
    try { return crypto.randomUUID(); } catch { /* insecure context */ }
  }
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
