//! The service side of an order's life: change it through the sale store,
//! then tell whoever must know — the room (`order_status`, by the order's tag),
//! and the sale's stock when a cancellation gave units back. The shop's own
//! system (its webhook: `order.created`, `order.updated`, `order.cancelled`)
//! hears of it from the store itself, which writes the event in the same
//! atomic step as the change (`sale::journal`).
//!
//! Every door that changes an order (the seller's HTTP API, the buyer's
//! `cancel_order` frame, the order page) goes through [`change`], so each
//! change is told exactly once, by the call that made it.

use crate::clock;
use crate::room::store::RoomStore;
use crate::room::RoomFact;
use crate::sale::{OrderActor, OrderChange, OrderUpdate, SaleError, SaleStore};

use super::sales::{announce_fresh_sale, announce_product, log_unannounced};
use super::AppState;

/// Applies `change` to an order of `room_id` as `actor` and, when it changed
/// something, announces it.
pub async fn change(
    state: &AppState,
    room_id: &str,
    order_id: &str,
    change: &OrderChange,
    actor: &OrderActor,
) -> Result<OrderUpdate, SaleError> {
    let now = clock::unix_millis();
    let update = state
        .sales_for(room_id)
        .update_order(room_id, order_id, change, actor, now)
        .await?;
    // The shop's webhook event was written by the store with the change
    // (`sale::journal`).
    if update.changed {
        announce(state, room_id, &update).await;
    }
    Ok(update)
}

/// The buyer's cancel window, as an actor.
pub fn buyer(state: &AppState, buyer_id: &str) -> OrderActor {
    OrderActor::Buyer {
        buyer_id: buyer_id.to_owned(),
        cancel_window_ms: state.config.orders.buyer_cancel_secs.saturating_mul(1000),
    }
}

/// Tells the room (whether or not this node has connections in it) and, for
/// a cancellation, lets it announce the stock that came back. The change
/// stands either way.
async fn announce(state: &AppState, room_id: &str, update: &OrderUpdate) {
    let status = RoomFact::OrderStatus {
        status_tag: update.order.status_tag.clone(),
        status: update.order.status,
    };
    log_unannounced(room_id, state.rooms.store().observe(room_id, status).await);
    if update.returned_units > 0 && !update.order.lines.is_empty() {
        // A bag order: each line back to its product.
        for line in &update.order.lines {
            announce_product(state, room_id, &line.product_id).await;
        }
    } else if update.returned_units > 0 {
        // Back to the sale while it is open, to the product once it closed.
        if let Some(product_id) = announce_fresh_sale(state, room_id, &update.order.sale_id).await {
            announce_product(state, room_id, &product_id).await;
        }
    }
}
