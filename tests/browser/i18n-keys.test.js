// Every string in both languages (issue 14, part 6): a test that walks every
// string key.
// 1. Static: every key a page names (`data-i18n*` in web-client/*.html; in
//    scripts `t('…')`, `dataset.i18n = '…'` and `'data-i18n': '…'`) exists
//    in both `vi` and `en`, both languages have the same keys, no value is
//    empty, placeholders match, and every server error code
//    (src/protocol.rs `ErrorCode`) has its `error.<code>` message in both.
// 2. In the browser: every page, opened in Vietnamese in the state that
//    shows most text, shows no English: no visible text, placeholder,
//    aria-label, title or alt is an `en` string that differs from its `vi`
//    one or reads as English, and no `data-i18n` element shows its key.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { useServerAndBrowser } from './helpers/fixture.js';
import { REPO_ROOT } from './helpers/server.js';
import { openSeller } from './helpers/browser.js';
import { dressRoom, unlistedPages, visitEveryPage } from './helpers/pages.js';

let server;
let browser;

useServerAndBrowser((s, b) => {
  server = s;
  browser = b;
});

const WEB = join(REPO_ROOT, 'web-client');

/** The `STRINGS` table of i18n.js, read as the module itself defines it. */
async function strings() {
  const source = readFileSync(join(WEB, 'js', 'i18n.js'), 'utf8').replace('const STRINGS =', 'export const STRINGS =');
  const module = await import(`data:text/javascript,${encodeURIComponent(source)}`);
  return module.STRINGS;
}

/** Every literal key the pages and scripts name, with the first file naming it. */
function namedKeys() {
  const named = new Map();
  const note = (key, file) => { if (!named.has(key)) named.set(key, file); };
  for (const file of readdirSync(WEB).filter((f) => f.endsWith('.html'))) {
    const html = readFileSync(join(WEB, file), 'utf8');
    for (const m of html.matchAll(/data-i18n(?:-placeholder|-aria-label|-title)?="([^"]+)"/g)) note(m[1], file);
  }
  for (const file of readdirSync(join(WEB, 'js')).filter((f) => f.endsWith('.js'))) {
    const js = readFileSync(join(WEB, 'js', file), 'utf8');
    for (const m of js.matchAll(/\bt\(\s*'([a-zA-Z][\w.]*)'/g)) note(m[1], `js/${file}`);
    for (const m of js.matchAll(/dataset\.i18n(?:Placeholder|AriaLabel|Title)?\s*=\s*'([a-zA-Z][\w.]*)'/g)) note(m[1], `js/${file}`);
    for (const m of js.matchAll(/'data-i18n(?:-placeholder|-aria-label|-title)?':\s*'([a-zA-Z][\w.]*)'/g)) note(m[1], `js/${file}`);
  }
  return named;
}

/** The wire strings of every `ErrorCode` (src/protocol.rs `as_str`). */
function errorCodes() {
  const protocol = readFileSync(join(REPO_ROOT, 'src', 'protocol.rs'), 'utf8');
  return [...protocol.matchAll(/ErrorCode::\w+ => "([a-z_]+)"/g)].map((m) => m[1]);
}

test('every key a page or script names exists in Vietnamese and English, with the same placeholders', async () => {
  const STRINGS = await strings();
  const { vi, en } = STRINGS;
  assert.deepEqual(Object.keys(vi).filter((k) => !(k in en)), [], 'keys with no English');
  assert.deepEqual(Object.keys(en).filter((k) => !(k in vi)), [], 'keys with no Vietnamese');
  const named = namedKeys();
  assert.ok(named.size > 300, `found the keys the pages name (${named.size})`);
  const missing = [...named].filter(([key]) => !(key in vi) || !(key in en)).map(([key, file]) => `${key} (${file})`);
  assert.deepEqual(missing, [], 'keys named but not defined in both languages');
  const empty = Object.keys(vi).filter((k) => !String(vi[k]).trim() || !String(en[k]).trim());
  assert.deepEqual(empty, [], 'empty strings');
  const params = (s) => [...String(s).matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort().join(',');
  const mismatched = Object.keys(vi).filter((k) => params(vi[k]) !== params(en[k]));
  assert.deepEqual(mismatched, [], 'keys whose placeholders differ between the languages');
});

test('every server error code has a message in Vietnamese and English', async () => {
  const { vi, en } = await strings();
  const codes = errorCodes();
  assert.ok(codes.length > 40, `read the error codes (${codes.length})`);
  assert.deepEqual(codes.filter((c) => !vi[`error.${c}`]), [], 'codes with no Vietnamese message');
  assert.deepEqual(codes.filter((c) => !en[`error.${c}`]), [], 'codes with no English message');
});

test('every page of web-client/ is walked', () => {
  assert.deepEqual(unlistedPages(), []);
});

/** Matchers for the English strings that a Vietnamese page must not show. */
function englishOnly({ vi, en }) {
  const viValues = new Set(Object.values(vi).map((s) => String(s).trim()));
  const matchers = [];
  for (const key of Object.keys(en)) {
    const text = String(en[key]).trim();
    if (text === String(vi[key]).trim() || viValues.has(text)) continue;
    // Templates match with anything in their placeholders, if their own
    // words are enough to tell them apart.
    const literal = text.replace(/\{\w+\}/g, '');
    if ((literal.match(/[A-Za-z]/g) || []).length < 4) continue;
    const pattern = text.split(/\{\w+\}/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[\\s\\S]+?');
    matchers.push({ key, source: `^${pattern}$` });
  }
  return matchers;
}

/** What a page shows in Vietnamese that is English or a bare key (run in the page). */
function englishOnPage(matchers) {
  const found = [];
  const regexes = matchers.map((m) => ({ key: m.key, re: new RegExp(m.source) }));
  // Words that Vietnamese text never uses on its own.
  const english = /\b(the|and|your|you|with|this|from|please|loading|stats|seller|viewer|orders?|select|choose|upload|settings|search)\b/i;
  const keyLike = /^[a-z][a-zA-Z]*(\.[a-zA-Z0-9_]+)+$/;
  const check = (text, where) => {
    const s = text.replace(/\s+/g, ' ').trim();
    if (!s) return;
    const hit = regexes.find(({ re }) => re.test(s));
    if (hit) found.push(`${where}: "${s}" is en["${hit.key}"]`);
    else if (english.test(s)) found.push(`${where}: "${s}" reads as English`);
    else if (keyLike.test(s)) found.push(`${where}: "${s}" is a key, not a text`);
  };
  const shown = (el) => el.checkVisibility({ checkOpacity: false, checkVisibilityCSS: true });
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest('script, style, template') || !shown(parent)) continue;
    check(node.textContent, `text in <${parent.tagName.toLowerCase()}${parent.dataset.testid ? ` data-testid=${parent.dataset.testid}` : ''}>`);
  }
  for (const el of document.querySelectorAll('[placeholder], [aria-label], [title], img[alt]')) {
    if (!shown(el) && !el.closest('.visually-hidden')) continue;
    for (const attr of ['placeholder', 'aria-label', 'title', 'alt']) {
      const value = el.getAttribute(attr);
      if (value) check(value, `${attr} of <${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}>`);
    }
  }
  check(document.title, 'the title');
  for (const el of document.querySelectorAll('[data-i18n]')) {
    if (el.textContent.trim() === el.dataset.i18n) found.push(`<${el.tagName.toLowerCase()}> shows its key ${el.dataset.i18n}`);
  }
  return found;
}

test('in Vietnamese, no page shows English or a bare key', async () => {
  const matchers = englishOnly(await strings());
  const seller = await openSeller(browser, server);
  await dressRoom(seller);
  const found = [];
  for (const viewport of [{ width: 390, height: 844 }, { width: 1366, height: 768 }]) {
    await visitEveryPage(browser, server, { viewport, lang: 'vi' }, async (name, page) => {
      assert.equal(await page.evaluate(() => document.documentElement.lang), 'vi', name);
      for (const problem of await page.evaluate(englishOnPage, matchers)) found.push(`${name} ${viewport.width}: ${problem}`);
    });
  }
  await seller.context().close();
  assert.deepEqual([...new Set(found)], []);
});
