// "Ảnh sản phẩm": a product photo from the phone's camera or gallery (or a
// computer's files), uploaded as soon as it is chosen to
// `POST /api/rooms/{room}/photos`, which checks it, re-encodes it and
// answers its URLs. The form then holds the photo's `url` as the product's
// `image_url`; the picker shows the thumbnail, the upload's progress, and
// every refusal in words (Vietnamese or English), never a code alone.
//
// The server decides what an image is; `accept` only steers the phone's
// picker to photos.

import { h, thumbOf } from './dom.js';
import { errorText, t } from './i18n.js';

/** What the phone's picker offers: camera and gallery photos. */
export const ACCEPT = 'image/jpeg,image/png,image/webp';

/**
 * Make `button` open and close the panel its `aria-controls` names ("Nâng
 * cao": the image URL typed by hand). Returns `button`.
 */
export function wireDisclosure(button, panel = document.getElementById(button.getAttribute('aria-controls'))) {
  button.addEventListener('click', () => {
    const open = button.getAttribute('aria-expanded') !== 'true';
    button.setAttribute('aria-expanded', String(open));
    panel.hidden = !open;
  });
  return button;
}

/**
 * The "Nâng cao" block around `content` for a form built in script: a
 * disclosure button and the panel it opens (closed at first).
 */
export function advancedBlock(id, content) {
  const panel = h('div', { id, hidden: true }, content);
  const button = h('button', {
    type: 'button', class: 'btn-link advanced-toggle', 'data-testid': 'advanced-toggle',
    'aria-expanded': 'false', 'aria-controls': id, text: t('photo.advanced'),
  });
  wireDisclosure(button, panel);
  return h('div', { class: 'advanced wide' }, button, panel);
}

/**
 * Upload `file` as one of `roomId`'s photos. Resolves with the server's
 * answer (`id`, `url`, `thumb_url`, `width`, `height`); rejects with
 * `{code}` (the server's refusal code, or `network`). `onProgress` gets
 * the fraction sent (0 to 1).
 */
export function uploadPhoto({ roomId, token, file, onProgress }) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/rooms/${encodeURIComponent(roomId)}/photos`);
    xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    // The browser's guess from the name; the server sniffs the bytes anyway.
    xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress?.(event.loaded / event.total);
    };
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON: a proxy's page */ }
      if (xhr.status === 201 && body?.url) resolve(body);
      else if (xhr.status === 413) reject({ code: 'photo_too_large' });
      else reject({ code: body?.error?.code || 'internal' });
    };
    xhr.onerror = () => reject({ code: 'network' });
    xhr.send(file);
  });
}

/**
 * The "Ảnh sản phẩm" field: a file input, the thumbnail and a status line.
 * `onUploaded(url)` gets the photo's URL once stored.
 */
export class PhotoPicker {
  /**
   * `status` and `onStatus` carry the status line across a form drawn
   * again (the studio's product list is redrawn on every stock move).
   * @param {{roomId: string, token: string, idPrefix: string, current?: string,
   *   status?: {text: string, kind: string|null}, onStatus?: (status: object) => void,
   *   onUploaded: (url: string) => void}} options
   */
  constructor({ roomId, token, idPrefix, current, status, onStatus, onUploaded }) {
    Object.assign(this, { roomId, token, onUploaded, onStatus });
    const inputId = `${idPrefix}-photo`;
    this.input = h('input', {
      id: inputId, type: 'file', accept: ACCEPT, class: 'photo-input', 'data-testid': 'photo-input',
    });
    this.preview = h('img', {
      class: 'photo-preview', 'data-testid': 'photo-preview', alt: '', width: 96, height: 96, hidden: true,
    });
    this.status = h('p', { class: 'photo-status', role: 'status', 'aria-live': 'polite', 'data-testid': 'photo-status' });
    // The browser's own "Choose File" is in the browser's language: a
    // button in ours lies under the (transparent) input, which takes the tap.
    this.el = h('div', { class: 'field wide photo-field' },
      h('label', { for: inputId, text: t('photo.label') }),
      h('div', { class: 'photo-row' }, this.preview,
        h('div', { class: 'photo-pick' },
          h('span', { class: 'btn btn-primary photo-pick-face', 'aria-hidden': 'true', text: t('photo.choose') }),
          this.input)),
      h('p', { class: 'muted photo-hint', text: t('photo.hint') }),
      this.status);
    this.show(current);
    if (status?.text) this.say(status.text, status.kind);
    this.input.addEventListener('change', () => this.upload());
  }

  /** Show `url`'s thumbnail (or nothing). */
  show(url) {
    const photo = url && url.startsWith('/photos/') ? thumbOf(url) : null;
    this.preview.hidden = !photo;
    if (photo) this.preview.src = photo;
    else this.preview.removeAttribute('src');
  }

  /** Clear the chosen file and the messages (after the form was saved). */
  reset() {
    this.input.value = '';
    this.say('', null);
    this.show(null);
  }

  say(text, kind) {
    this.status.textContent = text;
    if (kind) this.status.dataset.kind = kind;
    else delete this.status.dataset.kind;
    this.onStatus?.({ text, kind });
  }

  async upload() {
    const file = this.input.files?.[0];
    if (!file) return;
    this.say(t('photo.uploading', { percent: 0 }), 'info');
    this.el.dataset.state = 'uploading';
    try {
      const photo = await uploadPhoto({
        roomId: this.roomId, token: this.token, file,
        onProgress: (fraction) => this.say(t('photo.uploading', { percent: Math.round(fraction * 100) }), 'info'),
      });
      this.preview.hidden = false;
      this.preview.src = photo.thumb_url;
      this.el.dataset.state = 'done';
      this.say(t('photo.done'), 'ok');
      this.onUploaded(photo.url);
    } catch (error) {
      this.input.value = '';
      this.el.dataset.state = 'error';
      this.say(errorText(error), 'error');
    }
  }
}
