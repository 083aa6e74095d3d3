// Chat between the seller studio and a viewer page, through a real server.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServerAndBrowser } from './helpers/fixture.js';
import { openSeller, openViewer, sendChat } from './helpers/browser.js';

let server;
let browser;

useServerAndBrowser((s, b) => {
  server = s;
  browser = b;
});

test('a chat message travels from viewer to seller and back', async () => {
  const seller = await openSeller(browser, server);
  const viewer = await openViewer(browser, server, 'Lan');

  await sendChat(viewer, 'Chị ơi, chè này pha mấy lần nước?');
  const atSeller = seller.getByTestId('chat-message').filter({ hasText: 'Chị ơi, chè này pha mấy lần nước?' });
  await atSeller.waitFor();
  assert.equal(await atSeller.getByTestId('chat-name').textContent(), 'Lan');

  await sendChat(seller, 'Pha được 5-6 nước em nhé');
  const atViewer = viewer.getByTestId('chat-message').filter({ hasText: 'Pha được 5-6 nước em nhé' });
  await atViewer.waitFor();
  assert.equal(await atViewer.getByTestId('chat-name').textContent(), 'Chị Hoa');
  assert.deepEqual([...seller.errors, ...viewer.errors], []);
  await seller.context().close();
  await viewer.context().close();
});

test('markup in a chat message is shown as text, never run', async () => {
  const seller = await openSeller(browser, server);
  const viewer = await openViewer(browser, server, '<b>Kẻ xấu</b>');
  const dialogs = [];
  for (const page of [seller, viewer]) page.on('dialog', (dialog) => { dialogs.push(dialog.message()); dialog.dismiss(); });

  const payload = '<img src=x onerror=alert(1)>';
  await sendChat(viewer, payload);
  for (const page of [seller, viewer]) {
    const message = page.getByTestId('chat-message').filter({ hasText: payload });
    await message.waitFor();
    assert.equal(await message.getByTestId('chat-text').textContent(), payload);
    assert.equal(await message.getByTestId('chat-name').textContent(), '<b>Kẻ xấu</b>');
    assert.equal(await page.locator('[data-testid=chat-log] img, [data-testid=chat-log] b').count(), 0);
  }
  // Give a would-be onerror handler time to fire before declaring victory.
  await viewer.waitForTimeout(500);
  assert.deepEqual(dialogs, []);
  await seller.context().close();
  await viewer.context().close();
});
