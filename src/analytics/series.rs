//! A session's figures per time bucket (a minute for the report, a few
//! seconds for the studio's live charts): the curves.

use std::collections::HashSet;

use serde::Serialize;

use crate::auth::Role;
use crate::clock::UnixMillis;
use crate::money::Vnd;

use super::metrics::pairs;
use super::session::Session;

/// Buckets a series may have at most; longer sessions get wider buckets.
pub const MAX_POINTS: u64 = 2_000;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Point {
    /// The bucket's start (unix ms).
    pub at: UnixMillis,
    /// Viewers connected at the bucket's end (or now, for the last).
    pub viewers: u64,
    /// The most viewers connected at once within the bucket.
    pub peak_viewers: u64,
    pub comments: u64,
    pub hearts: u64,
    /// First impressions and first clicks of (viewer, product) pairs.
    pub impressions: u64,
    pub clicks: u64,
    pub orders: u64,
    pub units: u64,
    pub gmv_vnd: Vnd,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    pub bucket_secs: u64,
    pub points: Vec<Point>,
}

impl Series {
    /// From the live start (or the opening) to the end (or now).
    pub fn of(session: &Session, bucket_secs: u64) -> Series {
        let origin = session.started_at.unwrap_or(session.opened_at);
        let span = session.until.saturating_sub(origin);
        let mut bucket_ms = bucket_secs.max(1) * 1000;
        while span / bucket_ms >= MAX_POINTS {
            bucket_ms *= 2;
        }
        let count = (span / bucket_ms + 1) as usize;
        let index = |at: UnixMillis| (at.saturating_sub(origin) / bucket_ms) as usize;
        let mut points: Vec<Point> = (0..count)
            .map(|i| Point {
                at: origin + i as u64 * bucket_ms,
                ..Point::default()
            })
            .collect();
        // Moments before the live start count in the first bucket.
        let mut bump = |at: UnixMillis, f: &mut dyn FnMut(&mut Point)| {
            if let Some(point) = points.get_mut(index(at).min(count - 1)) {
                f(point);
            }
        };
        for m in session.chat.iter().filter(|m| m.role == Role::Viewer) {
            bump(m.sent_at, &mut |p| p.comments += 1);
        }
        for (at, n) in &session.hearts {
            bump(*at, &mut |p| p.hearts += n);
        }
        for order in &session.orders {
            let units: u64 = order.lines.iter().map(|(_, u, _)| u64::from(*u)).sum();
            bump(order.at, &mut |p| {
                p.orders += 1;
                p.units += units;
                p.gmv_vnd += order.total_vnd;
            });
        }
        let (impressions, clicks, _) = pairs(session);
        for (at, kind) in first_times(session, &impressions, &clicks) {
            bump(at, &mut |p| match kind {
                First::Impression => p.impressions += 1,
                First::Click => p.clicks += 1,
            });
        }
        fill_viewers(session, &mut points, bucket_ms);
        Series {
            bucket_secs: bucket_ms / 1000,
            points,
        }
    }
}

enum First {
    Impression,
    Click,
}

/// When each counted (viewer, product) pair was first seen and first
/// clicked.
fn first_times(
    session: &Session,
    impressions: &HashSet<(&str, &str)>,
    clicks: &HashSet<(&str, &str)>,
) -> Vec<(UnixMillis, First)> {
    let mut seen: HashSet<(&str, &str)> = HashSet::new();
    let mut clicked: HashSet<(&str, &str)> = HashSet::new();
    let mut moments: Vec<(UnixMillis, (&str, &str), bool)> = Vec::new();
    for pin in &session.pins {
        for visit in &session.visits {
            if visit.from < pin.to && pin.from < visit.to {
                let pair = (visit.user_id.as_str(), pin.product_id.as_str());
                moments.push((visit.from.max(pin.from), pair, false));
            }
        }
    }
    for tap in &session.taps {
        moments.push((
            tap.at,
            (tap.user_id.as_str(), tap.product_id.as_str()),
            true,
        ));
    }
    for order in &session.orders {
        for (product, _, _) in &order.lines {
            moments.push((order.at, (order.buyer_id.as_str(), product.as_str()), true));
        }
    }
    moments.sort_by_key(|(at, _, _)| *at);
    let mut firsts = Vec::new();
    for (at, pair, click) in moments {
        if impressions.contains(&pair) && seen.insert(pair) {
            firsts.push((at, First::Impression));
        }
        if click && clicks.contains(&pair) && clicked.insert(pair) {
            firsts.push((at, First::Click));
        }
    }
    firsts
}

/// Each point's viewers at its end and its peak, from the visits.
fn fill_viewers(session: &Session, points: &mut [Point], bucket_ms: u64) {
    let mut changes: Vec<(UnixMillis, i64)> = Vec::new();
    for v in &session.visits {
        changes.push((v.from, 1));
        // A visit still open at the end is still there at the last point.
        if v.to < session.until || session.ended_at.is_some() {
            changes.push((v.to, -1));
        }
    }
    changes.sort();
    let (mut current, mut next) = (0i64, 0usize);
    for point in points.iter_mut() {
        let end = point.at + bucket_ms;
        let mut peak = current;
        while next < changes.len() && changes[next].0 < end {
            current += changes[next].1;
            peak = peak.max(current);
            next += 1;
        }
        point.viewers = current.max(0) as u64;
        point.peak_viewers = peak.max(0) as u64;
    }
}
