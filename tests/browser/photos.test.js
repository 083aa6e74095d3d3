// Product photos, price inputs and durations in the studio (issue 14, part 4;
// docs/studio.md, "Product photos"): on a 360×740 phone the seller adds a
// product with a photo taken from the file picker (a JPEG Chromium makes),
// sees its thumbnail and saves it; a viewer sees the photo on the product's
// card. An SVG renamed .jpg is refused in Vietnamese. The price field shows
// "250.000 ₫" while 250000 is typed and the product is saved at 250000; a
// flash sale of 5 minutes lasts 300 s.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServerAndBrowser } from './helpers/fixture.js';
import { openSeller, openViewer } from './helpers/browser.js';

/** Generous: the machine is shared with other builds. */
const PATIENCE = { timeout: 30_000 };
/** `250.000 ₫` as format.js writes it (a no-break space before ₫). */
const PRICE_250K = /^250\.000\s₫$/;

let server;
let browser;

useServerAndBrowser((s, b) => {
  server = s;
  browser = b;
});

/** The studio as a 360×740 phone holds it (touch, mobile). */
async function openPhoneStudio() {
  const context = await browser.newContext({
    viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2,
    locale: 'vi-VN', permissions: ['camera', 'microphone'],
  });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (error) => page.errors.push(error));
  await page.goto(server.sellerUrl);
  await page.waitForFunction(() => window.__chophien?.model?.me?.role === 'seller', null, PATIENCE);
  return page;
}

/** A 1600×1200 JPEG drawn by Chromium's canvas: what a phone camera hands over. */
async function cameraJpeg(page) {
  const base64 = await page.evaluate(() => {
    const canvas = document.createElement('canvas');
    canvas.width = 1600;
    canvas.height = 1200;
    const g = canvas.getContext('2d');
    const gradient = g.createLinearGradient(0, 0, 1600, 1200);
    gradient.addColorStop(0, '#2f7d4f');
    gradient.addColorStop(1, '#f3d27a');
    g.fillStyle = gradient;
    g.fillRect(0, 0, 1600, 1200);
    g.fillStyle = '#8b3a1a';
    g.fillRect(500, 350, 600, 500);
    return canvas.toDataURL('image/jpeg', 0.9).split(',')[1];
  });
  return Buffer.from(base64, 'base64');
}

/** Open "Quản lý" and the add-product form of the phone studio. */
async function openAddProduct(seller) {
  await seller.getByTestId('phone-manage').tap();
  await seller.getByTestId('manage-back').waitFor(PATIENCE);
  const details = seller.locator('details', { has: seller.getByTestId('add-product') });
  await details.locator('summary').first().tap();
  const form = seller.getByTestId('add-product');
  await form.locator('#new-name').waitFor(PATIENCE);
  return form;
}

test('on a phone the seller adds a product with a photo and a formatted price; a viewer sees the photo', async () => {
  const seller = await openPhoneStudio();
  const form = await openAddProduct(seller);
  await form.locator('#new-name').fill('Chè móc câu 200g');

  // The price formats as it is typed, and reads back exactly.
  const price = form.getByTestId('new-price');
  await price.tap();
  await price.pressSequentially('250000');
  assert.match(await price.inputValue(), PRICE_250K);
  assert.equal(await price.evaluate((el) => el.selectionStart), '250.000'.length, 'the caret stays after the last digit typed');

  // The photo: chosen, uploaded, its thumbnail shown.
  const input = form.getByTestId('photo-input');
  assert.equal(await input.getAttribute('accept'), 'image/jpeg,image/png,image/webp');
  // Thumb-sized targets inside the screen, like every control of the studio.
  for (const control of [input, form.getByTestId('advanced-toggle'), price]) {
    await control.scrollIntoViewIfNeeded();
    const box = await control.boundingBox();
    assert.ok(box.width >= 43.5 && box.height >= 43.5 && box.x >= 0 && box.x + box.width <= 360.5, JSON.stringify(box));
  }
  await input.setInputFiles({ name: 'IMG_0042.jpg', mimeType: 'image/jpeg', buffer: await cameraJpeg(seller) });
  const preview = form.getByTestId('photo-preview');
  await seller.waitForFunction(() => {
    const img = document.querySelector('#add-product [data-testid=photo-preview]');
    return img && !img.hidden && img.complete && img.naturalWidth > 0;
  }, null, PATIENCE);
  assert.match(await preview.getAttribute('src'), /^\/photos\/[0-9a-f]{32}-thumb\.jpg$/);
  const thumb = await preview.evaluate((img) => [img.naturalWidth, img.naturalHeight]);
  assert.ok(thumb[0] <= 320 && thumb[1] <= 320, `thumbnail ${thumb}`);
  assert.match(await form.getByTestId('photo-status').textContent(), /Đã tải ảnh lên/);

  await form.locator('button[type=submit]').tap();
  const row = seller.getByTestId('product-row').filter({ hasText: 'Chè móc câu 200g' });
  await row.waitFor(PATIENCE);
  const saved = await seller.evaluate(() => window.__chophien.model.products.find((p) => p.name === 'Chè móc câu 200g'));
  assert.equal(saved.price_vnd, 250000);
  assert.match(saved.image_url, /^\/photos\/[0-9a-f]{32}\.jpg$/);
  assert.match(await row.getByTestId('product-price').textContent(), PRICE_250K);
  assert.equal(await row.getByTestId('product-thumb').getAttribute('src'), saved.image_url.replace('.jpg', '-thumb.jpg'));
  assert.equal(await form.getByTestId('photo-preview').isHidden(), true, 'the form is ready for the next product');

  // Pinned, the viewer's product card shows the photo (loaded, under the page's policy).
  await row.getByTestId('pin').tap();
  await row.getByTestId('unpin').waitFor(PATIENCE);
  const viewer = await openViewer(browser, server, 'Lan');
  const card = viewer.getByTestId('pinned').getByTestId('product-card');
  await card.filter({ hasText: 'Chè móc câu 200g' }).waitFor(PATIENCE);
  const image = card.locator('img').first();
  // The photo, or its thumbnail (a card is small).
  const shown = await image.getAttribute('src');
  assert.ok([saved.image_url, saved.image_url.replace('.jpg', '-thumb.jpg')].includes(shown), shown);
  await viewer.waitForFunction(() => {
    const img = document.querySelector('[data-testid=pinned] [data-testid=product-card] img');
    return img?.complete && img.naturalWidth > 0;
  }, null, PATIENCE);

  assert.deepEqual(seller.errors.map(String), []);
  assert.deepEqual(viewer.errors.map(String), []);
  await seller.context().close();
  await viewer.context().close();
});

test('an SVG renamed .jpg is refused with the Vietnamese message, and nothing is kept', async () => {
  const seller = await openPhoneStudio();
  const form = await openAddProduct(seller);
  const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>';
  await form.getByTestId('photo-input').setInputFiles({ name: 'anh-dep.jpg', mimeType: 'image/jpeg', buffer: Buffer.from(svg) });
  const status = form.getByTestId('photo-status');
  await seller.waitForFunction(() => document.querySelector('#add-product [data-testid=photo-status]')?.dataset.kind === 'error', null, PATIENCE);
  assert.equal(await status.textContent(), 'Tệp này không phải ảnh JPEG, PNG hay WebP (không nhận SVG, tài liệu hay tệp đổi đuôi).');
  assert.equal(await form.getByTestId('photo-preview').isHidden(), true);
  assert.equal(await seller.locator('#new-image').inputValue(), '', 'no image URL is taken');
  assert.deepEqual(seller.errors.map(String), []);
  await seller.context().close();
});

test('a flash sale of 5 minutes lasts 300 seconds, at the price typed', async () => {
  const seller = await openSeller(browser, server);
  await seller.getByTestId('sale-product').selectOption('p1');
  await seller.getByTestId('sale-stock').fill('5');
  const price = seller.getByTestId('sale-price');
  await price.fill('');
  await price.pressSequentially('250000');
  assert.match(await price.inputValue(), PRICE_250K);
  await seller.getByTestId('sale-limit').fill('1');
  await seller.getByTestId('sale-starts').fill('0');
  await seller.getByTestId('sale-duration').fill('5');
  await seller.getByTestId('sale-start').click();
  await seller.waitForFunction(() => window.__chophien.model.sale?.state === 'live', null, PATIENCE);
  const sale = await seller.evaluate(() => window.__chophien.model.sale);
  assert.equal(sale.ends_at - sale.starts_at, 300_000);
  assert.equal(sale.price_vnd, 250000);
  await seller.getByTestId('sale-end').click();
  await seller.waitForFunction(() => window.__chophien.model.sale?.state === 'ended', null, PATIENCE);
  assert.deepEqual(seller.errors.map(String), []);
  await seller.context().close();
});

test('editing a product: the price is shown formatted, Backspace beside a dot removes the digit, a new photo and the amount are saved', async () => {
  const seller = await openSeller(browser, server);
  const row = seller.locator('[data-testid=product-row][data-product-id=p2]');
  await row.getByTestId('edit').click();
  const price = row.getByTestId('edit-price');
  const before = await seller.evaluate(() => window.__chophien.model.products.find((p) => p.id === 'p2').price_vnd);
  assert.match(await price.inputValue(), /^\d{1,3}(\.\d{3})*\s₫$/, 'the current price, formatted');

  await price.fill('');
  await price.pressSequentially('1850000');
  assert.match(await price.inputValue(), /^1\.850\.000\s₫$/);
  // The caret just after the first dot: Backspace takes the "1" before it.
  await price.evaluate((el) => el.setSelectionRange(2, 2));
  await price.press('Backspace');
  assert.match(await price.inputValue(), /^850\.000\s₫$/);
  assert.equal(await price.evaluate((el) => el.selectionStart), 0, 'the caret stays where the digit was');
  // Pasted with commas, it reads the same digits.
  await price.fill('320,000');
  assert.match(await price.inputValue(), /^320\.000\s₫$/);

  // A new photo from the edit form; the list may be drawn again meanwhile.
  await row.getByTestId('photo-input').setInputFiles({ name: 'moi.jpg', mimeType: 'image/jpeg', buffer: await cameraJpeg(seller) });
  await seller.waitForFunction(() => {
    const img = document.querySelector('[data-product-id=p2] [data-testid=photo-preview]');
    return img && !img.hidden && img.complete && img.naturalWidth > 0;
  }, null, PATIENCE);
  assert.match(await row.getByTestId('photo-status').textContent(), /Đã tải ảnh lên/);
  assert.match(await row.getByTestId('edit-price').inputValue(), /^320\.000\s₫$/, 'the typed price is kept');

  await row.getByTestId('edit-save').click();
  await row.getByTestId('edit-price').waitFor({ state: 'detached', ...PATIENCE });
  await seller.waitForFunction(() => window.__chophien.model.products.find((p) => p.id === 'p2').price_vnd === 320000, null, PATIENCE);
  assert.notEqual(before, 320000);
  const saved = await seller.evaluate(() => window.__chophien.model.products.find((p) => p.id === 'p2'));
  assert.match(saved.image_url, /^\/photos\/[0-9a-f]{32}\.jpg$/);
  assert.match(await row.getByTestId('product-price').textContent(), /^320\.000\s₫$/);
  assert.deepEqual(seller.errors.map(String), []);
  await seller.context().close();
});
