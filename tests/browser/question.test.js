// The studio's rule for viewers' questions (web-client/js/question.js), the
// same rule the server counts `questions` with (docs/metrics.md). A plain
// module: tested in Node, no browser.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QuestionTracker, isQuestion } from '../../web-client/js/question.js';

const viewer = (text, id = 1, sentAt = 0) => ({ id, role: 'viewer', text, sent_at: sentAt, name: 'Lan', user_id: 'v-lan' });

test('a viewer\'s message is a question by its question mark or one of the phrases as whole words', () => {
  for (const text of [
    'Chè này pha mấy nước?', 'Còn hàng không？', 'Giá BAO NHIÊU vậy shop', 'bn tiền 1 gói', 'giá sao chị',
    'ib em nhé', 'cái này còn không', 'còn ko ạ', 'có không shop', 'ship được không', 'Ship Hà Nội', 'khi nào có hàng',
    'shop ở đâu', 'sao chưa thấy', 'ib giá shop ơi', 'có ship Hà Giang được không', '(ib)',
  ]) assert.equal(isQuestion(viewer(text)), true, text);
  for (const text of ['Chào shop', 'Chè ngon quá', 'Tuyệt vời', 'sáo trúc đẹp', 'tribe', 'saoke', 'shipper tới rồi']) {
    assert.equal(isQuestion(viewer(text)), false, text);
  }
});

test('only viewers ask: the seller\'s, a moderator\'s question marks do not count', () => {
  for (const role of ['seller', 'moderator', 'trainer', 'admin']) {
    assert.equal(isQuestion({ ...viewer('Mọi người thấy sao?'), role }), false, role);
  }
});

test('a question waits until a reply points at it, and is highlighted only after the delay', () => {
  const questions = new QuestionTracker();
  questions.reset([viewer('Giá bao nhiêu?', 1, 1000), viewer('Chào shop', 2, 1000), viewer('Ship không?', 3, 50_000)]);
  assert.deepEqual(questions.unanswered(61_000).map((m) => m.id), [1]);
  assert.deepEqual(questions.unanswered(111_000).map((m) => m.id), [1, 3]);
  questions.observe({ id: 4, role: 'seller', text: '250k em', sent_at: 62_000, reply_to: { id: 1, name: 'Lan', text: 'Giá bao nhiêu?' } });
  assert.equal(questions.isAnswered(1), true);
  assert.deepEqual(questions.unanswered(111_000).map((m) => m.id), [3]);
  questions.forget(3);
  assert.deepEqual(questions.unanswered(111_000), []);
  assert.deepEqual(questions.unanswered(0, 0).map((m) => m.id), []);
});
