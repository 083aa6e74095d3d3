// The shop's webhook in the studio: the seller sets the URL of a receiver
// (started by the test: a real HTTP server that fails its first request),
// the server makes a secret and shows it, "send a test" queues a ping, the
// delivery log shows the failed attempt with its HTTP status, and "retry"
// sends it again until the receiver accepts — signed with that secret.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { launchBrowser, openSeller } from './helpers/browser.js';
import { startServer } from './helpers/server.js';

let server;
let browser;
let receiver;
const received = [];

before(async () => {
  // Loopback receivers are private addresses: allowed here, as in the
  // Rust tests, never by default. Automatic retries wait ten minutes, so
  // the second attempt is the seller's click.
  server = await startServer({
    env: {
      CHOPHIEN_WEBHOOKS__ALLOW_PRIVATE_TARGETS: 'true',
      CHOPHIEN_WEBHOOKS__RETRY_BASE_MS: '600000',
      CHOPHIEN_WEBHOOKS__POLL_INTERVAL_MS: '200',
    },
  });
  browser = await launchBrowser();
  receiver = createServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      response.statusCode = received.length === 1 ? 500 : 204;
      response.end();
    });
  });
  await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
});

after(async () => {
  await browser?.close();
  await server?.stop();
  receiver?.close();
});

/** The Stripe-style check a shop runs: HMAC-SHA256 over "<t>.<body>". */
function signedWith(secret, { headers, body }) {
  const parts = Object.fromEntries(String(headers['chophien-signature']).split(',').map((p) => p.split('=')));
  const expected = createHmac('sha256', secret).update(`${parts.t}.${body}`).digest('hex');
  return parts.v1 === expected;
}

test('the seller sets a webhook, sees a failed delivery in the log and retries it until the shop accepts', async () => {
  const seller = await openSeller(browser, server);
  const form = seller.getByTestId('webhook-form');
  await form.getByTestId('webhook-url').fill(`http://127.0.0.1:${receiver.address().port}/hooks`);
  await form.getByTestId('webhook-save').click();
  await seller.waitForFunction(() => document.querySelector('[data-testid=webhook-secret]').value.startsWith('whsec_'));
  const secret = await form.getByTestId('webhook-secret').inputValue();

  await form.getByTestId('webhook-test').click();
  const row = seller.getByTestId('webhook-row').first();
  await seller.waitForFunction(() => document.querySelector('[data-testid=webhook-row]')?.textContent.includes('HTTP 500'), null, { timeout: 20000 });
  assert.equal(await row.getAttribute('data-state'), 'pending');
  assert.equal(received.length, 1);

  await row.getByTestId('webhook-retry').click();
  await seller.waitForFunction(() => document.querySelector('[data-testid=webhook-row]')?.dataset.state === 'delivered', null, { timeout: 20000 });
  assert.equal(received.length, 2);
  for (const request of received) {
    assert.equal(request.headers['chophien-event-type'], 'ping');
    assert.equal(request.headers['chophien-event-id'], received[0].headers['chophien-event-id'], 'one event id on every attempt');
    assert.ok(signedWith(secret, request), 'signed with the secret the studio showed');
    assert.ok(!signedWith('whsec_wrong', request));
  }
});
