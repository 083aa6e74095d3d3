//! The edge's way to an origin: [`RelayTransport`] over the origin's
//! internal HTTP endpoint (`POST`/`DELETE /internal/media/{room}/relay…`),
//! with a fresh node token on every request.

use std::time::Duration;

use reqwest::StatusCode;

use crate::media::{NodeAddr, RelayAnswer, RelayError, RelayTransport};

use super::token::NodeTokens;
use super::RelayOffer;

/// The most an origin may take to answer (it waits up to 2 s for its ICE
/// candidates before answering).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Asks origins for relays over HTTP.
pub struct HttpRelayTransport {
    /// One client (and its connection pool) for every origin.
    http: reqwest::Client,
    tokens: NodeTokens,
    /// This node's id, the subject of its tokens.
    node_id: String,
}

impl HttpRelayTransport {
    pub fn new(secret: &str, node_id: &str) -> Result<HttpRelayTransport, RelayError> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| RelayError::Unreachable(e.to_string()))?;
        Ok(HttpRelayTransport {
            http,
            tokens: NodeTokens::new(secret),
            node_id: node_id.to_owned(),
        })
    }

    /// `{origin}/internal/media/{room}/relay[/{relay_id}]`, the room id
    /// escaped as one path segment.
    fn url(
        &self,
        origin: &NodeAddr,
        room_id: &str,
        relay_id: Option<u64>,
    ) -> Result<reqwest::Url, RelayError> {
        let mut url = reqwest::Url::parse(&origin.url)
            .map_err(|e| RelayError::Unreachable(format!("bad node URL {}: {e}", origin.url)))?;
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|()| RelayError::Unreachable(format!("bad node URL {}", origin.url)))?;
            path.pop_if_empty()
                .extend(["internal", "media", room_id, "relay"]);
            if let Some(id) = relay_id {
                path.push(&id.to_string());
            }
        }
        Ok(url)
    }

    fn token(&self, room_id: &str) -> Result<String, RelayError> {
        self.tokens
            .sign(&self.node_id, room_id)
            .map_err(|e| RelayError::Refused(e.to_string()))
    }
}

#[async_trait::async_trait]
impl RelayTransport for HttpRelayTransport {
    async fn open(
        &self,
        origin: &NodeAddr,
        room_id: &str,
        offer_sdp: String,
    ) -> Result<RelayAnswer, RelayError> {
        let response = self
            .http
            .post(self.url(origin, room_id, None)?)
            .bearer_auth(self.token(room_id)?)
            .json(&RelayOffer { sdp: offer_sdp })
            .send()
            .await
            .map_err(|e| RelayError::Unreachable(e.to_string()))?;
        match response.status() {
            StatusCode::OK => response
                .json::<RelayAnswer>()
                .await
                .map_err(|e| RelayError::Refused(format!("unreadable answer: {e}"))),
            StatusCode::CONFLICT => Err(RelayError::NotOrigin),
            status => {
                let body = response.text().await.unwrap_or_default();
                Err(RelayError::Refused(format!("{status}: {body}")))
            }
        }
    }

    async fn close(
        &self,
        origin: &NodeAddr,
        room_id: &str,
        relay_id: u64,
    ) -> Result<(), RelayError> {
        let response = self
            .http
            .delete(self.url(origin, room_id, Some(relay_id))?)
            .bearer_auth(self.token(room_id)?)
            .send()
            .await
            .map_err(|e| RelayError::Unreachable(e.to_string()))?;
        match response.status() {
            status if status.is_success() || status == StatusCode::NOT_FOUND => Ok(()),
            status => Err(RelayError::Refused(status.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_ids_are_escaped_into_one_path_segment() {
        let transport = HttpRelayTransport::new("a-secret-of-sixteen-bytes", "n-1").unwrap();
        let origin = NodeAddr {
            id: "n-2".into(),
            url: "http://10.0.0.2:8080/".into(),
        };
        let url = transport.url(&origin, "a/b?c", Some(7)).unwrap();
        assert_eq!(
            url.as_str(),
            "http://10.0.0.2:8080/internal/media/a%2Fb%3Fc/relay/7"
        );
    }
}
