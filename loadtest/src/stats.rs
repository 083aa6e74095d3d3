//! Measurements: latency histograms and throughput over time.
//!
//! Latencies are recorded in microseconds into HdrHistograms. Open-loop
//! scenarios measure from the *intended* send time of each request, so a
//! server that stalls is charged for every request that should have gone
//! out during the stall (no coordinated omission). Many client tasks record
//! at once, so [`LatencyRecorder`] spreads them over a few mutex-guarded
//! shards and merges the shards when the run is over.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Highest latency a histogram holds (longer ones are clamped): 10 minutes.
const MAX_MICROS: u64 = 600_000_000;
/// Shards per recorder: enough that 10,000 viewer tasks on a few worker
/// threads rarely wait on one another.
const SHARDS: usize = 16;

fn empty_histogram() -> Histogram<u64> {
    // Bounds are constants that hdrhistogram accepts.
    Histogram::new_with_bounds(1, MAX_MICROS, 3).unwrap_or_else(|e| panic!("histogram bounds: {e}"))
}

/// A latency histogram many tasks record into at once.
pub struct LatencyRecorder {
    /// Independent histograms; a task picks one by its own index so that
    /// concurrent tasks mostly touch different locks.
    shards: Vec<Mutex<Histogram<u64>>>,
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        LatencyRecorder::with_shards(SHARDS)
    }
}

impl LatencyRecorder {
    /// A recorder with `n` shards (each a few hundred KiB): fewer for
    /// rarely contended recorders such as per-outcome ones.
    pub fn with_shards(n: usize) -> LatencyRecorder {
        LatencyRecorder {
            shards: (0..n.max(1))
                .map(|_| Mutex::new(empty_histogram()))
                .collect(),
        }
    }

    /// Record one latency; `who` spreads callers over the shards.
    pub fn record(&self, who: usize, latency: Duration) {
        let micros = (latency.as_micros() as u64).clamp(1, MAX_MICROS);
        let shard = &self.shards[who % self.shards.len()];
        if let Ok(mut histogram) = shard.lock() {
            histogram.saturating_record(micros);
        }
    }

    /// All shards merged into one histogram.
    pub fn merged(&self) -> Histogram<u64> {
        let mut all = empty_histogram();
        for shard in &self.shards {
            if let Ok(histogram) = shard.lock() {
                // Same bounds everywhere, so adding cannot fail.
                let _ = all.add(&*histogram);
            }
        }
        all
    }

    pub fn summary(&self) -> LatencySummary {
        LatencySummary::of(&self.merged())
    }
}

/// Percentiles of one latency distribution, in milliseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LatencySummary {
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl LatencySummary {
    pub fn of(histogram: &Histogram<u64>) -> LatencySummary {
        if histogram.is_empty() {
            return LatencySummary::default();
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        LatencySummary {
            count: histogram.len(),
            p50: ms(histogram.value_at_quantile(0.50)),
            p90: ms(histogram.value_at_quantile(0.90)),
            p99: ms(histogram.value_at_quantile(0.99)),
            p999: ms(histogram.value_at_quantile(0.999)),
            max: ms(histogram.max()),
        }
    }
}

/// The latency CDF as (latency ms, fraction ≤ it) points, for the chart.
pub fn cdf_points(histogram: &Histogram<u64>) -> Vec<(f64, f64)> {
    if histogram.is_empty() {
        return Vec::new();
    }
    let quantiles = [
        0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.925, 0.95, 0.97, 0.98,
        0.99, 0.995, 0.999, 0.9999, 1.0,
    ];
    quantiles
        .iter()
        .map(|&q| (histogram.value_at_quantile(q) as f64 / 1000.0, q))
        .collect()
}

/// Events counted per fixed time bucket since the start of the run.
pub struct Timeline {
    /// Width of one bucket.
    bucket: Duration,
    /// One counter per bucket; events after the last bucket land in it.
    counts: Vec<AtomicU64>,
}

impl Timeline {
    /// Buckets of `bucket` covering at least `span`.
    pub fn new(bucket: Duration, span: Duration) -> Timeline {
        let n = (span.as_micros() / bucket.as_micros().max(1)) as usize + 1;
        Timeline {
            bucket,
            counts: (0..n).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Count `n` events that happened `at` after the start.
    pub fn add(&self, at: Duration, n: u64) {
        let index =
            ((at.as_micros() / self.bucket.as_micros().max(1)) as usize).min(self.counts.len() - 1);
        self.counts[index].fetch_add(n, Ordering::Relaxed);
    }

    /// (seconds since start, events per second) for each bucket up to the
    /// last non-empty one.
    pub fn rates(&self) -> Vec<(f64, f64)> {
        let counts: Vec<u64> = self
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        let last = counts.iter().rposition(|&c| c > 0).map_or(0, |i| i + 1);
        let width = self.bucket.as_secs_f64();
        counts[..last]
            .iter()
            .enumerate()
            .map(|(i, &c)| (i as f64 * width, c as f64 / width))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_reports_milliseconds_of_recorded_micros() {
        let recorder = LatencyRecorder::default();
        for i in 1..=1000u64 {
            recorder.record(i as usize, Duration::from_micros(i * 1000));
        }
        let summary = recorder.summary();
        assert_eq!(summary.count, 1000);
        assert!((summary.p50 - 500.0).abs() < 1.0, "{summary:?}");
        assert!((summary.max - 1000.0).abs() < 1.0, "{summary:?}");
    }

    #[test]
    fn an_empty_recorder_summarises_to_zeros() {
        assert_eq!(
            LatencyRecorder::default().summary(),
            LatencySummary::default()
        );
    }

    #[test]
    fn timeline_rates_are_per_second_and_stop_at_the_last_event() {
        let timeline = Timeline::new(Duration::from_millis(500), Duration::from_secs(10));
        timeline.add(Duration::from_millis(100), 5);
        timeline.add(Duration::from_millis(700), 10);
        assert_eq!(timeline.rates(), vec![(0.0, 10.0), (0.5, 20.0)]);
    }
}
