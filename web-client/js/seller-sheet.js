// The studio's action sheet: one modal <dialog> that rises from the bottom
// of the screen with a title, a line of text and a column of large buttons
// (each at least 44×44 CSS px, css/studio.css). The phone studio uses it for
// a chat message's actions (reply, delete, mute, ban), for confirmations
// (ban, a preset flash sale, ending the live) — window.confirm() is small,
// cannot be styled and blocks the page's live updates on some phones.
//
// Modal: the page behind is inert, Tab stays inside (trapFocus from the
// viewer's sheets), Escape, "Đóng" or a tap on the backdrop closes it, and
// the focus goes back where it was.

import { $, clear, h } from './dom.js';
import { t } from './i18n.js';
import { trapFocus } from './viewer-sheets.js';

export class ActionSheet {
  constructor(dialog = $('#studio-sheet')) {
    this.dialog = dialog;
    /** Where the focus was before the sheet opened: it goes back there. */
    this.returnTo = null;
    trapFocus(dialog);
    // A tap outside the sheet's box lands on the dialog itself (its backdrop).
    dialog.addEventListener('click', (event) => {
      if (event.target === dialog) this.close();
    });
    dialog.addEventListener('close', () => {
      const back = this.returnTo;
      this.returnTo = null;
      if (back?.isConnected) back.focus({ preventScroll: true });
    });
  }

  get isOpen() {
    return this.dialog.open;
  }

  /**
   * Show `title` (text), `text` (text, optional) and `actions`, each
   * `{label, testid, kind: 'danger'|'primary'|undefined, run()}`; a tap runs
   * the action after closing the sheet. A "Đóng" button (`closeLabel`) always comes last.
   * `returnTo`: the element to focus afterwards (default: the focused one).
   */
  open({ title, text = '', actions, testid = 'studio-sheet-body', returnTo = null, closeLabel = t('sheet.close') }) {
    if (this.dialog.open) this.dialog.close();
    this.returnTo = returnTo || document.activeElement;
    const body = clear(this.dialog);
    const buttons = actions.map((a) => h('button', {
      type: 'button',
      class: `btn sheet-action${a.kind === 'danger' ? ' btn-danger' : ''}${a.kind === 'primary' ? ' btn-primary' : ''}`,
      'data-testid': a.testid,
      onclick: () => {
        this.close();
        a.run();
      },
    }, a.label));
    body.append(h('div', { class: 'sheet-inner', 'data-testid': testid },
      h('h2', { id: 'studio-sheet-title', class: 'sheet-title', text: title }),
      text ? h('p', { class: 'sheet-text', 'data-testid': 'sheet-text', text }) : null,
      h('div', { class: 'sheet-actions' }, buttons,
        h('button', { type: 'button', class: 'btn btn-ghost sheet-action', 'data-testid': 'sheet-close', onclick: () => this.close() }, closeLabel))));
    this.dialog.setAttribute('aria-labelledby', 'studio-sheet-title');
    this.dialog.showModal();
    buttons[0]?.focus({ preventScroll: true });
  }

  /** Ask before doing something that cannot be undone; `run()` only on "yes". */
  confirm({ title, text, yes, testid, run, returnTo = null }) {
    this.open({ title, text, returnTo, testid: 'studio-confirm', closeLabel: t('sheet.cancel'), actions: [{ label: yes, testid, kind: 'danger', run }] });
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }
}
