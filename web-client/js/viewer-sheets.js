// The viewer's catalog sheet: a <details> whose summary is the dock's
// catalog button and whose body is a sheet above the dock (css/viewer.css).
// Not modal: chat, hearts and the bag stay usable while it is open. It closes
// with its "Đóng" button, with Escape, or with the catalog button again; the
// keyboard goes into the sheet when it opens and back to the button when it
// closes. (The bag is a modal <dialog>: bag-panel.js.)

/** Wire the sheet's opening and closing; `panel` is the catalog section. */
export function wireCatalogSheet({ panel, details, close }) {
  const summary = details.querySelector('summary');
  const shut = () => {
    if (!details.open) return;
    details.open = false;
    summary.focus();
  };
  close.addEventListener('click', shut);
  details.addEventListener('toggle', () => {
    summary.setAttribute('aria-expanded', String(details.open));
    if (details.open) close.focus({ preventScroll: true });
  });
  panel.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && details.open) {
      event.preventDefault();
      shut();
    }
  });
  summary.setAttribute('aria-expanded', 'false');
}

/**
 * Keep `--sale-h` on the page at the flash sale sheet's height (0 when there
 * is no sale), so the catalog sheet opens above it on a phone.
 */
export function followSaleSheet(salePanel) {
  const root = document.documentElement;
  const update = () => {
    const height = salePanel.hidden ? 0 : salePanel.getBoundingClientRect().height;
    root.style.setProperty('--sale-h', `${Math.ceil(height)}px`);
  };
  if ('ResizeObserver' in window) new ResizeObserver(update).observe(salePanel);
  new MutationObserver(update).observe(salePanel, { attributes: true, attributeFilter: ['hidden'] });
  update();
}

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex="-1"])';

/**
 * Keep Tab and Shift+Tab inside a modal <dialog> (the bag): showModal() makes
 * the page behind inert, but the browser would still let the keyboard leave
 * for its own toolbar; here it wraps from the last control to the first.
 */
export function trapFocus(dialog) {
  dialog.addEventListener('keydown', (event) => {
    if (event.key !== 'Tab') return;
    const inside = [...dialog.querySelectorAll(FOCUSABLE)].filter((el) => el.checkVisibility?.() ?? el.offsetParent !== null);
    if (inside.length === 0) return;
    const first = inside[0];
    const last = inside[inside.length - 1];
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  });
}
