//! The security headers every response carries, and why each is there.
//!
//! [`secure`] wraps the whole router (routes, static files, fallbacks and
//! errors alike) with tower-http's `SetResponseHeaderLayer`s, plus one small
//! middleware for the header that depends on the path:
//!
//! - `Content-Security-Policy` ([`CONTENT_SECURITY_POLICY`]): the browser
//!   runs only our own script files and style sheets (no inline script, no
//!   `style="…"` attribute, no `eval`), so a chat message or product name that
//!   slipped into markup could not run. Everything not listed is `'none'`:
//!   `connect-src 'self'` admits the API and the same-origin WebSocket (CSP 3
//!   matches `ws:`/`wss:` against `'self'`; `tests/browser/csp.test.js` proves
//!   it in Chromium); `img-src` admits product images on this server or at any
//!   `http(s)` address, the only `image_url`s a room accepts; `media-src
//!   'self'` admits replays' recordings from this server (live WebRTC video is
//!   attached through `srcObject`, which CSP does not govern). `frame-ancestors 'none'` keeps our pages out of
//!   other sites' frames (clickjacking a "buy" button); `base-uri 'none'` and
//!   `form-action 'self'` stop injected `<base>` or forms from redirecting
//!   what the page loads or sends. Harmless on JSON and CSV answers.
//! - `X-Content-Type-Options: nosniff`: a response is only ever what its
//!   `Content-Type` says (no JSON or CSV run as a script).
//! - `Referrer-Policy: no-referrer`: tokens travel in URLs (the WebSocket's
//!   `?token=`, the studio's `#token=`) and product images load from other
//!   sites; no address of ours (page, room, query) is ever sent to them.
//!   Browsers already drop the `#token=` fragment; this also covers a token
//!   that ends up in a query string.
//! - `Cache-Control: no-store` on everything under `/api/`: the API answers
//!   with live state, buyers' phones and addresses (orders, JSON and CSV) and
//!   freshly minted tokens (`/api/dev/token`); no browser or proxy cache may
//!   keep a copy, whether the answer is a success or an error. Static files
//!   keep their default caching. The one exception is a handler that says
//!   how its answer may be cached: a replay's video file (`replay.rs`), which
//!   a browser must be able to keep while seeking.

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;

/// The policy on every response. See the module documentation for each part.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; \
     script-src 'self'; \
     style-src 'self'; \
     img-src 'self' https: http:; \
     media-src 'self'; \
     connect-src 'self'; \
     object-src 'none'; \
     base-uri 'none'; \
     form-action 'self'; \
     frame-ancestors 'none'";

/// Put the security headers on every response of `router`.
pub(super) fn secure(router: Router) -> Router {
    with_policy(
        router.layer(middleware::from_fn(no_store_for_api)),
        CONTENT_SECURITY_POLICY,
    )
}

/// The headers every response carries, with `policy` as its
/// Content-Security-Policy (the pages' or, for photos, a stricter one).
pub(super) fn with_policy(router: Router, policy: &'static str) -> Router {
    router
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(policy),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
}

/// `Cache-Control: no-store` on whatever answers a request under `/api/`
/// (tower-http's layers see only the response, not the path it answers).
async fn no_store_for_api(request: Request, next: Next) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let mut response = next.run(request).await;
    if api && !response.headers().contains_key(header::CACHE_CONTROL) {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
