//! What the service layer writes in the session journal (`crate::journal`):
//! what only the node serving a connection sees — joins and leaves, product
//! taps, the answers to buys and bag adds, orders placed and refused,
//! vouchers claimed, and who moderated. Room events are recorded by the room
//! store itself. Each function queues one entry and returns at once.

use crate::clock::unix_millis;
use crate::journal::{OrderedLine, Record};
use crate::protocol::ErrorCode;
use crate::room::{Actor, RoomCommand};
use crate::sale::{BuyOutcome, Order};

use super::AppState;

/// A connection joined `room_id`; `visit` names it until it leaves.
pub fn joined(state: &AppState, room_id: &str, actor: &Actor, visit: &str) {
    let record = Record::Joined {
        visit: visit.to_owned(),
        user_id: actor.user_id.clone(),
        name: actor.name.clone(),
        role: actor.role,
    };
    state.journal.record(room_id, unix_millis(), record);
}

/// The connection `visit` left after `duration_ms`.
pub fn left(state: &AppState, room_id: &str, actor: &Actor, visit: &str, duration_ms: u64) {
    let record = Record::Left {
        visit: visit.to_owned(),
        user_id: actor.user_id.clone(),
        role: actor.role,
        duration_ms,
    };
    state.journal.record(room_id, unix_millis(), record);
}

pub fn product_viewed(state: &AppState, room_id: &str, actor: &Actor, product_id: String) {
    let record = Record::ProductViewed {
        user_id: actor.user_id.clone(),
        product_id,
    };
    state.journal.record(room_id, unix_millis(), record);
}

pub fn buy_answered(
    state: &AppState,
    room_id: &str,
    actor: &Actor,
    sale_id: &str,
    quantity: u32,
    outcome: BuyOutcome,
) {
    let record = Record::BuyAnswered {
        user_id: actor.user_id.clone(),
        sale_id: sale_id.to_owned(),
        quantity,
        outcome,
    };
    state.journal.record(room_id, unix_millis(), record);
}

pub fn bag_answered(
    state: &AppState,
    room_id: &str,
    actor: &Actor,
    product_id: &str,
    quantity: u32,
    outcome: BuyOutcome,
) {
    let record = Record::BagAnswered {
        user_id: actor.user_id.clone(),
        product_id: product_id.to_owned(),
        quantity,
        outcome,
    };
    state.journal.record(room_id, unix_millis(), record);
}

/// An order was created (once per order: a retried confirmation is not).
pub fn order_placed(state: &AppState, room_id: &str, order: &Order) {
    let lines = if order.lines.is_empty() {
        // A flash-sale order: one product, its sale's.
        vec![OrderedLine {
            product_id: String::new(),
            quantity: order.quantity,
            unit_price_vnd: order.unit_price_vnd,
        }]
    } else {
        order
            .lines
            .iter()
            .map(|line| OrderedLine {
                product_id: line.product_id.clone(),
                quantity: line.quantity,
                unit_price_vnd: line.unit_price_vnd,
            })
            .collect()
    };
    let record = Record::OrderPlaced {
        order_id: order.order_id.clone(),
        buyer_id: order.buyer_id.clone(),
        sale_id: order.sale_id.clone(),
        lines,
        discount_vnd: order.discount_vnd,
        total_vnd: order.total_vnd,
        voucher_code: order.voucher_code.clone(),
    };
    state.journal.record(room_id, order.created_at, record);
}

pub fn order_refused(state: &AppState, room_id: &str, actor: &Actor, code: ErrorCode) {
    let record = Record::OrderRefused {
        user_id: actor.user_id.clone(),
        code,
    };
    state.journal.record(room_id, unix_millis(), record);
}

pub fn voucher_claimed(state: &AppState, room_id: &str, actor: &Actor, code: &str) {
    let record = Record::VoucherClaimed {
        user_id: actor.user_id.clone(),
        code: code.to_owned(),
    };
    state.journal.record(room_id, unix_millis(), record);
}

/// After `command` succeeded: who moderated, if it was moderation.
pub fn moderated(state: &AppState, room_id: &str, actor: &Actor, command: &RoomCommand) {
    use RoomCommand as C;
    let (action, target) = match command {
        C::DeleteMessage { message_id } => ("delete_message", message_id.to_string()),
        C::MuteUser { user_id, minutes } => ("mute_user", format!("{user_id} {minutes}m")),
        C::UnmuteUser { user_id } => ("unmute_user", user_id.clone()),
        C::BanUser { user_id } => ("ban_user", user_id.clone()),
        C::UnbanUser { user_id } => ("unban_user", user_id.clone()),
        C::SetSlowMode { seconds } => ("set_slow_mode", format!("{seconds}s")),
        C::SetBannedWords { words } => ("set_banned_words", words.len().to_string()),
        _ => return,
    };
    let record = Record::Moderated {
        by_user_id: actor.user_id.clone(),
        by_role: actor.role,
        action: action.to_owned(),
        target,
    };
    state.journal.record(room_id, unix_millis(), record);
}
