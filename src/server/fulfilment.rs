//! The service side of an order's life: change it through the sale store,
//! then tell whoever must know — the room (`order_status`, by the order's tag),
//! the sale's stock when a cancellation gave units back, and the shop's own
//! system (its webhook: `order.created`, `order.updated`, `order.cancelled`).
//!
//! Every door that changes an order (the seller's HTTP API, the buyer's
//! `cancel_order` frame, the order page) goes through [`change`], so each
//! change is told exactly once, by the call that made it.

use crate::clock;
use crate::room::store::RoomStore;
use crate::room::RoomFact;
use crate::sale::{Order, OrderActor, OrderChange, OrderStatus, OrderUpdate, SaleError, SaleStore};
use crate::webhook::EventType;

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
        .sales
        .update_order(room_id, order_id, change, actor, now)
        .await?;
    if update.changed {
        let event = match update.order.status {
            OrderStatus::Cancelled => EventType::OrderCancelled,
            _ => EventType::OrderUpdated,
        };
        notify_shop(state, room_id, event, &update.order).await;
        announce(state, room_id, &update).await;
    }
    Ok(update)
}

/// Queues an order event for the room's webhook, if it has one. The order
/// stands either way: a failure to queue is logged, never the buyer's or the
/// seller's error (an order committed by a node that dies before this call is not told: see `docs/protocol.md`, Webhooks).
pub async fn notify_shop(state: &AppState, room_id: &str, event: EventType, order: &Order) {
    let data = match serde_json::to_value(order) {
        Ok(data) => data,
        Err(error) => {
            tracing::error!(room = %room_id, %error, "an order did not serialize for its webhook");
            return;
        }
    };
    let now = clock::unix_millis();
    if let Err(error) = state.webhooks.publish(room_id, event, data, now).await {
        tracing::warn!(room = %room_id, order = %order.order_id, %error, "could not queue a webhook event");
    }
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
