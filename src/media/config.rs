//! Media (WebRTC) configuration: the `[media]` section of the config file.
//!
//! Two audiences read it: browsers get [`MediaConfig::ice_servers`] in the room
//! snapshot, and the SFU's own peer connections use the rest (which addresses
//! and ports to bind, which public address to advertise).

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::MediaError;

/// The `[media]` section.
#[derive(Debug, Clone, Deserialize)]
pub struct MediaConfig {
    /// STUN/TURN servers for browsers. The server does not use them itself: it
    /// gathers host candidates only (plus `public_ip`), which is what an SFU on
    /// a reachable address needs.
    pub ice_servers: Vec<IceServer>,
    /// Public address advertised in place of the bound one (1:1 NAT), or empty.
    #[serde(default)]
    pub public_ip: String,
    /// Local address the media sockets bind; `0.0.0.0` = every interface.
    pub bind_ip: IpAddr,
    /// Inclusive UDP port range for media sockets; `0`/`0` = ephemeral.
    /// A range, not one port: webrtc 0.21.1 has no single-port UDP mux.
    #[serde(default)]
    pub udp_port_min: u16,
    /// Upper end of the range (inclusive).
    #[serde(default)]
    pub udp_port_max: u16,
    /// Offer loopback candidates (same-machine development and tests).
    pub allow_loopback: bool,
    /// Per-viewer queue depth (RTP packets) for the video track; a viewer that
    /// falls this far behind skips ahead and gets a fresh keyframe.
    pub video_queue_packets: usize,
    /// Per-viewer queue depth (RTP packets) for the audio track.
    pub audio_queue_packets: usize,
    /// Least time between two keyframe requests sent to the publisher.
    pub keyframe_min_interval_ms: u64,
    /// ICE liveness: silence before a connection counts as disconnected, and
    /// further silence before it fails (the SFU then drops it). Defaults are
    /// webrtc's (5 s, 25 s); shorter frees a vanished browser's connection sooner.
    #[serde(default = "default_ice_disconnected_ms")]
    pub ice_disconnected_timeout_ms: u64,
    #[serde(default = "default_ice_failed_ms")]
    pub ice_failed_timeout_ms: u64,
    /// How often an idle connection sends ICE keepalives.
    #[serde(default = "default_ice_keepalive_ms")]
    pub ice_keepalive_interval_ms: u64,
    /// Relays between nodes: how often an edge re-reads a room's origin from
    /// the directory while it has viewers of the room.
    #[serde(default = "default_relay_poll_ms")]
    pub relay_poll_ms: u64,
    /// How long an edge keeps a relay open after its last viewer left.
    #[serde(default = "default_relay_idle_grace_ms")]
    pub relay_idle_grace_ms: u64,
    /// How long a viewer's `subscribe` on an edge waits for the relay from
    /// the origin before answering `media_not_live`.
    #[serde(default = "default_relay_wait_ms")]
    pub relay_wait_ms: u64,
    /// ICE liveness of relay connections (server to server): shorter than
    /// browsers', so an edge notices a dead origin within a few seconds.
    #[serde(default = "default_relay_ice_disconnected_ms")]
    pub relay_ice_disconnected_timeout_ms: u64,
    #[serde(default = "default_relay_ice_failed_ms")]
    pub relay_ice_failed_timeout_ms: u64,
    #[serde(default = "default_relay_ice_keepalive_ms")]
    pub relay_ice_keepalive_interval_ms: u64,
    /// Sent video packets each outgoing stream keeps for retransmission on a
    /// viewer's NACK (webrtc-rs's NACK responder ring; a power of two). It is
    /// the largest per-viewer buffer the SFU chooses: each slot costs ≈ 160 B
    /// once filled. 256 is ≈ 1.7 s of a 1.4 Mbps stream (≈ 154 packets/s):
    /// more than a viewer's jitter buffer waits for a resend (≈ 1 s), so a
    /// NACK that arrives within it finds its packet (docs/media.md).
    #[serde(default = "default_nack_buffer_packets")]
    pub nack_buffer_packets: u16,
}

/// See [`MediaConfig::nack_buffer_packets`]; webrtc-rs's own default is 1,024.
pub const DEFAULT_NACK_BUFFER_PACKETS: u16 = 256;

fn default_nack_buffer_packets() -> u16 {
    DEFAULT_NACK_BUFFER_PACKETS
}

fn default_ice_disconnected_ms() -> u64 {
    5_000
}

fn default_ice_failed_ms() -> u64 {
    25_000
}

fn default_ice_keepalive_ms() -> u64 {
    2_000
}

fn default_relay_poll_ms() -> u64 {
    500
}

fn default_relay_idle_grace_ms() -> u64 {
    5_000
}

fn default_relay_wait_ms() -> u64 {
    5_000
}

fn default_relay_ice_disconnected_ms() -> u64 {
    1_000
}

fn default_relay_ice_failed_ms() -> u64 {
    2_000
}

fn default_relay_ice_keepalive_ms() -> u64 {
    300
}

/// One STUN or TURN server, in the shape `RTCPeerConnection` takes it, so it
/// can be passed to browsers verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// `stun:` / `turn:` / `turns:` URLs of one server.
    pub urls: Vec<String>,
    /// TURN credentials; omitted from JSON when absent, as browsers expect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

impl MediaConfig {
    /// Settings for tests and same-machine development: loopback only,
    /// ephemeral ports, no ICE servers.
    pub fn loopback() -> MediaConfig {
        MediaConfig {
            ice_servers: Vec::new(),
            public_ip: String::new(),
            bind_ip: IpAddr::from([127, 0, 0, 1]),
            udp_port_min: 0,
            udp_port_max: 0,
            allow_loopback: true,
            video_queue_packets: 512,
            audio_queue_packets: 128,
            keyframe_min_interval_ms: 500,
            ice_disconnected_timeout_ms: default_ice_disconnected_ms(),
            ice_failed_timeout_ms: default_ice_failed_ms(),
            ice_keepalive_interval_ms: default_ice_keepalive_ms(),
            relay_poll_ms: default_relay_poll_ms(),
            relay_idle_grace_ms: default_relay_idle_grace_ms(),
            relay_wait_ms: default_relay_wait_ms(),
            relay_ice_disconnected_timeout_ms: default_relay_ice_disconnected_ms(),
            relay_ice_failed_timeout_ms: default_relay_ice_failed_ms(),
            relay_ice_keepalive_interval_ms: default_relay_ice_keepalive_ms(),
            nack_buffer_packets: default_nack_buffer_packets(),
        }
    }

    /// Rejects settings that cannot work, with a message naming the key.
    pub fn validate(&self) -> Result<(), MediaError> {
        let bad = |m: &str| Err(MediaError::Config(m.to_owned()));
        if !self.public_ip.is_empty() && self.public_ip.parse::<IpAddr>().is_err() {
            return bad("media.public_ip must be an IP address or empty");
        }
        if self.udp_port_min > self.udp_port_max {
            return bad("media.udp_port_min must not exceed media.udp_port_max");
        }
        if (self.udp_port_min == 0) != (self.udp_port_max == 0) {
            return bad("media.udp_port_min and udp_port_max are both 0 (ephemeral) or both set");
        }
        if self.video_queue_packets == 0 || self.audio_queue_packets == 0 {
            return bad("media queue sizes must be positive");
        }
        // webrtc-rs silently turns retransmission off for any other size.
        if !self.nack_buffer_packets.is_power_of_two() {
            return bad("media.nack_buffer_packets must be a power of two (1 to 32768)");
        }
        if self.ice_servers.iter().any(|s| s.urls.is_empty()) {
            return bad("every media.ice_servers entry needs at least one url");
        }
        if self.relay_ice_keepalive_interval_ms >= self.relay_ice_disconnected_timeout_ms {
            return bad(
                "media.relay_ice_keepalive_interval_ms must be shorter than \
                 media.relay_ice_disconnected_timeout_ms",
            );
        }
        Ok(())
    }

    pub fn keyframe_min_interval(&self) -> Duration {
        Duration::from_millis(self.keyframe_min_interval_ms.max(10))
    }

    /// (disconnected, failed, keepalive) as durations.
    pub fn ice_timeouts(&self) -> (Duration, Duration, Duration) {
        let ms = |v: u64| Duration::from_millis(v.max(1));
        (
            ms(self.ice_disconnected_timeout_ms),
            ms(self.ice_failed_timeout_ms),
            ms(self.ice_keepalive_interval_ms),
        )
    }

    /// Relay connections' (disconnected, failed, keepalive) as durations.
    pub fn relay_ice_timeouts(&self) -> (Duration, Duration, Duration) {
        let ms = |v: u64| Duration::from_millis(v.max(1));
        (
            ms(self.relay_ice_disconnected_timeout_ms),
            ms(self.relay_ice_failed_timeout_ms),
            ms(self.relay_ice_keepalive_interval_ms),
        )
    }

    pub fn relay_poll(&self) -> Duration {
        Duration::from_millis(self.relay_poll_ms.max(10))
    }

    pub fn relay_idle_grace(&self) -> Duration {
        Duration::from_millis(self.relay_idle_grace_ms)
    }

    pub fn relay_wait(&self) -> Duration {
        Duration::from_millis(self.relay_wait_ms)
    }

    /// The configured port range, or `None` for ephemeral ports.
    pub fn port_range(&self) -> Option<(u16, u16)> {
        (self.udp_port_min != 0).then_some((self.udp_port_min, self.udp_port_max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml: &str) -> MediaConfig {
        use figment::providers::Format;
        figment::Figment::from(figment::providers::Toml::string(toml))
            .extract()
            .unwrap()
    }

    const BASE: &str = r#"
        ice_servers = [{ urls = ["stun:stun.example.org:3478"] },
                       { urls = ["turn:turn.example.org"], username = "u", credential = "p" }]
        bind_ip = "0.0.0.0"
        allow_loopback = false
        video_queue_packets = 512
        audio_queue_packets = 128
        keyframe_min_interval_ms = 500
    "#;

    #[test]
    fn ice_servers_serialise_in_the_browser_shape() {
        let config = parse(BASE);
        config.validate().unwrap();
        let json = serde_json::to_value(&config.ice_servers).unwrap();
        assert_eq!(
            json,
            serde_json::json!([{"urls": ["stun:stun.example.org:3478"]},
                               {"urls": ["turn:turn.example.org"], "username": "u", "credential": "p"}])
        );
        assert_eq!(config.port_range(), None);
    }

    #[test]
    fn a_half_set_port_range_is_rejected() {
        let config = parse(&format!("{BASE}\nudp_port_min = 40000\n"));
        assert!(matches!(config.validate(), Err(MediaError::Config(_))));
        let config = parse(&format!(
            "{BASE}\nudp_port_min = 40000\nudp_port_max = 40100\n"
        ));
        config.validate().unwrap();
        assert_eq!(config.port_range(), Some((40000, 40100)));
    }

    #[test]
    fn the_nack_buffer_defaults_to_256_packets_and_must_be_a_power_of_two() {
        let config = parse(BASE);
        assert_eq!(config.nack_buffer_packets, 256);
        config.validate().unwrap();
        let config = parse(&format!("{BASE}\nnack_buffer_packets = 300\n"));
        assert!(matches!(config.validate(), Err(MediaError::Config(_))));
        let config = parse(&format!("{BASE}\nnack_buffer_packets = 0\n"));
        assert!(matches!(config.validate(), Err(MediaError::Config(_))));
        parse(&format!("{BASE}\nnack_buffer_packets = 512\n"))
            .validate()
            .unwrap();
    }

    #[test]
    fn a_public_ip_must_be_an_address() {
        let config = parse(&format!("{BASE}\npublic_ip = \"example.org\"\n"));
        assert!(config.validate().is_err());
    }
}
