// Issue 13 in Chromium: a trainer opens a class of three from trainer.html
// (links to copy, a QR code, the overview polled); a trainee opens her
// studio link, sees "Phòng luyện tập", checks her script and goes live with
// the fake camera; a classmate watches from the viewer link. From the coach
// view the trainer whispers and nudges: the trainee sees both, the viewer
// page gets neither. The trainee's forbidden claim raises a flag with its
// law on her screen and the coach's. She answers a question and ends; the
// overview shows it, and the scorecard lists the lost points (each linking
// to the replay), takes the trainer's marks and an annotation. Every page
// runs in Vietnamese and English, text stays text, and no page breaks the
// Content-Security-Policy.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { useServerAndBrowser } from './helpers/fixture.js';
import { trainerUrl } from './helpers/server.js';
import { newPage, sendChat } from './helpers/browser.js';
import { PolicyWatch } from './helpers/policy.js';
import { FIRST_FRAME_TIMEOUT_MS } from './helpers/video.js';

/** Generous: the machine is shared and each page does real work. */
const WAIT = { timeout: 30_000 };

let server;
let browser;

useServerAndBrowser((s, b) => {
  server = s;
  browser = b;
});

/** Buttons and fields without an accessible name. */
function nameless(page) {
  return page.evaluate(() => {
    const found = [];
    for (const el of document.querySelectorAll('input, select, textarea')) {
      if (!(el.labels?.length > 0 || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby'))) found.push(`unlabelled ${el.tagName}#${el.id}`);
    }
    for (const el of document.querySelectorAll('button, a[href]')) {
      if (!(el.textContent.trim() || el.getAttribute('aria-label'))) found.push(`nameless ${el.outerHTML.slice(0, 80)}`);
    }
    return found;
  });
}

test('a class of three: studio links, coaching that viewers never see, flags, the overview and the scorecard', async () => {
  const watch = new PolicyWatch(server.base);
  const desk = { width: 1280, height: 900 };

  // The trainer opens a class of three.
  const trainer = await newPage(browser, { viewport: desk, prepare: watch.attach('trainer') });
  await trainer.goto(trainerUrl(server));
  assert.equal(await trainer.getByTestId('class-create').textContent(), 'Mở lớp');
  await trainer.getByTestId('class-name').fill('Lớp K15 <b>Thái Nguyên</b>');
  await trainer.getByTestId('class-trainees').fill('Lan\nHùng\nMai');
  await trainer.getByTestId('lesson-seed').fill('7');
  // Ten lesson seconds a second: the automatic prompter's 30 s wait takes 3.
  await trainer.getByTestId('lesson-speed').fill('10');
  await trainer.getByTestId('lesson-audience').fill('6');
  await trainer.getByTestId('class-create').click();
  await trainer.getByTestId('class-title').filter({ hasText: 'Lớp K15 <b>Thái Nguyên</b>' }).waitFor(WAIT);
  assert.equal(await trainer.locator('[data-testid=class-title] b').count(), 0, 'the class name is text, not markup');
  const rows = trainer.getByTestId('overview-row');
  await trainer.waitForFunction(() => window.__chophien.polls > 0, null, WAIT);
  assert.equal(await rows.count(), 3);
  assert.deepEqual(await trainer.getByTestId('ov-trainee').allTextContents(), ['Lan (lần 1)', 'Hùng (lần 1)', 'Mai (lần 1)']);
  assert.deepEqual(await trainer.getByTestId('ov-status').allTextContents(), ['Chưa lên sóng', 'Chưa lên sóng', 'Chưa lên sóng']);

  // Lan's card: her studio link, and its QR code on demand.
  const lanCard = trainer.getByTestId('link-card').first();
  const studioUrl = await lanCard.getByTestId('studio-link').inputValue();
  assert.match(studioUrl, /^http:\/\/127\.0\.0\.1:\d+\/seller\.html\?room=[^#]+#token=ey/);
  await lanCard.getByTestId('link-qr').click();
  // Debian's zbarimg reads the studio link back from Chromium's pixels.
  const shot = join(await mkdtemp(join(tmpdir(), 'practice-qr-')), 'qr.png');
  await writeFile(shot, await lanCard.locator('canvas').screenshot());
  const { stdout } = await promisify(execFile)('/usr/bin/zbarimg', ['--raw', '-q', shot]);
  assert.equal(stdout.trim(), studioUrl, 'the QR code is the studio link');
  const lanRoom = await lanCard.getAttribute('data-room-id');
  const lanRow = trainer.locator(`[data-testid=overview-row][data-room-id="${lanRoom}"]`);
  const coachHref = await lanRow.getByTestId('ov-coach').getAttribute('href');
  const scoreHref = await lanRow.getByTestId('ov-scorecard').getAttribute('href');
  const viewerHref = await lanCard.getByTestId('viewer-link').getAttribute('href');
  assert.deepEqual(await nameless(trainer), []);

  // Lan opens her studio: a practice room, said so; she checks her script first.
  const studio = await newPage(browser, { viewport: desk, prepare: watch.attach('studio') });
  studio.on('dialog', (dialog) => dialog.accept());
  await studio.goto(studioUrl);
  await studio.waitForFunction(() => window.__chophien?.model?.me?.role === 'seller', null, WAIT);
  await studio.getByTestId('practice-badge').filter({ hasText: 'Phòng luyện tập' }).waitFor(WAIT);
  await studio.getByTestId('script-box').locator('summary').click();
  await studio.getByTestId('script-text').fill('Chào cả nhà!\nTrà Tân Cương ngon nhất Thái Nguyên.');
  await studio.getByTestId('script-check').click();
  const hit = studio.getByTestId('script-hits').getByTestId('flag-item');
  await hit.first().waitFor(WAIT);
  assert.equal(await hit.first().getAttribute('data-rule'), 'absolute_claim');
  assert.match(await hit.first().textContent(), /dòng 2, cột 20/);
  assert.match(await hit.first().getByTestId('flag-law').textContent(), /Luật Quảng cáo 2012/);

  await studio.getByTestId('go-live').click();
  await studio.waitForFunction(() => window.__chophien.pc?.connectionState === 'connected', null, { timeout: FIRST_FRAME_TIMEOUT_MS * 2 });

  // A classmate watches from the viewer link; every frame she gets is noted.
  const viewer = await newPage(browser, { prepare: watch.attach('viewer') });
  await viewer.goto(server.base + viewerHref);
  await viewer.getByTestId('join-name').fill('Minh');
  await viewer.getByTestId('join-button').click();
  await viewer.waitForFunction(() => Boolean(window.__chophien?.model?.me), null, WAIT);
  await viewer.evaluate(() => {
    window.__frames = [];
    window.__chophien.conn.on('*', (m) => window.__frames.push(m.type));
  });
  await viewer.getByTestId('practice-badge').filter({ hasText: 'Phòng luyện tập' }).waitFor(WAIT);

  // The trainer opens Lan's room in the coach view: video, chat, nudges.
  const coach = await newPage(browser, { viewport: desk, prepare: watch.attach('coach') });
  await coach.goto(server.base + coachHref);
  await coach.waitForFunction(() => window.__chophien?.model?.me?.role === 'trainer', null, WAIT);
  await coach.waitForFunction(() => window.__chophien.pc?.connectionState === 'connected', null, { timeout: FIRST_FRAME_TIMEOUT_MS * 2 });
  await coach.getByTestId('nudge').first().waitFor(WAIT);
  assert.deepEqual(await nameless(coach), []);

  // A whisper (markup in it stays text) and a nudge reach Lan's studio.
  const whisper = 'Chào khách mới vào đi em <i>nhé</i>';
  await coach.getByTestId('whisper-input').fill(whisper);
  await coach.getByTestId('whisper-send').click();
  const seen = studio.getByTestId('studio-coached').getByTestId('coached-text');
  await seen.filter({ hasText: whisper }).waitFor(WAIT);
  assert.equal(await studio.locator('[data-testid=studio-coached] i').count(), 0);
  await coach.locator('[data-testid=nudge][data-nudge=answer_questions]').click();
  await seen.filter({ hasText: 'Trả lời câu hỏi' }).waitFor(WAIT);
  await coach.getByTestId('coached-log').getByTestId('coached-text').filter({ hasText: whisper }).waitFor(WAIT);

  // A viewer's question; Lan answers with a forbidden claim: flagged, with its law.
  await sendChat(viewer, 'Chè này uống có tốt không shop?');
  const question = studio.getByTestId('chat-message').filter({ hasText: 'uống có tốt không' });
  await question.waitFor(WAIT);
  // Left waiting, the question brings the automatic prompter's words to her studio only.
  const prompt = studio.locator('[data-testid=studio-coached] [data-kind=question_waiting]');
  await prompt.first().waitFor(WAIT);
  assert.match(await prompt.first().textContent(), /Trợ lý tự động/);
  await question.getByTestId('chat-reply-button').click();
  await sendChat(studio, 'Trà này chữa khỏi tiểu đường đó chị');
  const flag = studio.getByTestId('studio-flags').getByTestId('flag-item');
  await flag.first().waitFor(WAIT);
  assert.equal(await flag.first().getAttribute('data-rule'), 'disease_cure');
  assert.match(await flag.first().getByTestId('flag-law').textContent(), /Điều 8/);
  assert.ok((await flag.first().getByTestId('flag-suggestion').textContent()).length > 10);
  await coach.getByTestId('flag-list').locator('[data-rule=disease_cure]').waitFor(WAIT);

  // The viewer saw the answer but nothing of the coaching or the flag.
  await viewer.getByTestId('chat-text').filter({ hasText: 'chữa khỏi tiểu đường' }).waitFor(WAIT);
  const frames = await viewer.evaluate(() => window.__frames);
  assert.ok(frames.includes('chat'));
  assert.ok(!frames.includes('coached') && !frames.includes('compliance_flag'), `viewer frames: ${frames.join(', ')}`);
  assert.ok(!(await viewer.locator('body').textContent()).includes('Trợ lý tự động'));
  const viewerText = await viewer.locator('body').textContent();
  assert.ok(!viewerText.includes('Chào khách mới vào đi em'), 'the whisper is not on the viewer page');


  // The class's simulated audience came with her live: bots chat in Vietnamese.
  await coach.getByTestId('audience-summary').waitFor(WAIT);
  await studio.waitForFunction(() => window.__chophien.model.chat.some((m) => m.user_id.startsWith('bot-')
    && /[ăâđêôơưàáạảãèéẹẻẽìíịỉĩòóọỏõùúụủũỳýỵỷỹ]/i.test(m.text)), null, WAIT);

  // The trainer fires the angry customer; Lan answers her.
  await coach.locator('[data-testid=scenario][data-scenario=khach-gian-giao-cham] [data-testid=scenario-fire]').click();
  const angry = studio.getByTestId('chat-message').filter({ hasText: 'đặt 10 ngày rồi vẫn chưa nhận được hàng' });
  await angry.first().waitFor(WAIT);
  await coach.getByTestId('fired-list').filter({ hasText: 'Khách giận vì giao hàng chậm' }).waitFor(WAIT);
  await angry.first().getByTestId('chat-reply-button').click();
  await sendChat(studio, 'Dạ em xin lỗi chị, em kiểm tra đơn và gọi lại cho chị ngay ạ');
  await viewer.getByTestId('chat-text').filter({ hasText: 'em xin lỗi chị' }).first().waitFor(WAIT);

  // The overview follows: Lan live, then ended with one flag and a score.
  const lanStatus = lanRow.getByTestId('ov-status');
  await lanStatus.filter({ hasText: 'Đang live' }).waitFor(WAIT);
  await studio.getByTestId('end-live').click();
  await lanStatus.filter({ hasText: 'Đã kết thúc' }).waitFor(WAIT);
  const lanFlags = lanRow.getByTestId('ov-flags');
  await lanFlags.filter({ hasText: '1' }).waitFor(WAIT);
  assert.match(await lanRow.getByTestId('ov-score').textContent(), /^\d+\.\d\d$/);

  // The scorecard: six parts, the flag's lost points link to the replay; marks and a note.
  const card = await newPage(browser, { viewport: desk, prepare: watch.attach('scorecard') });
  await card.goto(server.base + scoreHref);
  await card.getByTestId('scorecard').waitFor(WAIT);
  assert.equal(await card.getByTestId('part').count(), 6);
  assert.doesNotMatch(await card.locator('[data-part=scenarios] .part-head').textContent(), /chưa chấm/, 'the angry customer is scored');
  const complianceLost = card.locator('[data-part=compliance] [data-testid=lost-link]');
  const lostHref = await complianceLost.first().getAttribute('href');
  assert.match(lostHref, new RegExp(`^/replay\\.html\\?room=${lanRoom}&t=\\d+#token=.+$`));
  // The link opens the (unpublished) replay for the trainer, at that moment.
  const lostReplay = await newPage(browser, { viewport: desk, prepare: watch.attach('scorecard-replay') });
  await lostReplay.goto(server.base + lostHref);
  await lostReplay.getByTestId('replay').waitFor(WAIT);
  await lostReplay.close();
  assert.equal(await card.locator('[data-part=compliance] [data-testid=part-points]').textContent(), '0.00 / 15', 'a serious flag costs the whole part');
  await card.getByTestId('mark-presentation').fill('8');
  await card.getByTestId('mark-knowledge').fill('6');
  await card.getByTestId('mark-comment').fill('Tự tin, cần nói rõ xuất xứ');
  await card.getByTestId('marks-save').click();
  await card.getByTestId('marks-now').filter({ hasText: 'trình bày 8/10' }).waitFor(WAIT);
  assert.ok(Number(await card.getByTestId('card-total').textContent()) <= 50, 'a serious flag caps the total at 50');
  await card.getByTestId('note-text').fill('Chỗ này nên nói <b>đúng</b> công dụng');
  await card.getByTestId('note-save').click();
  await card.getByTestId('annotation-text').filter({ hasText: 'Chỗ này nên nói <b>đúng</b> công dụng' }).waitFor(WAIT);
  assert.deepEqual(await nameless(card), []);

  // The trainee sees her scorecard read-only, with the note.
  const own = await newPage(browser, { viewport: desk, prepare: watch.attach('scorecard-trainee') });
  await own.goto(server.base + await studio.getByTestId('studio-scorecard').getAttribute('href'));
  await own.getByTestId('annotation-text').filter({ hasText: 'nên nói' }).waitFor(WAIT);
  assert.equal(await own.getByTestId('marks-form').isHidden(), true);

  // English on every page.
  await trainer.getByTestId('lang-toggle').click();
  assert.equal(await trainer.getByTestId('class-create').textContent(), 'Open the class');
  await lanStatus.filter({ hasText: 'Ended' }).waitFor(WAIT);
  await coach.getByTestId('lang-toggle').click();
  assert.equal(await coach.getByTestId('whisper-send').textContent(), 'Send');
  assert.match(await coach.locator('[data-testid=nudge][data-nudge=answer_questions]').textContent(), /^Answer/);
  await card.getByTestId('lang-toggle').click();
  await card.getByTestId('marks-now').filter({ hasText: 'presentation 8/10' }).waitFor(WAIT);
  await studio.getByTestId('lang-toggle').click();
  await studio.getByTestId('practice-badge').filter({ hasText: 'Practice room' }).waitFor(WAIT);

  const pageErrors = watch.pages.flatMap(({ label, page }) => page.errors.map((e) => `${label}: ${e.message}`));
  assert.deepEqual(pageErrors, []);
  assert.deepEqual(watch.violations, [], 'no Content-Security-Policy violations');
  for (const { page } of watch.pages) await page.context().close();
});

test('a second attempt: both side by side with their ranks, the class CSV, and a printable scorecard', async () => {
  const watch = new PolicyWatch(server.base);
  const desk = { width: 1280, height: 900 };
  const trainer = await newPage(browser, { viewport: desk, prepare: watch.attach('trainer') });
  await trainer.goto(trainerUrl(server));
  await trainer.getByTestId('class-name').fill('Lớp làm lại');
  await trainer.getByTestId('class-trainees').fill('Hùng');
  await trainer.getByTestId('class-create').click();
  await trainer.getByTestId('overview-row').first().waitFor(WAIT);
  await trainer.getByTestId('link-retry').click();
  await trainer.getByTestId('overview-row').nth(1).waitFor(WAIT);
  assert.deepEqual(await trainer.getByTestId('ov-trainee').allTextContents(), ['Hùng (lần 1)', 'Hùng (lần 2)']);
  await trainer.waitForFunction(() => document.querySelectorAll('[data-testid=ov-rank]').length === 2
    && [...document.querySelectorAll('[data-testid=ov-rank]')].every((td) => td.textContent === '1'), null, WAIT);

  // The class's CSV: a heading row and one row per attempt.
  const [download] = await Promise.all([trainer.waitForEvent('download', WAIT), trainer.getByTestId('class-csv').click()]);
  const csv = await streamText(await download.createReadStream());
  const lines = csv.trim().split(/\r?\n/);
  assert.equal(lines.length, 3, csv);
  assert.match(download.suggestedFilename(), /^bang-diem-lop\.csv$/);

  // Side by side: both attempts, ranked, part by part.
  const compare = await newPage(browser, { viewport: desk, prepare: watch.attach('compare') });
  await compare.goto(server.base + await trainer.getByTestId('ov-compare').getAttribute('href'));
  await compare.getByTestId('compare').waitFor(WAIT);
  assert.equal(await compare.getByTestId('compare-attempt').count(), 2);
  assert.match(await compare.getByTestId('compare-attempt').first().textContent(), /Lần 1: Hùng · hạng 1/);
  assert.equal(await compare.locator('[data-testid=compare-table] tbody tr').count(), 7);

  // The printable scorecard: no buttons or forms on paper.
  const card = await newPage(browser, { viewport: desk, prepare: watch.attach('scorecard') });
  await card.goto(server.base + await trainer.getByTestId('ov-scorecard').first().getAttribute('href'));
  await card.getByTestId('scorecard').waitFor(WAIT);
  await card.emulateMedia({ media: 'print' });
  assert.equal(await card.getByTestId('print').isVisible(), false);
  assert.equal(await card.getByTestId('marks-form').isVisible(), false);
  assert.equal(await card.getByTestId('parts').isVisible(), true);

  assert.deepEqual(watch.violations, [], 'no Content-Security-Policy violations');
  const pageErrors = watch.pages.flatMap(({ label, page }) => page.errors.map((e) => `${label}: ${e.message}`));
  assert.deepEqual(pageErrors, []);
  for (const { page } of watch.pages) await page.context().close();
});

async function streamText(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}
