// What pages say about the server's Content-Security-Policy: violation
// events, CSP console messages and our responses' headers (csp.test.js,
// analytics.test.js).

/**
 * Everything the pages of one test say about the policy: violation events
 * (from the first script on), CSP messages on the console, and the headers of
 * every response from our server.
 */
export class PolicyWatch {
  constructor(base) {
    this.base = base;
    this.violations = [];
    this.responses = [];
    this.pages = [];
  }

  /** Use as `newPage`'s `prepare`: runs before the page's first navigation. */
  attach(label) {
    return async (page) => {
      this.pages.push({ label, page });
      await page.exposeFunction('__cspViolation', (v) => this.violations.push({ page: label, ...v }));
      await page.addInitScript(() => {
        window.addEventListener('securitypolicyviolation', (e) => {
          window.__cspViolation({
            directive: e.effectiveDirective,
            blocked: e.blockedURI,
            at: `${e.sourceFile}:${e.lineNumber}:${e.columnNumber}`,
            sample: e.sample,
            document: location.pathname,
          });
        }, true);
      });
      page.on('console', (message) => {
        if (/Content.Security.Policy/i.test(message.text())) {
          this.violations.push({ page: label, console: message.text() });
        }
      });
      page.on('response', (response) => {
        if (!response.url().startsWith(this.base)) return;
        this.responses.push(response.allHeaders().then((headers) => ({
          page: label,
          url: response.url().slice(this.base.length),
          type: response.request().resourceType(),
          status: response.status(),
          headers,
        })));
      });
    };
  }

  async headers() {
    return Promise.all(this.responses);
  }
}
