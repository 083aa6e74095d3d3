//! What the `video` scenario reports beyond the common fields: the stream,
//! the 0-viewer baseline, and one row per viewer count with its ratios to
//! the aims — JSON (`video` in the report) and a Markdown table.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::stats::LatencySummary;

/// Issue 15's aims per 1.4 Mbit/s viewer.
pub const AIM_MILLICORES_PER_VIEWER: f64 = 3.0;
pub const AIM_RSS_KIB_PER_VIEWER: f64 = 200.0;
/// A window losing more than this fraction of the video packets fails the run.
pub const MAX_LOSS_RATIO: f64 = 0.01;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct VideoFigures {
    /// `harness` (the synthetic publisher) or `none` (someone else publishes).
    pub publisher: String,
    /// The clip's real video bitrate, kbit/s (harness publisher only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_kbps: Option<f64>,
    /// The server with the publisher alone, before any viewer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Baseline>,
    pub steps: Vec<Step>,
    pub aim_millicores_per_viewer: f64,
    pub aim_rss_kib_per_viewer: f64,
    /// Why the run failed (no keyframe, high loss, joins that failed).
    pub violations: Vec<String>,
}

/// The server with 0 viewers (spawned servers only).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Baseline {
    pub window_s: f64,
    /// CPU over the window ÷ its wall time, in thousandths of a core.
    pub server_millicores: f64,
    pub server_rss_bytes: u64,
}

/// One viewer count's steady window.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Step {
    /// Viewers asked for.
    pub viewers: usize,
    /// Viewers subscribed (the others failed to join).
    pub connected: usize,
    /// Viewers that had a keyframe when the window opened.
    pub with_keyframe: usize,
    pub window_s: f64,
    /// Server CPU over the window (`--url`: `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_millicores: Option<f64>,
    /// (window − baseline) ÷ viewers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_millicores_per_viewer: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_rss_bytes: Option<u64>,
    /// (RSS − baseline RSS) ÷ viewers, KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_rss_kib_per_viewer: Option<f64>,
    /// This harness (publisher and viewers) over the window.
    pub harness_millicores: f64,
    /// Video packets received by all viewers in the window.
    pub video_packets_received: u64,
    /// Video packets missing (sequence gaps) in the window, all viewers.
    pub video_packets_lost: u64,
    pub lost_per_viewer: f64,
    /// lost ÷ (received + lost).
    pub loss_ratio: f64,
    /// Arrival − the publisher's send, video packets of the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_delay_ms: Option<LatencySummary>,
    /// From `subscribe` to the first RTP packet, viewers added in this step.
    pub first_packet_ms: LatencySummary,
    /// From `subscribe` to the first keyframe's first packet.
    pub first_keyframe_ms: LatencySummary,
}

impl VideoFigures {
    /// The table for people, with the aims.
    pub fn markdown(&self, out: &mut String) {
        let _ = writeln!(out, "## Video: the SFU's cost per viewer\n");
        let stream = self
            .video_kbps
            .map_or(String::new(), |k| format!(", VP8 at {k:.0} kbit/s + Opus"));
        let _ = writeln!(out, "Publisher: {}{stream}.", self.publisher);
        if let Some(b) = &self.baseline {
            let _ = writeln!(
                out,
                "0 viewers (publisher only): server {:.1} millicores, RSS {:.1} MiB over {:.1} s.",
                b.server_millicores,
                mib(b.server_rss_bytes),
                b.window_s
            );
        }
        let _ = writeln!(
            out,
            "\nAims: ≤ {} millicores and ≤ {} KiB per viewer (ratio ≤ 1 meets them).\n",
            self.aim_millicores_per_viewer, self.aim_rss_kib_per_viewer
        );
        let _ = writeln!(out, "| viewers | keyframe | server mcores | mcores/viewer | ÷ aim | RSS MiB | KiB/viewer | ÷ aim | lost/viewer | loss | delay p50 / p99 ms | first packet p50 / max ms | first keyframe p50 / max ms | harness mcores |");
        let _ = writeln!(
            out,
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        );
        let opt =
            |v: Option<f64>, digits: usize| v.map_or("–".to_owned(), |v| format!("{v:.digits$}"));
        for s in &self.steps {
            let delay = s
                .forward_delay_ms
                .as_ref()
                .map_or("–".to_owned(), |d| format!("{:.1} / {:.1}", d.p50, d.p99));
            let _ = writeln!(
                out,
                "| {} | {}/{} | {} | {} | {} | {} | {} | {} | {:.1} | {:.3} % | {delay} | {:.0} / {:.0} | {:.0} / {:.0} | {:.0} |",
                s.viewers,
                s.with_keyframe,
                s.connected,
                opt(s.server_millicores, 0),
                opt(s.server_millicores_per_viewer, 2),
                opt(s.server_millicores_per_viewer.map(|m| m / self.aim_millicores_per_viewer), 2),
                opt(s.server_rss_bytes.map(mib), 1),
                opt(s.server_rss_kib_per_viewer, 0),
                opt(s.server_rss_kib_per_viewer.map(|k| k / self.aim_rss_kib_per_viewer), 2),
                s.lost_per_viewer,
                100.0 * s.loss_ratio,
                s.first_packet_ms.p50,
                s.first_packet_ms.max,
                s.first_keyframe_ms.p50,
                s.first_keyframe_ms.max,
                s.harness_millicores,
            );
        }
        let _ = writeln!(out);
        for v in &self.violations {
            let _ = writeln!(out, "- **{v}**");
        }
        if !self.violations.is_empty() {
            let _ = writeln!(out);
        }
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}
