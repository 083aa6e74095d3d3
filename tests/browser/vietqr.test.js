// VietQR in the browser: the seller saves her bank account in the studio; a
// viewer who pays by transfer sees a QR on her order card with the exact
// amount and her order code; the QR as Chromium drew it is read back by an
// independent decoder (Debian's zbarimg) and every field is checked.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { useServerAndBrowser } from './helpers/fixture.js';
import { newPage, openSeller, openViewer, startSale } from './helpers/browser.js';

const run = promisify(execFile);
let server;
let browser;

useServerAndBrowser((s, b) => {
  server = s;
  browser = b;
});

/** EMVCo TLV: id (2 digits), length (2 digits), value; nested where asked. */
function tlv(text) {
  const fields = {};
  for (let i = 0; i < text.length;) {
    const id = text.slice(i, i + 2);
    const length = Number(text.slice(i + 2, i + 4));
    fields[id] = text.slice(i + 4, i + 4 + length);
    i += 4 + length;
  }
  return fields;
}

/** CRC-16/CCITT-FALSE, bit by bit (independent of the server's crate). */
function crc16(text) {
  let crc = 0xffff;
  for (const byte of Buffer.from(text, 'utf8')) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc.toString(16).toUpperCase().padStart(4, '0');
}

test('a transfer order shows a VietQR that decodes to the seller\'s account, the amount and the order code', async () => {
  const seller = await openSeller(browser, server);
  const panel = seller.getByTestId('payment-form');
  await seller.waitForFunction(() => document.querySelectorAll('#payment-bank option').length > 10);
  await panel.getByTestId('payment-bank').selectOption('970436');
  await panel.getByTestId('payment-number').fill('0011001234567');
  await panel.getByTestId('payment-name').fill('Nguyễn Thị Hoa');
  await panel.getByTestId('payment-save').click();
  await seller.getByTestId('payment-current').filter({ hasText: 'NGUYEN THI HOA' }).waitFor();

  await startSale(seller);
  const viewer = await openViewer(browser, server, 'Lan');
  const sale = viewer.getByTestId('sale');
  await viewer.waitForFunction(() => document.querySelector('[data-testid=buy-button]')?.disabled === false);
  await sale.getByTestId('buy-button').click();
  await sale.getByTestId('checkout-name').fill('Nguyễn Thị Lan');
  await sale.getByTestId('checkout-phone').fill('0912345678');
  await sale.getByTestId('checkout-address').fill('12 Hoàng Văn Thụ, TP Thái Nguyên');
  await sale.getByTestId('payment-bank_transfer').check();
  await sale.getByTestId('checkout-submit').click();
  const order = await viewer.waitForFunction(() => window.__chophien.sale.order).then((h) => h.jsonValue());

  const image = sale.getByTestId('vietqr-image');
  await image.waitFor();
  await viewer.waitForFunction(() => document.querySelector('[data-testid=vietqr-image]')?.complete);
  const dotted = String(order.total_vnd).replace(/\B(?=(\d{3})+(?!\d))/g, '.');
  assert.match(await sale.getByTestId('vietqr-amount').textContent(), new RegExp(`^${dotted}\\s₫$`));
  assert.equal(await sale.getByTestId('vietqr-note').textContent(), `CP ${order.order_id.toUpperCase()}`);

  const dir = await mkdtemp(join(tmpdir(), 'vietqr-'));
  const shot = join(dir, 'qr.png');
  await writeFile(shot, await image.screenshot());
  const { stdout } = await run('/usr/bin/zbarimg', ['--raw', '-q', shot]);
  const payload = stdout.trim();
  const fields = tlv(payload);
  assert.equal(fields['00'], '01');
  assert.equal(fields['01'], '12', 'dynamic: it carries an amount');
  const merchant = tlv(fields['38']);
  assert.equal(merchant['00'], 'A000000727');
  const beneficiary = tlv(merchant['01']);
  assert.equal(beneficiary['00'], '970436');
  assert.equal(beneficiary['01'], '0011001234567');
  assert.equal(merchant['02'], 'QRIBFTTA');
  assert.equal(fields['53'], '704');
  assert.equal(fields['54'], String(order.total_vnd));
  assert.equal(fields['58'], 'VN');
  assert.equal(tlv(fields['62'])['08'], `CP ${order.order_id.toUpperCase()}`);
  assert.equal(fields['63'], crc16(payload.slice(0, -4)), 'CRC over everything up to and including 6304');
  assert.ok(payload.slice(-8, -4) === '6304');

  // Later, from the order page (no session: the code and her phone), the same code.
  const page = await newPage(browser);
  await page.goto(`${server.base}/order.html?code=CP${order.order_id.toUpperCase()}`);
  await page.getByTestId('lookup-phone').fill('0912 345 678');
  await page.getByTestId('lookup-submit').click();
  const drawn = page.getByTestId('vietqr-image');
  await drawn.waitFor();
  assert.equal(await drawn.evaluate((el) => el.tagName.toLowerCase()), 'svg', 'drawn inline, no token in any URL');
  const again = join(dir, 'page.png');
  await writeFile(again, await drawn.screenshot());
  const decoded = await run('/usr/bin/zbarimg', ['--raw', '-q', again]);
  assert.equal(decoded.stdout.trim(), payload, 'the order page shows the very same code');
});
