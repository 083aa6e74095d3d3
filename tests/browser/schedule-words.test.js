// How a planned start reads (web-client/js/schedule.js): the countdown's
// words in Vietnamese, from days down to seconds, and once the time has
// passed. A plain module: tested in Node, no browser.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countdownText, isUpcoming } from '../../web-client/js/schedule.js';

const NOW = 1_796_000_000_000;
const S = 1000;
const MIN = 60 * S;
const HOUR = 60 * MIN;

test('hours and zero-padded minutes under a day', () => {
  assert.equal(countdownText(NOW + 2 * HOUR + 5 * MIN, NOW), 'Bắt đầu sau 2 giờ 05 phút');
});

test('days and hours beyond a day', () => {
  assert.equal(countdownText(NOW + 26 * HOUR + 30 * MIN, NOW), 'Bắt đầu sau 1 ngày 2 giờ');
});

test('minutes under an hour, seconds in the last minute', () => {
  assert.equal(countdownText(NOW + 44 * MIN + 10 * S, NOW), 'Bắt đầu sau 45 phút');
  assert.equal(countdownText(NOW + 59 * S, NOW), 'Bắt đầu sau 59 giây');
});

test('once the time has passed it says the live is about to start', () => {
  assert.equal(countdownText(NOW, NOW), 'Sắp bắt đầu');
  assert.equal(countdownText(NOW - HOUR, NOW), 'Sắp bắt đầu');
});

test('only a scheduled room with a time counts down', () => {
  assert.equal(isUpcoming({ status: 'scheduled', starts_at: NOW }), true);
  assert.equal(isUpcoming({ status: 'scheduled' }), false);
  assert.equal(isUpcoming({ status: 'live', starts_at: NOW }), false);
});
