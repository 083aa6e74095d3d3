//! A shop's webhook endpoint, for real: an axum server on 127.0.0.1:0 that
//! answers 500 to its first requests, 2xx after, and records every request
//! as it arrived (headers and raw body).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use chophien::webhook::{signature, verify, VerifyError};
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub path: String,
    pub event_id: String,
    pub event_type: String,
    pub signature: String,
    pub content_type: String,
    /// The raw bytes, exactly as signed.
    pub body: Bytes,
    /// What the receiver answered.
    pub answered: u16,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a webhook body is JSON")
    }

    /// The documented check, as a shop runs it, against `secret`.
    pub fn verify(&self, secret: &str) -> Result<(), VerifyError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        verify(
            secret,
            &self.signature,
            &self.body,
            now,
            signature::DEFAULT_TOLERANCE,
        )
    }
}

struct Shared {
    /// Requests still to answer 500.
    failures_left: AtomicUsize,
    requests: Mutex<Vec<Received>>,
    arrived: Notify,
}

pub struct Receiver {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    stop: CancellationToken,
}

impl Receiver {
    /// A receiver that fails its first `fail_first` requests with 500.
    /// `POST /redirect` always answers 302 to `/hooks`.
    pub async fn start(fail_first: usize) -> Receiver {
        let shared = Arc::new(Shared {
            failures_left: AtomicUsize::new(fail_first),
            requests: Mutex::new(Vec::new()),
            arrived: Notify::new(),
        });
        let app = Router::new().fallback(receive).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stopped.cancelled_owned())
                .await
                .unwrap();
        });
        Receiver { addr, shared, stop }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every request so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.shared.requests.lock().clone()
    }

    /// Waits (at most 20 s) until `n` requests have arrived; answers them.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let arrived = self.shared.arrived.notified();
            let requests = self.received();
            if requests.len() >= n {
                return requests;
            }
            assert!(
                tokio::time::timeout_at(deadline, arrived).await.is_ok(),
                "{n} webhook requests expected, {} arrived: {requests:#?}",
                requests.len()
            );
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn receive(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let failing = shared
        .failures_left
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
            left.checked_sub(1)
        })
        .is_ok();
    let redirect = uri.path() == "/redirect";
    let answered = if redirect {
        StatusCode::FOUND
    } else if failing {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::NO_CONTENT
    };
    shared.requests.lock().push(Received {
        at: Instant::now(),
        path: uri.path().to_owned(),
        event_id: header(signature::EVENT_ID_HEADER),
        event_type: header(signature::EVENT_TYPE_HEADER),
        signature: header(signature::SIGNATURE_HEADER),
        content_type: header("content-type"),
        body,
        answered: answered.as_u16(),
    });
    shared.arrived.notify_waiters();
    if redirect {
        return (answered, [(header::LOCATION, "/hooks")]).into_response();
    }
    answered.into_response()
}
