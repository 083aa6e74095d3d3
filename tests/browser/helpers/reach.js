// The phone-first measure every page's tests share (issue 14): what is out
// of a thumb's reach on the screen as it is now.

/**
 * Sideways scroll, and every visible control under `within` (a checkbox or
 * radio counts by its label) smaller than 44×44 CSS px or outside the
 * viewport. A control inside a box that scrolls down (the chat, a sheet)
 * need not be inside the screen down; one inside a box that scrolls across
 * (the product strip) need not be inside it across, but the box must be.
 * With `pageScrolls` (a laptop, a long page) the page itself may scroll
 * down. With `covered`, a control that another element covers at its centre
 * is out of reach too, on a screen that does not scroll (behind an open
 * sheet everything is, by design: only the sheet is checked then).
 */
export function layoutProblems(page, { pageScrolls = false, within = 'body', covered = false } = {}) {
  return page.evaluate(([pageScrolls, within, covered]) => {
    const found = [];
    const vw = window.innerWidth;
    const vh = window.innerHeight;
    if (document.documentElement.scrollWidth > vw) found.push(`sideways scroll: ${document.documentElement.scrollWidth} > ${vw}`);
    const scroller = (el, axis) => {
      for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
        const style = getComputedStyle(a);
        const o = axis === 'y' ? style.overflowY : style.overflowX;
        const more = axis === 'y' ? a.scrollHeight > a.clientHeight : a.scrollWidth > a.clientWidth;
        if ((o === 'auto' || o === 'scroll') && more) return a;
      }
      return null;
    };
    for (const el of document.querySelector(within).querySelectorAll('button, a[href], input, select, textarea, summary')) {
      if (el.matches('.skip-link:not(:focus)')) continue;
      const target = el.matches('input[type=radio], input[type=checkbox]') ? (el.closest('label') || el) : el;
      const r = target.getBoundingClientRect();
      if (r.width === 0 || r.height === 0 || !target.checkVisibility({ contentVisibilityAuto: true, visibilityProperty: true })) continue;
      const what = `${el.tagName.toLowerCase()}[${el.dataset.testid || el.id || el.textContent.trim().slice(0, 20)}]`;
      if (r.width < 43.5 || r.height < 43.5) found.push(`${what} is ${Math.round(r.width)}×${Math.round(r.height)}`);
      const across = scroller(el, 'x');
      const box = across ? across.getBoundingClientRect() : r;
      if (box.left < -0.5 || box.right > vw + 0.5) found.push(`${what} outside across (${Math.round(box.left)}..${Math.round(box.right)})`);
      const down = scroller(el, 'y');
      if (!pageScrolls && !down && (r.top < -0.5 || r.bottom > vh + 0.5)) found.push(`${what} outside down (${Math.round(r.top)}..${Math.round(r.bottom)})`);
      if (!covered || pageScrolls || across || down) continue;
      // Where the page scrolls, a bar fixed to the screen may cover what scrolls under it for now.
      const sheet = document.querySelector('dialog[open]');
      const x = r.left + r.width / 2;
      const y = r.top + r.height / 2;
      if ((!sheet || sheet.contains(el)) && x >= 0 && x <= vw && y >= 0 && y <= vh) {
        const hit = document.elementFromPoint(x, y);
        if (hit && !target.contains(hit) && !hit.contains(target)) found.push(`${what} is covered by ${hit.tagName.toLowerCase()}.${hit.className}`);
      }
    }
    return found;
  }, [pageScrolls, within, covered]);
}
