//! How each part but scenario handling is judged (`docs/practice.md`,
//! "Scorecard"): the lines of points lost, before rounding. The figures
//! come from `crate::analytics`; only the weighing is here.

use std::collections::{HashMap, HashSet};

use crate::analytics::metrics::questions;
use crate::analytics::{Metrics, Session};
use crate::clock::UnixMillis;
use crate::journal::{JournalEntry, Record};
use crate::protocol::RoomEvent;

use super::{Figures, Line, Marks, PartName};

/// An answer (median) or response within this many seconds loses nothing.
pub const TARGET_SECS: f64 = 30.0;
/// A median answer time this slow (or slower) earns nothing of its half.
pub const ANSWER_ZERO_SECS: f64 = 180.0;
/// What one `warning` flag costs, as a share of the compliance part.
pub const WARNING_SHARE: f64 = 0.25;

/// 1 up to `TARGET_SECS`, falling in a straight line to 0 at `zero`.
pub(super) fn speed(secs: f64, zero: f64) -> f64 {
    if secs <= TARGET_SECS {
        1.0
    } else {
        (1.0 - (secs - TARGET_SECS) / (zero - TARGET_SECS)).max(0.0)
    }
}

/// Seconds for people: whole when whole, else one decimal.
pub(super) fn secs(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

pub(super) fn percent(share: f64) -> String {
    format!("{:.0} %", share * 100.0)
}

/// A viewer's text quoted in a reason: at most 60 characters.
pub(super) fn quoted(text: &str) -> String {
    let mut short: String = text.chars().take(60).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    format!("«{short}»")
}

/// Half the part on the share of questions answered (each unanswered
/// question a line at its moment), half on the median time to answer
/// (`speed`, one line at the slowest answered question). No question
/// asked: nothing to judge, full points.
pub(super) fn interaction(session: &Session, metrics: &Metrics, weight: f64) -> (bool, Vec<Line>) {
    let asked = questions(session);
    if asked.is_empty() {
        return (false, Vec::new());
    }
    let half = weight / 2.0;
    let each = half / asked.len() as f64;
    let text_of = |id: u64| {
        session
            .chat
            .iter()
            .find(|m| m.id == id)
            .map_or_else(String::new, |m| quoted(&m.text))
    };
    let mut lines: Vec<Line> = asked
        .iter()
        .filter(|(_, _, answered)| answered.is_none())
        .map(|(id, at, _)| {
            let text = text_of(*id);
            (
                each,
                *at,
                format!("Câu hỏi chưa được trả lời: {text}"),
                format!("Question left unanswered: {text}"),
            )
        })
        .collect();
    match metrics.median_answer_secs {
        None => lines.push((
            half,
            asked[0].1,
            "Không trả lời câu hỏi nào: không tính được thời gian trả lời".to_owned(),
            "No question was answered: no answer time to judge".to_owned(),
        )),
        Some(median) => {
            let factor = speed(median, ANSWER_ZERO_SECS);
            let slowest = asked
                .iter()
                .filter_map(|(id, at, answered)| {
                    answered.map(|a| (a.saturating_sub(*at), *id, *at))
                })
                .max_by_key(|(wait, _, _)| *wait);
            if let (true, Some((wait, id, at))) = (factor < 1.0, slowest) {
                let (median, wait) = (secs(median), secs(wait as f64 / 1000.0));
                let text = text_of(id);
                lines.push((
                    half * (1.0 - factor),
                    at,
                    format!(
                        "Trả lời chậm: trung vị {median} giây (mục tiêu ≤ 30 giây); chậm nhất {text} sau {wait} giây"
                    ),
                    format!(
                        "Slow answers: median {median} s (target ≤ 30 s); slowest {text} after {wait} s"
                    ),
                ));
            }
        }
    }
    (true, lines)
}

/// A third each on CTR, conversion, and GMV against what was offered
/// (flash sales' units × sale price, plus bag orders' units × unit price).
/// A rate with nothing to count (no impression, no click, nothing offered)
/// earns nothing: selling is the trainee's job.
pub(super) fn selling(
    entries: &[JournalEntry],
    session: &Session,
    metrics: &Metrics,
    weight: f64,
    start: UnixMillis,
    figures: &mut Figures,
) -> (bool, Vec<Line>) {
    let third = weight / 3.0;
    // Each flash sale's units and price, and when it was first announced.
    let mut sales: HashMap<&str, (u64, u64, UnixMillis)> = HashMap::new();
    let mut bag_orders: HashSet<&str> = HashSet::new();
    for entry in entries {
        match &entry.record {
            Record::Event { event } => {
                if let RoomEvent::SaleUpdated { sale, .. } = &event.event {
                    let first = sales.entry(sale.id.as_str()).or_insert((
                        u64::from(sale.stock_total),
                        sale.price_vnd,
                        entry.at,
                    ));
                    first.2 = first.2.min(entry.at);
                }
            }
            Record::OrderPlaced {
                order_id, sale_id, ..
            } if sale_id == "bag" => {
                bag_orders.insert(order_id.as_str());
            }
            _ => {}
        }
    }
    let flash: u64 = sales.values().map(|(units, price, _)| units * price).sum();
    let bag: u64 = session
        .orders
        .iter()
        .filter(|o| bag_orders.contains(o.order_id.as_str()))
        .flat_map(|o| &o.lines)
        .map(|(_, units, price)| u64::from(*units) * price)
        .sum();
    let offered = flash + bag;
    let first_sale = sales.values().map(|(_, _, at)| *at).min();
    let first_pin = session.pins.first().map(|p| p.from);
    figures.offered_vnd = offered;
    figures.gmv_share = (offered > 0).then(|| (metrics.gmv_vnd as f64 / offered as f64).min(1.0));

    let mut lines = Vec::new();
    match metrics.ctr {
        None => lines.push((
            third,
            start,
            "Không người xem nào thấy sản phẩm: chưa ghim hay giới thiệu sản phẩm".to_owned(),
            "No viewer saw a product: nothing was pinned or shown".to_owned(),
        )),
        Some(ctr) if ctr < 1.0 => lines.push((
            third * (1.0 - ctr),
            first_pin.unwrap_or(start),
            format!("Tỉ lệ bấm xem sản phẩm (CTR) {}", percent(ctr)),
            format!("Click-through rate (CTR) {}", percent(ctr)),
        )),
        Some(_) => {}
    }
    match metrics.conversion {
        None => lines.push((
            third,
            start,
            "Không người xem nào bấm xem sản phẩm nên không có chuyển đổi".to_owned(),
            "No viewer opened a product, so nothing could convert".to_owned(),
        )),
        Some(conversion) if conversion < 1.0 => lines.push((
            third * (1.0 - conversion),
            first_sale.or(first_pin).unwrap_or(start),
            format!(
                "Tỉ lệ chuyển đổi {}: người bấm xem sản phẩm nhưng không mua",
                percent(conversion)
            ),
            format!(
                "Conversion {}: viewers opened a product but did not buy",
                percent(conversion)
            ),
        )),
        Some(_) => {}
    }
    match figures.gmv_share {
        None => lines.push((
            third,
            start,
            "Chưa mở bán: không có flash sale hay đơn hàng nào".to_owned(),
            "Nothing was offered: no flash sale and no order".to_owned(),
        )),
        Some(share) if share < 1.0 => lines.push((
            third * (1.0 - share),
            first_sale.unwrap_or(start),
            format!(
                "Doanh thu {} đ trên {offered} đ có thể bán ({})",
                metrics.gmv_vnd,
                percent(share)
            ),
            format!(
                "GMV {} VND of {offered} VND offered ({})",
                metrics.gmv_vnd,
                percent(share)
            ),
        )),
        Some(_) => {}
    }
    (true, lines)
}

/// Each `warning` flag costs [`WARNING_SHARE`] of the part, a `serious`
/// one all of it (and the total is capped, see `Scorecard::of`); the part
/// never goes below 0, and every flag is a line (costing 0 once the part is
/// spent). Answers the lines and the counts (warnings, serious).
pub(super) fn compliance(entries: &[JournalEntry], weight: f64) -> (Vec<Line>, u64, u64) {
    let mut flags: Vec<&JournalEntry> = entries
        .iter()
        .filter(|e| matches!(e.record, Record::ComplianceFlagged { .. }))
        .collect();
    flags.sort_by_key(|e| e.at);
    let (mut left, mut warnings, mut serious) = (weight, 0, 0);
    let mut lines = Vec::new();
    for entry in flags {
        let Record::ComplianceFlagged {
            rule_id,
            severity,
            source,
            excerpt,
        } = &entry.record
        else {
            continue;
        };
        let grave = severity == "serious";
        let cost = match grave {
            true => left,
            false => left.min(weight * WARNING_SHARE),
        };
        left -= cost;
        if grave {
            serious += 1;
        } else {
            warnings += 1;
        }
        let (kind_vi, kind_en) = match grave {
            true => ("Vi phạm nghiêm trọng", "Serious violation"),
            false => ("Cảnh báo tuân thủ", "Compliance warning"),
        };
        let (where_vi, where_en) = match source.as_str() {
            "chat" => ("trong chat", "in chat"),
            "product" => ("trong sản phẩm", "in a product"),
            "pinned_note" => ("trong ghi chú ghim", "in a pinned note"),
            "script" => ("trong kịch bản", "in the script"),
            "speech" => ("trong lời nói", "in speech"),
            _ => ("", ""),
        };
        let excerpt = quoted(excerpt);
        lines.push((
            cost,
            entry.at,
            format!("{kind_vi} ({rule_id}) {where_vi}: {excerpt}"),
            format!("{kind_en} ({rule_id}) {where_en}: {excerpt}"),
        ));
    }
    (lines, warnings, serious)
}

/// The trainer's mark out of 10 for `name`, times the weight. Not marked
/// yet: nothing earned, one line at `until`.
pub(super) fn marked(
    name: PartName,
    marks: Option<&Marks>,
    weight: f64,
    until: UnixMillis,
) -> (bool, Vec<Line>) {
    let (label_vi, label_en) = name.label();
    let Some(marks) = marks else {
        let line = (
            weight,
            until,
            format!("Giảng viên chưa chấm phần {}", label_vi.to_lowercase()),
            format!("The trainer has not marked {} yet", label_en.to_lowercase()),
        );
        return (false, vec![line]);
    };
    let mark = match name {
        PartName::Presentation => marks.presentation,
        _ => marks.product_knowledge,
    };
    let lost = weight * f64::from(10 - mark.min(10)) / 10.0;
    let comment = match marks.comment.as_str() {
        "" => String::new(),
        comment => format!(": {}", quoted(comment)),
    };
    let line = (
        lost,
        marks.at,
        format!(
            "Giảng viên chấm {} {mark}/10{comment}",
            label_vi.to_lowercase()
        ),
        format!(
            "The trainer marked {} {mark}/10{comment}",
            label_en.to_lowercase()
        ),
    );
    (true, vec![line])
}
