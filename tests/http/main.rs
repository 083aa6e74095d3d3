//! What browsers need over HTTP: guest identities, security headers, VietQR,
//! product photos.
//!
//! One test binary for many files: each is a module (one link instead of
//! several, and far less disk).

#[path = "../support/mod.rs"]
mod support;

mod guest_identity;
mod photos;
mod schedule;
mod security_headers;
mod vietqr;
