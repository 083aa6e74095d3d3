// A QR code of a link, drawn on a <canvas>: the trainer shows a trainee's
// studio link on the projector and the trainee scans it with her phone.
// The code is made by the vendored qrcode-generator (vendor/README.md); it
// is drawn module by module here because the server's Content-Security-Policy
// admits no `data:` images (the library's own `createDataURL`).

import qrcode from '/vendor/qrcode-generator.mjs';

/** Modules of quiet zone around the code (the standard asks for 4). */
const QUIET = 4;

/**
 * A canvas showing `text` as a QR code (error correction M, the smallest
 * version that holds it), `px` pixels per module. `label` names it for
 * screen readers (the canvas is an image of the link).
 */
export function qrCanvas(text, { px = 4, label = '' } = {}) {
  const qr = qrcode(0, 'M');
  qr.addData(text);
  qr.make();
  const count = qr.getModuleCount();
  const size = (count + QUIET * 2) * px;
  const canvas = document.createElement('canvas');
  canvas.width = size;
  canvas.height = size;
  canvas.setAttribute('role', 'img');
  if (label) canvas.setAttribute('aria-label', label);
  canvas.dataset.modules = String(count);
  const g = canvas.getContext('2d');
  g.fillStyle = '#ffffff';
  g.fillRect(0, 0, size, size);
  g.fillStyle = '#000000';
  for (let row = 0; row < count; row += 1) {
    for (let col = 0; col < count; col += 1) {
      if (qr.isDark(row, col)) g.fillRect((col + QUIET) * px, (row + QUIET) * px, px, px);
    }
  }
  return canvas;
}
