//! Where a request's access token is read from: one function for every
//! endpoint.
//!
//! HTTP endpoints take `Authorization: Bearer <token>`. The WebSocket
//! endpoint also takes `?token=` (browsers cannot set headers on a
//! WebSocket). The scheme name is case-insensitive (`Bearer`, `bearer`,
//! `BEARER`; RFC 9110 §11.1). A request carrying two different tokens (query
//! and header, or two `Authorization` headers) is refused with 400
//! `bad_request` rather than having one silently win: a client that sends
//! two does not know which identity it acts as.

use axum::http::{header, HeaderMap, StatusCode};

use crate::auth::AuthError;
use crate::protocol::ErrorCode;

use super::api::ApiError;

/// The one access token of a request: from `query` (the WebSocket's
/// `?token=`, `None` for HTTP endpoints) and any `Authorization: Bearer`
/// header. Identical copies count as one.
pub fn access_token<'a>(
    query: Option<&'a str>,
    headers: &'a HeaderMap,
) -> Result<&'a str, ApiError> {
    let mut tokens: Vec<&str> = query.into_iter().collect();
    let mut other_scheme = false;
    for value in headers.get_all(header::AUTHORIZATION) {
        match value.to_str().ok().and_then(bearer_token) {
            Some(token) => tokens.push(token),
            None => other_scheme = true,
        }
    }
    // An empty `?token=` or `Bearer ` is no token at all.
    tokens.retain(|token| !token.is_empty());
    let first = tokens.first().copied();
    if tokens.iter().any(|token| Some(*token) != first) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            "the request carries two different access tokens; send one",
        ));
    }
    match first {
        Some(token) => Ok(token),
        None if other_scheme => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "the Authorization header must be `Bearer <token>`",
        )),
        None => Err(AuthError::Missing.into()),
    }
}

/// The token of an `Authorization` value in the Bearer scheme, whatever the
/// scheme's case; `None` for any other scheme.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once([' ', '\t'])?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(values: &[&'static str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(header::AUTHORIZATION, HeaderValue::from_static(value));
        }
        map
    }

    fn status(result: Result<&str, ApiError>) -> StatusCode {
        result.err().map_or(StatusCode::OK, |e| e.status)
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for value in ["Bearer t1", "bearer t1", "BEARER t1", "  bEaReR   t1  "] {
            assert_eq!(access_token(None, &headers(&[value])).ok(), Some("t1"));
        }
    }

    #[test]
    fn the_query_and_the_header_must_agree() {
        let both = headers(&["Bearer t1"]);
        assert_eq!(access_token(Some("t1"), &both).ok(), Some("t1"));
        assert_eq!(
            status(access_token(Some("t2"), &both)),
            StatusCode::BAD_REQUEST
        );
        let two = headers(&["Bearer t1", "Bearer t2"]);
        assert_eq!(status(access_token(None, &two)), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn no_token_or_another_scheme_is_unauthorized() {
        let none = HeaderMap::new();
        assert_eq!(status(access_token(None, &none)), StatusCode::UNAUTHORIZED);
        assert_eq!(
            status(access_token(Some(""), &none)),
            StatusCode::UNAUTHORIZED
        );
        let basic = headers(&["Basic dTpw"]);
        assert_eq!(status(access_token(None, &basic)), StatusCode::UNAUTHORIZED);
        assert_eq!(
            status(access_token(None, &headers(&["Bearer"]))),
            StatusCode::UNAUTHORIZED
        );
        // A browser behind a password-protected proxy sends Basic itself: the
        // query token still counts.
        assert_eq!(access_token(Some("t1"), &basic).ok(), Some("t1"));
    }
}
