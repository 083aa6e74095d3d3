//! Scorecards of journals written by hand, with times chosen so every
//! figure is known exactly.

use super::*;
use crate::auth::Role;
use crate::journal::test_support::{at, chat, event, product, S, T0};
use crate::journal::OrderedLine;
use crate::practice::review;
use crate::protocol::{RoomEvent, RoomStatus};
use crate::sale::{SaleInfo, SaleState};

fn join(secs: u64, user: &str) -> JournalEntry {
    at(
        secs,
        Record::Joined {
            visit: format!("v-{user}"),
            user_id: user.into(),
            name: user.into(),
            role: Role::Viewer,
        },
    )
}

fn leave(secs: u64, user: &str) -> JournalEntry {
    at(
        secs,
        Record::Left {
            visit: format!("v-{user}"),
            user_id: user.into(),
            role: Role::Viewer,
            duration_ms: secs * S,
        },
    )
}

fn order(
    secs: u64,
    id: &str,
    buyer: &str,
    sale: &str,
    product: &str,
    units: u32,
    price: u64,
) -> JournalEntry {
    at(
        secs,
        Record::OrderPlaced {
            order_id: id.into(),
            buyer_id: buyer.into(),
            sale_id: sale.into(),
            lines: vec![OrderedLine {
                product_id: product.into(),
                quantity: units,
                unit_price_vnd: price,
            }],
            discount_vnd: 0,
            total_vnd: u64::from(units) * price,
            voucher_code: None,
        },
    )
}

fn flag(secs: u64, severity: &str) -> JournalEntry {
    at(
        secs,
        Record::ComplianceFlagged {
            rule_id: "absolute_claim".into(),
            severity: severity.into(),
            source: "chat".into(),
            excerpt: "tốt nhất".into(),
        },
    )
}

fn opened() -> JournalEntry {
    at(
        0,
        Record::SessionOpened {
            room_id: "r1".into(),
            title: "Luyện tập".into(),
            seller_name: "Hoa".into(),
            products: vec![product("p1", 300_000), product("p2", 100_000)],
            practice: false,
        },
    )
}

fn live() -> JournalEntry {
    event(
        0,
        RoomEvent::RoomStatus {
            status: RoomStatus::Live,
        },
    )
}

fn ended() -> JournalEntry {
    event(
        600,
        RoomEvent::RoomStatus {
            status: RoomStatus::Ended,
        },
    )
}

/// A 10-minute attempt. Viewers a, b (0–600 s) and c (0–130 s); p1 pinned
/// from 10 s. Questions: b's at 10 s answered at 110 s, a's at 20 s
/// answered at 40 s, a's at 50 s never (median answer 60 s). A flash sale
/// of 9 × p1 at 100 000 from 60 s: a buys 3; b orders 1 × p2 (100 000)
/// from the bag. The scenario "Khách giận" fires at 120 s; the trainee
/// speaks at 195 s (75 s later); c left at 130 s (3 viewers → 2). One
/// compliance warning at 200 s. Marked 8 and 6 at 700 s.
fn journal() -> Vec<JournalEntry> {
    vec![
        opened(),
        live(),
        join(0, "a"),
        join(0, "b"),
        join(0, "c"),
        event(
            10,
            RoomEvent::ProductPinned {
                product: product("p1", 300_000),
            },
        ),
        chat(10, 1, "b", Role::Viewer, "ship Hà Nội không", None),
        chat(20, 2, "a", Role::Viewer, "giá bao nhiêu?", None),
        chat(40, 3, "hoa", Role::Seller, "300k chị ơi", Some(2)),
        chat(50, 4, "a", Role::Viewer, "còn màu đỏ không?", None),
        event(
            60,
            RoomEvent::SaleUpdated {
                sale: SaleInfo {
                    id: "s1".into(),
                    product_id: "p1".into(),
                    product_name: "Sản phẩm p1".into(),
                    price_vnd: 100_000,
                    stock_total: 9,
                    remaining: 9,
                    returned_to_stock: 0,
                    per_buyer_limit: 5,
                    state: SaleState::Live,
                    starts_at: T0 + 60 * S,
                    ends_at: T0 + 660 * S,
                    hold_secs: 60,
                },
                product_stock: None,
            },
        ),
        order(70, "o1", "a", "s1", "", 3, 100_000),
        order(80, "o2", "b", "bag", "p2", 1, 100_000),
        chat(110, 5, "hoa", Role::Seller, "có ship ạ", Some(1)),
        at(
            120,
            Record::ScenarioFired {
                scenario_id: "angry".into(),
                title: "Khách giận".into(),
                how: "live".into(),
            },
        ),
        leave(130, "c"),
        chat(150, 6, "a", Role::Viewer, "đẹp quá", None),
        chat(195, 7, "hoa", Role::Seller, "Dạ shop xin lỗi chị", None),
        flag(200, "warning"),
        ended(),
        at(700, review::mark("gv", 8, 6, "Tự tin").unwrap()),
    ]
}

fn points(card: &Scorecard) -> Vec<f64> {
    card.parts.iter().map(|p| p.points).collect()
}

fn score(entries: &[JournalEntry]) -> Scorecard {
    Scorecard::of(entries, &Weights::default(), T0 + 9_999 * S)
}

#[test]
fn every_part_of_a_known_attempt_is_exact() {
    let card = score(&journal());
    // Interaction: 25 − 12.5 ÷ 3 (one of three unanswered) − 12.5 × 0.2
    // (median 60 s). Selling: 25 − 25/3 × 0.5 (CTR) − 25/3 × 0.6 (GMV
    // 400 000 of 1 000 000). Scenarios: 15 − 15 × 0.7 × 0.5 (75 s) −
    // 15 × 0.3 × 1/3 (viewers 3 → 2). Compliance: 15 − 3.75. Marks 8, 6.
    assert_eq!(points(&card), [18.33, 15.83, 8.25, 11.25, 8.0, 6.0]);
    assert_eq!(
        (card.total, card.uncapped_total, card.cap),
        (67.66, 67.66, None)
    );
    let f = &card.figures;
    assert_eq!((f.questions, f.questions_answered), (3, 2));
    assert_eq!(f.median_answer_secs, Some(60.0));
    assert_eq!((f.ctr, f.conversion), (Some(0.5), Some(1.0)));
    assert_eq!(
        (f.gmv_vnd, f.offered_vnd, f.gmv_share),
        (400_000, 1_000_000, Some(0.4))
    );
    assert_eq!((f.warnings, f.serious), (1, 0));
    let scenario = &f.scenarios[0];
    assert_eq!(scenario.response_secs, Some(75.0));
    assert_eq!((scenario.viewers_before, scenario.viewers_after), (3, 2));
    assert_eq!((scenario.comments_before, scenario.comments_after), (0, 1));
    assert_eq!(scenario.score, 0.55); // 0.7 × 0.5 + 0.3 × 2/3, to 0.01
    assert!(card.parts.iter().all(|p| p.assessed));
}

#[test]
fn every_lost_point_names_its_reason_and_moment_in_the_replay() {
    let card = score(&journal());
    let lost = card.lost();
    let unanswered = lost
        .iter()
        .find(|l| l.reason_vi.starts_with("Câu hỏi chưa được trả lời"))
        .unwrap();
    assert_eq!(unanswered.points, 4.17);
    assert_eq!(unanswered.at, T0 + 50 * S);
    assert_eq!(
        unanswered.reason_vi,
        "Câu hỏi chưa được trả lời: «còn màu đỏ không?»"
    );
    assert_eq!(
        unanswered.reason_en,
        "Question left unanswered: «còn màu đỏ không?»"
    );
    assert_eq!(
        unanswered.replay_url,
        format!("/replay.html?room=r1&t={}", T0 + 50 * S)
    );
    let slow = lost
        .iter()
        .find(|l| l.reason_en.starts_with("Slow answers"))
        .unwrap();
    assert_eq!((slow.points, slow.at), (2.5, T0 + 10 * S));
    let scenario: Vec<(f64, UnixMillis)> = card
        .part(PartName::Scenarios)
        .unwrap()
        .lost
        .iter()
        .map(|l| (l.points, l.at))
        .collect();
    assert_eq!(scenario, [(5.25, T0 + 120 * S), (1.5, T0 + 180 * S)]);
    let marks = &card.part(PartName::Presentation).unwrap().lost[0];
    assert_eq!((marks.points, marks.at), (2.0, T0 + 700 * S));
    assert_eq!(marks.reason_vi, "Giảng viên chấm trình bày 8/10: «Tự tin»");
    // In the order of their moments; each part's lines add up to what it lost.
    assert!(lost.windows(2).all(|w| w[0].at <= w[1].at));
    for part in &card.parts {
        let spent: f64 = part.lost.iter().map(|l| l.points).sum();
        assert!(
            (f64::from(part.weight) - part.points - spent).abs() < 0.011,
            "{:?}",
            part.name
        );
    }
}

#[test]
fn a_serious_violation_caps_the_total_at_50() {
    let mut entries = journal();
    entries.push(flag(300, "serious"));
    let card = score(&entries);
    // The serious flag costs what was left of compliance (15 − 3.75).
    assert_eq!(card.part(PartName::Compliance).unwrap().points, 0.0);
    assert_eq!(card.uncapped_total, 56.41);
    assert_eq!(card.total, SERIOUS_CAP);
    let cap = card.cap.as_ref().unwrap();
    assert_eq!((cap.points, cap.at, cap.part), (6.41, T0 + 300 * S, None));
    assert_eq!(card.figures.serious, 1);
}

#[test]
fn a_total_already_under_the_cap_stays_as_it_is() {
    let mut entries: Vec<JournalEntry> = journal()
        .into_iter()
        .filter(|e| !matches!(e.record, Record::TrainerMarked { .. }))
        .collect();
    entries.push(flag(300, "serious"));
    // Once the part is spent a further flag costs nothing, but is listed.
    entries.push(flag(301, "warning"));
    let card = score(&entries);
    // 67.66 − 14 (no marks) − 11.25 (the serious flag).
    assert_eq!(card.uncapped_total, 42.41);
    assert_eq!((card.total, card.cap.clone()), (42.41, None));
    let flags: Vec<f64> = card
        .part(PartName::Compliance)
        .unwrap()
        .lost
        .iter()
        .map(|l| l.points)
        .collect();
    assert_eq!(flags, [3.75, 11.25, 0.0]);
}

#[test]
fn with_no_questions_interaction_has_nothing_to_judge() {
    let entries: Vec<JournalEntry> = journal()
        .into_iter()
        .filter(|e| !matches!(&e.record, Record::Event { event } if matches!(event.event, RoomEvent::Chat { .. })))
        .collect();
    let card = score(&entries);
    let interaction = card.part(PartName::Interaction).unwrap();
    assert_eq!((interaction.points, interaction.assessed), (25.0, false));
    assert_eq!(card.figures.questions, 0);
    // And the trainee never spoke after the scenario: no response share.
    assert_eq!(
        card.part(PartName::Scenarios).unwrap().points,
        15.0 - 10.5 - 1.5
    );
    assert_eq!(card.figures.scenarios[0].response_secs, None);
}

#[test]
fn with_no_sales_at_all_selling_earns_nothing_it_did_not_try() {
    let entries: Vec<JournalEntry> = journal()
        .into_iter()
        .filter(|e| match &e.record {
            Record::OrderPlaced { .. } => false,
            Record::Event { event } => !matches!(event.event, RoomEvent::SaleUpdated { .. }),
            _ => true,
        })
        .collect();
    let card = score(&entries);
    // CTR 0 (three saw the pin, none clicked), no conversion to count,
    // nothing offered: three thirds lost.
    let selling = card.part(PartName::Selling).unwrap();
    assert_eq!(selling.points, 0.0);
    assert_eq!(selling.lost.len(), 3);
    assert_eq!(
        (card.figures.ctr, card.figures.conversion),
        (Some(0.0), None)
    );
    assert_eq!(
        (card.figures.offered_vnd, card.figures.gmv_share),
        (0, None)
    );
    assert!(selling.lost[2].reason_vi.contains("Chưa mở bán"));
}

#[test]
fn an_empty_journal_scores_nothing() {
    let card = Scorecard::of(&[], &Weights::default(), T0);
    assert_eq!(card.total, 0.0);
    assert!(card.parts.iter().all(|p| !p.assessed && p.points == 0.0));
    assert_eq!(card.lost().len(), 6);
    assert_eq!(card.figures, Figures::default());
}

#[test]
fn an_attempt_not_yet_live_counts_only_the_marks() {
    let entries = vec![
        opened(),
        at(5, review::mark("gv", 10, 5, "").unwrap()),
        flag(6, "warning"),
    ];
    let card = score(&entries);
    assert_eq!(points(&card), [0.0, 0.0, 0.0, 0.0, 10.0, 5.0]);
    assert_eq!(card.total, 15.0);
    assert_eq!(
        card.part(PartName::Selling).unwrap().lost[0].reason_en,
        "Not live yet: nothing to judge"
    );
    // A flag on the script prepared before the live still shows.
    assert_eq!(card.figures.warnings, 1);
}

#[test]
fn the_weights_scale_each_part() {
    let weights = Weights {
        interaction: 50,
        selling: 0,
        scenarios: 0,
        compliance: 50,
        presentation: 0,
        product_knowledge: 0,
    };
    let card = Scorecard::of(&journal(), &weights, T0 + 9_999 * S);
    // Interaction 50 × (18.33…/25); compliance 50 − 12.5.
    assert_eq!(points(&card), [36.67, 0.0, 0.0, 37.5, 0.0, 0.0]);
    assert_eq!(card.total, 74.17);
    assert!(card.part(PartName::Selling).unwrap().lost.is_empty());
}

#[test]
fn attempts_compare_part_by_part_and_rank_by_total() {
    let first = score(&journal());
    let mut better = journal();
    better.push(chat(
        60,
        8,
        "hoa",
        Role::Seller,
        "màu đỏ hết rồi ạ",
        Some(4),
    ));
    let second = score(&better);
    let comparison = Comparison::of(&[first, second]);
    let ranks: Vec<usize> = comparison.attempts.iter().map(|a| a.rank).collect();
    assert_eq!(ranks, [2, 1]);
    let interaction = &comparison.rows[0];
    assert_eq!(interaction.part, "interaction");
    assert_eq!(interaction.best, Some(1));
    // Answered all three (waits 100, 20, 10 s: median 20 s).
    assert_eq!(interaction.points, [18.33, 25.0]);
    let total = comparison.rows.last().unwrap();
    assert_eq!(
        (total.part, total.weights.clone()),
        ("total", vec![100, 100])
    );
    assert_eq!(comparison.rows.len(), 7);
}
