//! The metrics of a journal written by hand, with times chosen so every
//! figure (durations and medians included) is known exactly.

use super::*;
use crate::auth::Role;
use crate::journal::test_support::{at, chat, event, join, leave, product, S, T0};
use crate::journal::{OrderedLine, Record};
use crate::protocol::{RoomEvent, RoomStatus};

/// A 10-minute live: viewers a (0–600 s), b (60–70 s), c (120–600 s);
/// p1 pinned 100–400 s; two questions answered after 20 s and 40 s, one
/// not; b taps p2, a orders 2 × p1 at 300 000 with a voucher (total 500 000).
fn journal() -> Vec<JournalEntry> {
    vec![
        at(
            0,
            Record::SessionOpened {
                room_id: "r1".into(),
                title: "Phiên".into(),
                seller_name: "Hoa".into(),
                products: vec![product("p1", 300_000), product("p2", 100_000)],
                practice: false,
            },
        ),
        event(
            0,
            RoomEvent::RoomStatus {
                status: RoomStatus::Live,
            },
        ),
        join(0, "n:c1", "a"),
        join(60, "n:c2", "b"),
        leave(70, "n:c2", "b", 10),
        event(
            100,
            RoomEvent::ProductPinned {
                product: product("p1", 300_000),
            },
        ),
        join(120, "n:c3", "c"),
        chat(130, 1, "a", Role::Viewer, "giá bao nhiêu?", None),
        chat(150, 2, "hoa", Role::Seller, "300k", Some(1)),
        chat(160, 3, "c", Role::Viewer, "ship không", None),
        chat(200, 4, "hoa", Role::Seller, "có ạ", Some(3)),
        chat(210, 5, "c", Role::Viewer, "đẹp quá", None),
        chat(220, 6, "a", Role::Viewer, "có màu khác không?", None),
        at(
            65,
            Record::ProductViewed {
                user_id: "b".into(),
                product_id: "p2".into(),
            },
        ),
        event(
            250,
            RoomEvent::Hearts {
                count: 30,
                total: 30,
            },
        ),
        at(
            300,
            Record::OrderPlaced {
                order_id: "o1".into(),
                buyer_id: "a".into(),
                sale_id: "bag".into(),
                lines: vec![OrderedLine {
                    product_id: "p1".into(),
                    quantity: 2,
                    unit_price_vnd: 300_000,
                }],
                discount_vnd: 100_000,
                total_vnd: 500_000,
                voucher_code: Some("TRA10".into()),
            },
        ),
        event(400, RoomEvent::ProductUnpinned),
        event(
            600,
            RoomEvent::RoomStatus {
                status: RoomStatus::Ended,
            },
        ),
    ]
}

#[test]
fn every_metric_of_a_known_session_is_exact() {
    let report = SessionReport::of(&journal(), T0 + 9_999 * S, 60, Vec::new());
    let m = &report.metrics;
    assert_eq!((m.views, m.unique_viewers, m.peak_viewers), (3, 3, 2));
    // (600 + 10 + 480) s over 3 views.
    assert_eq!(m.avg_view_secs, Some(1090.0 / 3.0));
    assert_eq!(m.views_10s, 3);
    assert_eq!(m.comments, 4);
    assert_eq!(m.comment_rate, Some(0.4));
    assert_eq!(m.hearts_per_min, Some(3.0));
    // a and c saw the pin; b tapped p2 (seen, clicked); a ordered p1.
    assert_eq!((m.impressions, m.clicks), (3, 2));
    assert_eq!(m.ctr, Some(2.0 / 3.0));
    assert_eq!(m.ctor, Some(0.5));
    assert_eq!(
        (m.product_visitors, m.buyers, m.orders, m.units),
        (2, 1, 1, 2)
    );
    assert_eq!(m.gmv_vnd, 500_000);
    assert_eq!(m.gpm_vnd, Some(500_000.0 * 1000.0 / 3.0));
    assert_eq!(m.conversion, Some(0.5));
    assert_eq!(m.guided_rate, Some(2.0 / 3.0));
    assert_eq!((m.orders_with_voucher, m.voucher_use), (1, Some(1.0)));
    assert_eq!((m.questions, m.questions_answered), (3, 2));
    assert_eq!(m.median_answer_secs, Some(30.0));
    assert_eq!(report.window.live_secs, 600.0);
}

#[test]
fn the_curves_count_each_moment_in_its_minute() {
    let report = SessionReport::of(&journal(), T0 + 9_999 * S, 60, Vec::new());
    let points = &report.series.points;
    assert_eq!(points.len(), 11);
    assert_eq!(points[1].peak_viewers, 2, "b came at 60 s");
    assert_eq!(points[1].viewers, 1, "and left at 70 s");
    assert_eq!(points[2].viewers, 2, "c came at 120 s");
    assert_eq!(points[5].orders, 1);
    assert_eq!(points[5].gmv_vnd, 500_000);
    let comments: Vec<u64> = points.iter().map(|p| p.comments).collect();
    assert_eq!(comments[2..4], [2, 2]);
    assert_eq!(points[10].viewers, 0, "everyone left when it ended");
}

#[test]
fn the_weakest_metrics_are_judged_against_previous_sessions() {
    let mut better = Metrics::of(&Session::read(&journal(), T0));
    better.ctr = Some(1.0);
    better.comment_rate = Some(0.8);
    let previous = vec![PreviousSession {
        room_id: "r0".into(),
        title: "Trước".into(),
        started_at: T0 - 86_400_000,
        metrics: better,
    }];
    let report = SessionReport::of(&journal(), T0 + 9_999 * S, 60, previous);
    let weakest: Vec<&str> = report.weakest.iter().map(|w| w.metric).collect();
    assert_eq!(weakest, ["comment_rate", "ctr"]);
    assert_eq!(report.weakest[0].baseline_kind, "previous");
    assert_eq!(report.baseline["ctr"], serde_json::json!(1.0));
}

#[test]
fn a_session_still_live_counts_its_open_visits_until_now() {
    let mut entries = journal();
    entries.truncate(5); // opened, live, a joined, b joined and left
    let report = SessionReport::of(&entries, T0 + 100 * S, 60, Vec::new());
    assert_eq!(report.metrics.avg_view_secs, Some(55.0));
    assert_eq!(report.window.ended_at, None);
    assert_eq!(report.series.points.last().map(|p| p.viewers), Some(1));
}
