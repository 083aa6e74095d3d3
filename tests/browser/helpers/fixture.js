// One server and one browser per test file: started before its tests,
// stopped after them, whatever happened in between.

import { after, before } from 'node:test';
import { startServer } from './server.js';
import { launchBrowser } from './browser.js';

/**
 * Register the file's before/after hooks. `use(server, browser)` receives
 * both once they are up (test files keep them in module variables).
 */
export function useServerAndBrowser(use) {
  let server;
  let browser;
  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    use(server, browser);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });
}
