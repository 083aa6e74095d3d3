// "Tôi là người bán" (sell.html; docs/studio.md, "Getting to the studio"):
// a seller pastes the studio link her market organiser or trainer sent
// her — or only its token — and the page opens her studio. It can remember
// the link on this phone (localStorage), so next time one tap opens it.
//
// The link is read, never followed: the page takes the room and the token
// out of it and opens this server's own studio (`/seller.html?room=…#token=…`),
// so a pasted address cannot send her elsewhere. Only a seller's token
// opens a studio; an expired one is named as such. Nothing is sent to the
// server here: the studio checks the token when it connects.

import { $ } from './dom.js';
import { initI18n, t } from './i18n.js';

const STORAGE_KEY = 'chophien.sell.studio';

initI18n();
showSaved();

$('#sell-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const error = $('#sell-error');
  const studio = parseStudio($('#studio-link').value);
  if (studio.error) {
    error.textContent = t(studio.error);
    error.hidden = false;
    $('#studio-link').focus();
    return;
  }
  error.hidden = true;
  if ($('#remember').checked) save(studio);
  location.assign(studioUrl(studio));
});

$('#forget').addEventListener('click', () => {
  try {
    localStorage.removeItem(STORAGE_KEY);
  } catch {
    // Nothing was kept.
  }
  showSaved();
  $('#studio-link').focus();
});

function showSaved() {
  const saved = load();
  $('#saved-studio').hidden = !saved;
  if (saved) $('#open-saved').href = studioUrl(saved);
}

/** `/seller.html?room=…#token=…` on this server. */
function studioUrl({ room, token }) {
  return `/seller.html?room=${encodeURIComponent(room)}#token=${encodeURIComponent(token)}`;
}

/**
 * The room and token of a pasted studio link (`…/seller.html?room=R#token=T`)
 * or bare token; `{error: key}` when it is neither, is not a seller's, or
 * has expired.
 */
export function parseStudio(text) {
  const pasted = String(text || '').trim();
  if (!pasted) return { error: 'sell.empty' };
  let token = pasted;
  let room = null;
  if (/^https?:\/\//i.test(pasted) || pasted.startsWith('/')) {
    let url;
    try {
      url = new URL(pasted, location.origin);
    } catch {
      return { error: 'sell.invalid' };
    }
    token = new URLSearchParams(url.hash.slice(1)).get('token') || url.searchParams.get('token') || '';
    room = url.searchParams.get('room');
    if (!url.pathname.endsWith('/seller.html') || !token) return { error: 'sell.invalid' };
  }
  const claims = readClaims(token);
  if (!claims || typeof claims.room !== 'string') return { error: 'sell.invalid' };
  if (claims.role !== 'seller') return { error: 'sell.notSeller' };
  if (Number.isFinite(claims.exp) && claims.exp * 1000 < Date.now()) return { error: 'sell.expired' };
  if (room && room !== claims.room) return { error: 'sell.invalid' };
  return { room: claims.room, token, exp: claims.exp };
}

/** The claims of a JWT, unverified (the server verifies it), or null. */
function readClaims(token) {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const base64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = new TextDecoder().decode(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));
    const claims = JSON.parse(json);
    return claims && typeof claims === 'object' ? claims : null;
  } catch {
    return null;
  }
}

function save(studio) {
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify({ room: studio.room, token: studio.token }));
  } catch {
    // Private mode: it opens this time only.
  }
}

/** The remembered studio, if it is still a seller's valid token. */
function load() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || 'null');
    if (!saved?.token) return null;
    const studio = parseStudio(saved.token);
    return studio.error ? null : studio;
  } catch {
    return null;
  }
}

