//! A session's totals, each defined in `docs/metrics.md` and counted here
//! from [`Session`] alone. Rates and medians are `None` when their
//! denominator is 0 (a rate of nothing is not 0 %).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::auth::Role;
use crate::money::Vnd;

use super::question::is_question;
use super::session::Session;

/// A view lasting at least this long is a "10-second view".
pub const QUALIFIED_VIEW_MS: u64 = 10_000;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub views: u64,
    pub unique_viewers: u64,
    pub peak_viewers: u64,
    pub avg_view_secs: Option<f64>,
    pub views_10s: u64,
    pub comments: u64,
    /// Comments per live minute.
    pub comment_rate: Option<f64>,
    pub hearts: u64,
    pub hearts_per_min: Option<f64>,
    pub impressions: u64,
    pub clicks: u64,
    pub ctr: Option<f64>,
    pub ctor: Option<f64>,
    pub product_visitors: u64,
    pub guided_rate: Option<f64>,
    pub buyers: u64,
    pub orders: u64,
    pub units: u64,
    pub gmv_vnd: Vnd,
    pub gpm_vnd: Option<f64>,
    pub conversion: Option<f64>,
    pub vouchers_dropped: u64,
    pub vouchers_claimed: u64,
    pub orders_with_voucher: u64,
    pub voucher_use: Option<f64>,
    pub questions: u64,
    pub questions_answered: u64,
    pub answer_rate: Option<f64>,
    pub median_answer_secs: Option<f64>,
}

/// Per product: what its row in "top products" shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProductFigures {
    pub product_id: String,
    pub name: String,
    pub impressions: u64,
    pub clicks: u64,
    pub orders: u64,
    pub units: u64,
    /// Units × unit price, before vouchers.
    pub gmv_vnd: Vnd,
}

fn ratio(numerator: f64, denominator: f64) -> Option<f64> {
    (denominator > 0.0).then(|| numerator / denominator)
}

/// (viewer, product) pairs: the unit of impressions, clicks and orders.
pub(super) type Pairs<'a> = HashSet<(&'a str, &'a str)>;

/// Impressions: each (viewer, product) whose visit overlapped a pin of the
/// product, or who tapped it. Clicks: each (viewer, product) tapped.
/// Ordered: each (buyer, product) ordered. Only viewers count.
pub(super) fn pairs(session: &Session) -> (Pairs<'_>, Pairs<'_>, Pairs<'_>) {
    let viewers = session.viewer_ids();
    let mut impressions = Pairs::new();
    for pin in &session.pins {
        for visit in &session.visits {
            // Half-open intervals; a pin of no length shows nothing.
            if visit.from < pin.to && pin.from < visit.to {
                impressions.insert((visit.user_id.as_str(), pin.product_id.as_str()));
            }
        }
    }
    let mut clicks = Pairs::new();
    for tap in &session.taps {
        if viewers.contains(tap.user_id.as_str()) {
            clicks.insert((tap.user_id.as_str(), tap.product_id.as_str()));
        }
    }
    let mut ordered = Pairs::new();
    for order in &session.orders {
        for (product_id, _, _) in &order.lines {
            ordered.insert((order.buyer_id.as_str(), product_id.as_str()));
        }
    }
    // Buying needs the card: an order is a click, a click an impression.
    clicks.extend(
        ordered
            .iter()
            .filter(|(buyer, _)| viewers.contains(buyer))
            .copied(),
    );
    impressions.extend(clicks.iter().copied());
    (impressions, clicks, ordered)
}

/// The number of viewers connected at once, at its highest.
pub(super) fn peak(visits: &[super::session::Visit]) -> u64 {
    let mut changes: Vec<(u64, i64)> = Vec::with_capacity(visits.len() * 2);
    for v in visits {
        changes.push((v.from, 1));
        changes.push((v.to, -1));
    }
    // At one instant, leaves count before joins: a reload is not two viewers.
    changes.sort();
    let (mut now, mut most) = (0i64, 0i64);
    for (_, change) in changes {
        now += change;
        most = most.max(now);
    }
    most as u64
}

/// Each viewer question and when staff first answered it, if they did.
pub fn questions(session: &Session) -> Vec<(u64, u64, Option<u64>)> {
    let mut first_answer: HashMap<u64, u64> = HashMap::new();
    for message in &session.chat {
        if message.role == Role::Viewer {
            continue;
        }
        if let Some(quote) = &message.reply_to {
            first_answer.entry(quote.id).or_insert(message.sent_at);
        }
    }
    session
        .chat
        .iter()
        .filter(|m| m.role == Role::Viewer)
        .filter(|m| is_question(&m.text) || first_answer.contains_key(&m.id))
        .map(|m| (m.id, m.sent_at, first_answer.get(&m.id).copied()))
        .collect()
}

impl Metrics {
    pub fn of(session: &Session) -> Metrics {
        let live_minutes = session.live_secs() / 60.0;
        let visits = &session.visits;
        let views = visits.len() as u64;
        let watched: u64 = visits.iter().map(|v| v.to - v.from).sum();
        let (impressions, clicks, ordered) = pairs(session);
        let visitors: HashSet<&str> = clicks.iter().map(|(user, _)| *user).collect();
        let buyers: HashSet<&str> = session.orders.iter().map(|o| o.buyer_id.as_str()).collect();
        let orders = session.orders.len() as u64;
        let gmv: Vnd = session.orders.iter().map(|o| o.total_vnd).sum();
        let with_voucher = session.orders.iter().filter(|o| o.with_voucher).count() as u64;
        let comments = session
            .chat
            .iter()
            .filter(|m| m.role == Role::Viewer)
            .count() as u64;
        let hearts: u64 = session.hearts.iter().map(|(_, n)| n).sum();
        let asked = questions(session);
        let mut waits: Vec<f64> = asked
            .iter()
            .filter_map(|(_, at, answered)| answered.map(|a| a.saturating_sub(*at) as f64 / 1000.0))
            .collect();
        waits.sort_by(f64::total_cmp);
        let unique_viewers = session.viewer_ids().len() as u64;
        Metrics {
            views,
            unique_viewers,
            peak_viewers: peak(visits),
            avg_view_secs: ratio(watched as f64 / 1000.0, views as f64),
            views_10s: visits
                .iter()
                .filter(|v| v.to - v.from >= QUALIFIED_VIEW_MS)
                .count() as u64,
            comments,
            comment_rate: ratio(comments as f64, live_minutes),
            hearts,
            hearts_per_min: ratio(hearts as f64, live_minutes),
            impressions: impressions.len() as u64,
            clicks: clicks.len() as u64,
            ctr: ratio(clicks.len() as f64, impressions.len() as f64),
            ctor: ratio(
                ordered.intersection(&clicks).count() as f64,
                clicks.len() as f64,
            ),
            product_visitors: visitors.len() as u64,
            guided_rate: ratio(visitors.len() as f64, unique_viewers as f64),
            buyers: buyers.len() as u64,
            orders,
            units: session
                .orders
                .iter()
                .flat_map(|o| &o.lines)
                .map(|(_, units, _)| u64::from(*units))
                .sum(),
            gmv_vnd: gmv,
            gpm_vnd: ratio(gmv as f64 * 1000.0, views as f64),
            conversion: ratio(
                buyers.intersection(&visitors).count() as f64,
                visitors.len() as f64,
            ),
            vouchers_dropped: session.vouchers_dropped,
            vouchers_claimed: session.vouchers_claimed,
            orders_with_voucher: with_voucher,
            voucher_use: ratio(with_voucher as f64, orders as f64),
            questions: asked.len() as u64,
            questions_answered: waits.len() as u64,
            answer_rate: ratio(waits.len() as f64, asked.len() as f64),
            median_answer_secs: median(&waits),
        }
    }

    /// A metric by its name in the report (`ctr`, `gmv_vnd`, …), as a number.
    pub fn get(&self, name: &str) -> Option<f64> {
        let value = serde_json::to_value(self).ok()?;
        value.get(name)?.as_f64()
    }
}

/// The middle of `sorted` (the mean of the two middle values for an even
/// count).
pub fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// Per product, most sold (by GMV, then clicks) first.
pub fn top_products(session: &Session) -> Vec<ProductFigures> {
    let (impressions, clicks, _) = pairs(session);
    let mut rows: BTreeMap<&str, ProductFigures> = BTreeMap::new();
    let row = |id: &str| -> ProductFigures {
        ProductFigures {
            product_id: id.to_owned(),
            name: session.products.get(id).cloned().unwrap_or_default(),
            ..ProductFigures::default()
        }
    };
    for (_, product) in &impressions {
        rows.entry(product)
            .or_insert_with(|| row(product))
            .impressions += 1;
    }
    for (_, product) in &clicks {
        rows.entry(product).or_insert_with(|| row(product)).clicks += 1;
    }
    for order in &session.orders {
        let mut counted = HashSet::new();
        for (product, units, price) in &order.lines {
            let figures = rows.entry(product).or_insert_with(|| row(product));
            if counted.insert(product.as_str()) {
                figures.orders += 1;
            }
            figures.units += u64::from(*units);
            figures.gmv_vnd += price * Vnd::from(*units);
        }
    }
    let mut rows: Vec<ProductFigures> = rows.into_values().collect();
    rows.sort_by(|a, b| {
        (b.gmv_vnd, b.clicks, &a.product_id).cmp(&(a.gmv_vnd, a.clicks, &b.product_id))
    });
    rows
}
