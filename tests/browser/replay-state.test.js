// How the replay page maps video time to the session's wall time and folds
// the timeline (web-client/js/replay-state.js). A plain module: tested in
// Node, no browser.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplayState, barPosition, fromBar, layoutSegments, locate, totalMs } from '../../web-client/js/replay-state.js';

const T = 1_795_000_000_000;
const segments = layoutSegments([
  { id: 'b', started_at: T + 30_000, ended_at: T + 50_000, duration_ms: 20_000, url: '/b' },
  { id: 'a', started_at: T, ended_at: T + 20_000, duration_ms: 20_000, url: '/a' },
]);

test('segments play in order, end to end on the bar', () => {
  assert.deepEqual(segments.map((s) => [s.id, s.offsetMs]), [['a', 0], ['b', 20_000]]);
  assert.equal(totalMs(segments), 40_000);
  assert.deepEqual(locate(segments, T + 5_000), { index: 0, seconds: 5 });
  assert.deepEqual(locate(segments, T + 25_000), { index: 1, seconds: 0 }, 'a gap snaps to the next segment');
  assert.deepEqual(locate(segments, T + 35_000), { index: 1, seconds: 5 });
  assert.equal(locate(segments, T + 60_000), null);
  assert.equal(barPosition(segments, T + 35_000), 25_000);
  assert.deepEqual(fromBar(segments, 25_000), { index: 1, seconds: 5 });
  assert.deepEqual(fromBar(segments, 99_000), { index: 1, seconds: 20 });
});

test('the room at a moment: chat, hearts, pin and sale up to it; a seek back folds again', () => {
  const chat = (id, at, text) => ({ at, type: 'chat', message: { id, text, name: 'Lan', role: 'viewer', sent_at: at } });
  const replay = new ReplayState([
    chat(2, T + 5_000, 'hai'),
    chat(1, T + 1_000, 'một'),
    { at: T + 2_000, type: 'hearts', count: 3 },
    { at: T + 3_000, type: 'product_pinned', product: { id: 'p1', name: 'Chè' } },
    { at: T + 4_000, type: 'sale_updated', sale: { id: 's', state: 'live' } },
    { at: T + 6_000, type: 'message_deleted', message_id: 1 },
    { at: T + 7_000, type: 'product_unpinned' },
  ]);
  let changed = replay.seek(T + 4_500);
  assert.deepEqual(replay.state.chat.map((m) => m.text), ['một']);
  assert.equal(replay.state.heartsTotal, 3);
  assert.equal(replay.state.pinned.id, 'p1');
  assert.equal(replay.state.sale.state, 'live');
  assert.ok(changed.has('chat-append'));
  changed = replay.seek(T + 6_500);
  assert.deepEqual(replay.state.chat.map((m) => m.text), ['hai']);
  assert.ok(changed.has('chat-delete'));
  changed = replay.seek(T + 1_500);
  assert.ok(changed.has('chat'), 'a seek back draws the chat afresh');
  assert.deepEqual(replay.state.chat.map((m) => m.text), ['một']);
  assert.equal(replay.state.heartsTotal, 0);
  assert.equal(replay.state.pinned, null);
  replay.seek(T + 8_000);
  assert.equal(replay.state.pinned, null);
  assert.equal(replay.state.heartsTotal, 3);
});

test('the pinned note at a moment: pinned, replaced, unpinned, and gone again after a seek back', () => {
  const replay = new ReplayState([
    { at: T + 1_000, type: 'note_pinned', note: { text: 'Freeship đơn từ 300k', pinned_at: T + 1_000, by: 'Chị Hoa' } },
    { at: T + 3_000, type: 'note_pinned', note: { text: 'Giảm 10% cho đơn thứ hai', pinned_at: T + 3_000, by: 'Chị Hoa' } },
    { at: T + 5_000, type: 'note_unpinned' },
  ]);
  assert.ok(replay.seek(T + 2_000).has('note'));
  assert.equal(replay.state.note.text, 'Freeship đơn từ 300k');
  replay.seek(T + 4_000);
  assert.equal(replay.state.note.text, 'Giảm 10% cho đơn thứ hai');
  replay.seek(T + 6_000);
  assert.equal(replay.state.note, null);
  const back = replay.seek(T + 500);
  assert.ok(back.has('note'), 'a seek back redraws the note');
  assert.equal(replay.state.note, null);
});
