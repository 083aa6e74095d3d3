// How coaching and compliance flags look, shared by the trainer's coach view
// (coach.js) and the trainee's studio (seller-coaching.js): a `coached`
// frame (a whisper, a canned nudge, an automatic prompt) and a
// `compliance_flag` frame (the rule broken, the words, the law and a
// rewording). Everything is text: whispers and excerpts come from people.

import { h } from './dom.js';
import { formatTime } from './format.js';
import { getLang, t } from './i18n.js';

/** The line a `coached` frame says in the page's language (nudges and prompts carry `text_en`). */
export function coachedText(message) {
  return getLang() === 'en' && message.text_en ? message.text_en : message.text;
}

/** Who a `coached` frame is from: the coach's name, or the automatic prompter. */
export function coachedBy(message) {
  if (message.by === 'auto') return t('coaching.auto');
  if (message.kind === 'platform_warning') return t('coaching.platform');
  return message.by;
}

/** One `coached` frame as a list item. */
export function coachedItem(message) {
  return h('li', { class: 'coached-item', 'data-testid': 'coached-item', 'data-kind': message.kind },
    h('span', { class: 'chat-time', text: formatTime(message.at, getLang()) }),
    h('span', { class: 'coached-by', text: coachedBy(message) }),
    h('span', { class: 'coached-text', 'data-testid': 'coached-text', text: coachedText(message) }));
}

/** The law a flag cites, in one line: "Luật Quảng cáo 2012, Điều 8 khoản 11". */
export function citationText(citation) {
  if (!citation) return '';
  return [citation.law, [citation.article, citation.clause].filter(Boolean).join(' ')].filter(Boolean).join(', ');
}

/**
 * One `compliance_flag` frame (or one hit of a script check: `line` and
 * `column` instead of `source` and `at`) as a list item.
 */
export function flagItem(flag) {
  const where = flag.line
    ? t('coaching.flagLine', { line: flag.line, column: flag.column })
    : [flag.at ? formatTime(flag.at, getLang()) : null, flag.source ? t(`coaching.source.${flag.source}`) : null].filter(Boolean).join(' · ');
  return h('li', { class: 'flag-item', 'data-testid': 'flag-item', 'data-severity': flag.severity, 'data-rule': flag.rule_id },
    h('p', { class: 'flag-head' },
      h('span', { class: 'flag-severity', text: t(`coaching.severity.${flag.severity}`) }),
      ' ',
      h('q', { class: 'flag-excerpt', 'data-testid': 'flag-excerpt', text: flag.excerpt }),
      where ? h('span', { class: 'muted small', text: ` · ${where}` }) : null),
    flag.title ? h('p', { class: 'small', text: flag.title }) : null,
    h('p', { class: 'small flag-law', 'data-testid': 'flag-law' },
      h('span', { text: t('coaching.basis') }), ' ', h('cite', { text: citationText(flag.citation) })),
    flag.citation?.summary ? h('p', { class: 'small muted', text: flag.citation.summary }) : null,
    flag.suggestion ? h('p', { class: 'small flag-suggestion', 'data-testid': 'flag-suggestion' },
      h('strong', { text: t('coaching.suggestion') }), ' ', flag.suggestion) : null);
}
