//! Flash sales and the shopping bag over the WebSocket: authorise, call the
//! sale store, answer the buyer privately, and announce to the room.
//!
//! Store calls are `async` (Redis), so they run here, in the connection's
//! task, never under a room's lock; the room hears what the store did as a
//! [`RoomFact`] and keeps only the copy of its current sale that it last
//! announced. Stock is announced by the [`spawn_announcer`]
//! task, which re-reads a sale whose stock may have changed at most every
//! `rooms.sale_stock_interval_ms`, however many buys arrive: one `sale_stock`
//! event per interval, not one per buy, and in a room of many thousands
//! fewer still ([`stock_spacing`]); products whose stock a bag hold
//! took or gave back are re-read the same way (`product_stock`). A sale's
//! start or end tells its product's new stock inside its `sale_updated`.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::clock;
use crate::config::RoomsConfig;
use crate::protocol::{DirectEvent, RoomStatus, SaleInfo};
use crate::room::store::RoomStore;
use crate::room::{transition_due, Actor, Room, RoomCommand, RoomError, RoomFact};
use crate::sale::bag::is_bag_hold;
use crate::sale::{
    sweeper, BagAdd, BuyOutcome, BuyRequest, Checkout, Confirmation, NewSale, OrderChange,
    SaleError, SaleStore,
};

use super::command::SaleCommand;
use super::refusal::Refusal;
use super::AppState;
use super::{fulfilment, journal, vouchers};

/// What a sale command answers: the direct reply, if any.
type Answer = Result<Option<DirectEvent>, Refusal>;

/// Handle one flash-sale command from `actor` (its role already authorised)
/// in `room`: the direct reply, if any (an `ack` only when the request had
/// an id).
///
/// Boxed here, a buy apart from the rest: in a flash sale thousands of
/// buys wait on the store at once, each in its own box, and the other
/// commands' state (orders, bag checkout, fulfilment) would make every one
/// of those boxes 5.5 times the size of a buy's (5,016 bytes against 904
/// on the release build): 50 MB held by 10,000 waiting buyers instead of
/// 9.
pub fn handle<'a>(
    state: &'a AppState,
    room: &'a Room,
    actor: &'a Actor,
    id: Option<String>,
    command: SaleCommand,
) -> Pin<Box<dyn Future<Output = Answer> + Send + 'a>> {
    match command {
        SaleCommand::Buy {
            sale_id,
            quantity,
            idempotency_key,
        } => {
            let request = BuyRequest {
                sale_id,
                buyer_id: actor.user_id.clone(),
                buyer_name: actor.name.clone(),
                quantity,
                idempotency_key,
            };
            Box::pin(buy(state, room, actor, id, request))
        }
        command => Box::pin(handle_other(state, room, actor, id, command)),
    }
}

/// A flash-sale buy: reserve through the store, journal the answer, and
/// have the announcer re-read the sale's stock if units were taken.
async fn buy(
    state: &AppState,
    room: &Room,
    actor: &Actor,
    id: Option<String>,
    request: BuyRequest,
) -> Answer {
    let now = clock::unix_millis();
    let result = state
        .sales_for(&room.id)
        .buy(&room.id, &request, now)
        .await?;
    state.metrics.buy_outcome(result.outcome);
    journal::buy_answered(
        state,
        &room.id,
        actor,
        &request.sale_id,
        request.quantity,
        result.outcome,
    );
    if result.outcome == BuyOutcome::Reserved {
        room.mark_sale_dirty();
    }
    Ok(Some(DirectEvent::BuyResult {
        id,
        sale_id: request.sale_id,
        outcome: result.outcome,
        hold: result.hold,
        retry_after_ms: result.retry_after_ms,
    }))
}

/// Every sale command but a buy.
async fn handle_other(
    state: &AppState,
    room: &Room,
    actor: &Actor,
    id: Option<String>,
    command: SaleCommand,
) -> Answer {
    let sales = state.sales_for(&room.id);
    let now = clock::unix_millis();
    match command {
        SaleCommand::Start(terms) => {
            if room.info().await?.status == RoomStatus::Ended {
                return Err(RoomError::Ended.into());
            }
            // Whether another sale is running is the store's to decide,
            // atomically (`SaleError::SaleRunning`, wire code `invalid_state`).
            let product = room.product(&terms.product_id).await?;
            let new_sale = NewSale {
                product_id: product.id,
                product_name: product.name,
                product_stock: product.stock,
                price_vnd: terms.price_vnd,
                stock: terms.stock,
                per_buyer_limit: terms.per_buyer_limit,
                starts_in_secs: terms.starts_in_secs,
                duration_secs: terms.duration_secs,
                hold_secs: terms.hold_secs,
            };
            let sale = sales.create_sale(&room.id, new_sale, now).await?;
            tracing::info!(sale = %sale.id, stock = sale.stock_total, "flash sale created");
            room.note_stock_announced(now);
            announce_sale_change(state, room, sale).await;
            Ok(id.map(|id| DirectEvent::Ack { id }))
        }
        SaleCommand::End { sale_id } => {
            let sale = sales.end_sale(&room.id, &sale_id, now).await?;
            tracing::info!(sale = %sale.id, "flash sale ended");
            announce_sale_change(state, room, sale).await;
            Ok(id.map(|id| DirectEvent::Ack { id }))
        }
        // `handle` takes a buy apart; this arm only keeps the match whole.
        SaleCommand::Buy { .. } => handle(state, room, actor, id, command).await,
        SaleCommand::Confirm { hold_id, checkout } => {
            voucher_tried(state, actor, &checkout)?;
            let confirmed = sales
                .confirm(&room.id, &hold_id, &actor.user_id, &checkout, now)
                .await;
            if confirmed == Err(SaleError::HoldExpired) {
                // The late confirm returned the units itself.
                room.mark_sale_dirty();
            }
            let order = placed(state, room, actor, confirmed).await?;
            Ok(Some(DirectEvent::OrderConfirmed { id, order }))
        }
        SaleCommand::AddToBag {
            product_id,
            quantity,
            idempotency_key,
        } => {
            match room.info().await?.status {
                RoomStatus::Live => {}
                RoomStatus::Ended => return Err(RoomError::Ended.into()),
                RoomStatus::Scheduled => {
                    let why = "the bag opens when the live starts";
                    return Err(RoomError::InvalidState(why.into()).into());
                }
            }
            // The product's terms come from the catalog, never the client.
            let product = room.product(&product_id).await?;
            let add = BagAdd {
                product_id: product.id,
                product_name: product.name,
                unit_price_vnd: product.price_vnd,
                product_stock: product.stock,
                per_buyer_limit: product.per_buyer_limit,
                hold_secs: state.config.orders.bag_hold_secs,
                buyer_id: actor.user_id.clone(),
                buyer_name: actor.name.clone(),
                quantity,
                idempotency_key,
            };
            let added = sales.add_to_bag(&room.id, &add, now).await?;
            let outcome = added.result.outcome;
            journal::bag_answered(state, &room.id, actor, &add.product_id, quantity, outcome);
            if added.result.outcome == BuyOutcome::Reserved {
                room.mark_product_dirty(&add.product_id);
            }
            Ok(Some(DirectEvent::BagResult {
                id,
                product_id: add.product_id,
                outcome: added.result.outcome,
                hold: added.result.hold,
            }))
        }
        SaleCommand::CheckoutBag { hold_ids, checkout } => {
            voucher_tried(state, actor, &checkout)?;
            let confirmed = sales
                .checkout_bag(&room.id, &actor.user_id, &hold_ids, &checkout, now)
                .await;
            if confirmed == Err(SaleError::HoldExpired) {
                // The late checkout returned an expired hold's units: which
                // product's is not said, so every line's is re-read.
                mark_bag_products_dirty(state, room, &actor.user_id, &hold_ids).await;
            }
            let order = placed(state, room, actor, confirmed).await?;
            Ok(Some(DirectEvent::OrderConfirmed { id, order }))
        }
        SaleCommand::CancelOrder { order_id } => {
            let buyer = fulfilment::buyer(state, &actor.user_id);
            let update =
                fulfilment::change(state, &room.id, &order_id, &OrderChange::Cancelled, &buyer)
                    .await?;
            Ok(Some(DirectEvent::OrderUpdated {
                id,
                order: update.order,
            }))
        }
        SaleCommand::DropVoucher { code } => {
            let voucher = sales.drop_voucher(&room.id, &code, now).await?;
            tracing::info!(voucher = %voucher.code, "voucher dropped");
            announce(room, RoomFact::VoucherDropped(voucher)).await;
            Ok(id.map(|id| DirectEvent::Ack { id }))
        }
        SaleCommand::ClaimVoucher { code } => {
            vouchers::guess_allowed(state, &actor.user_id)?;
            let voucher = sales
                .claim_voucher(&room.id, &code, &actor.user_id, now)
                .await?;
            journal::voucher_claimed(state, &room.id, actor, &voucher.code);
            Ok(Some(DirectEvent::VoucherClaimed { id, voucher }))
        }
        SaleCommand::MyOrders => {
            let orders = sales.buyer_orders(&room.id, &actor.user_id).await?;
            Ok(Some(DirectEvent::MyOrders { id, orders }))
        }
        SaleCommand::Cancel { hold_id } => {
            let bag = is_bag_hold(&hold_id);
            if bag {
                // Which product gets the units back: the hold says, so read
                // it while it is still open.
                mark_bag_products_dirty(
                    state,
                    room,
                    &actor.user_id,
                    std::slice::from_ref(&hold_id),
                )
                .await;
            }
            sales
                .cancel(&room.id, &hold_id, &actor.user_id, now)
                .await?;
            if !bag {
                room.mark_sale_dirty();
            }
            Ok(Some(DirectEvent::HoldCancelled { id, hold_id }))
        }
    }
}

/// A checkout that names a voucher counts against the buyer's voucher
/// tries (codes are not to be found by guessing).
fn voucher_tried(state: &AppState, actor: &Actor, checkout: &Checkout) -> Result<(), Refusal> {
    if checkout.voucher_code.is_some() {
        vouchers::guess_allowed(state, &actor.user_id)?;
    }
    Ok(())
}

/// A confirmation or checkout was answered: a refusal is journaled; an
/// order is told to the room and journaled, once (a retried confirmation
/// returns the first order with `created: false`). The shop's webhook event
/// was written by the store with the order.
async fn placed(
    state: &AppState,
    room: &Room,
    actor: &Actor,
    confirmed: Result<Confirmation, SaleError>,
) -> Result<crate::sale::Order, Refusal> {
    let confirmation = match confirmed {
        Ok(confirmation) => confirmation,
        Err(error) => {
            let refusal = Refusal::from(error);
            journal::order_refused(state, &room.id, actor, refusal.code);
            return Err(refusal);
        }
    };
    let order = confirmation.order;
    if confirmation.created {
        journal::order_placed(state, &room.id, &order);
        let purchase = RoomFact::OrderPlaced {
            sale_id: order.sale_id.clone(),
            buyer_name: order.buyer_name.clone(),
            quantity: order.quantity,
        };
        announce(room, purchase).await;
    }
    Ok(order)
}

/// Marks the products of the buyer's open bag holds among `hold_ids` for
/// the announcer (their stock is about to change, or just did).
async fn mark_bag_products_dirty(
    state: &AppState,
    room: &Room,
    buyer_id: &str,
    hold_ids: &[String],
) {
    let now = clock::unix_millis();
    match state
        .sales_for(&room.id)
        .open_holds(&room.id, buyer_id, now)
        .await
    {
        Ok(holds) => holds
            .iter()
            .filter(|hold| hold_ids.contains(&hold.hold_id))
            .filter_map(|hold| hold.product_id.as_deref())
            .for_each(|product_id| room.mark_product_dirty(product_id)),
        Err(error) => {
            tracing::warn!(room = %room.id, %error, "could not read bag holds to announce their stock")
        }
    }
}

/// Tell the room that a sale started or ended, with its product's stock
/// after the change (the start carved the sale's units out of it, the end
/// gave the unsold back) inside the one `sale_updated`: a crowded room is
/// written to once for the change, not twice. When the count cannot be
/// read the sale is told alone and the product's count follows as its own
/// `product_stock` ([`announce_product`]). Either way this node's announcer
/// reads the count again, so a read that raced another change (a bag hold)
/// is put right.
async fn announce_sale_change(state: &AppState, room: &Room, sale: SaleInfo) {
    let product_id = sale.product_id.clone();
    let product_stock = read_product_stock(state, &room.id, &product_id).await;
    announce(
        room,
        RoomFact::SaleChanged {
            sale,
            product_stock,
        },
    )
    .await;
    match product_stock {
        Some(_) => room.mark_product_dirty(&product_id),
        None => announce_product(state, &room.id, &product_id).await,
    }
}

/// Tell the room what the sale store did. The store's answer stands either
/// way (the order is made, the sale started); a room that could not be told
/// hears it at the announcer's next read, so this only logs.
async fn announce(room: &Room, fact: RoomFact) {
    if let Err(error) = room.observe(fact).await {
        tracing::warn!(room = %room.id, %error, "could not announce a sale change");
    }
}

/// Re-read, every `every`, the sales whose stock may have changed (through
/// this node) or whose start or end time passed, and let their rooms
/// announce the difference. Any number of nodes may announce one room: the
/// room store announces only what changed since clients were last told.
///
/// A change of state (started, sold out, back on sale, ended) is announced
/// at the first read that sees it. A mere stock change waits, in a large
/// room, until [`stock_spacing`] has passed since this node last told the
/// room the sale's `remaining` (a `sale_stock`, or a `sale_updated`, which
/// carries it too): the sale stays marked and is read again at the next
/// tick. So a crowded room's sale that sells out within that time goes from
/// its start to its sold-out with no stock frame in between.
pub fn spawn_announcer(state: AppState, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = state.shutdown.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let now = clock::unix_millis();
            for room in state.rooms.active() {
                for product_id in room.take_dirty_products() {
                    observe_product_stock(&state, &room.id, &product_id).await;
                }
                let dirty = room.take_sale_dirty();
                let sale = match room.current_sale().await {
                    Ok(Some(sale)) => sale,
                    Ok(None) => continue,
                    Err(error) => {
                        tracing::warn!(room = %room.id, %error, "could not read the room's sale");
                        continue;
                    }
                };
                if !dirty && !transition_due(&sale, now) {
                    continue;
                }
                match state
                    .sales_for(&room.id)
                    .get_sale(&room.id, &sale.id, now)
                    .await
                {
                    Ok(fresh) if only_stock_changed(&sale, &fresh) => {
                        let spacing = stock_spacing(&state.config.rooms, room.users());
                        if now.saturating_sub(room.stock_announced_at()) < spacing {
                            room.mark_sale_dirty();
                            continue;
                        }
                        room.note_stock_announced(now);
                        announce(&room, RoomFact::SaleRead(fresh)).await
                    }
                    Ok(fresh) => {
                        // A change of state carries `remaining` too.
                        room.note_stock_announced(now);
                        announce(&room, RoomFact::SaleRead(fresh)).await
                    }
                    Err(error) => {
                        tracing::warn!(room = %room.id, sale = %sale.id, %error, "could not re-read a sale");
                        room.mark_sale_dirty();
                    }
                }
            }
        }
    })
}

/// Is `fresh` the announced `sale` with only its remaining stock changed
/// (no change of state or end time, which are announced at once)?
fn only_stock_changed(sale: &SaleInfo, fresh: &SaleInfo) -> bool {
    sale.id == fresh.id
        && sale.state == fresh.state
        && sale.ends_at == fresh.ends_at
        && sale.remaining != fresh.remaining
}

/// The least time between two `sale_stock` announcements from this node to
/// a room with `connections` here, in ms: `rooms.sale_stock_interval_ms`,
/// or longer in a room so large that announcing that often would write more
/// than `rooms.sale_stock_frames_per_sec` frames a second (10,000 a second:
/// every second at 10,000 connections). Each announcement is one frame to
/// every connection, so a burst of buys in a crowded room would otherwise
/// spend more of the node on telling everyone the count than on selling.
pub fn stock_spacing(rooms: &RoomsConfig, connections: usize) -> u64 {
    let budget = rooms.sale_stock_frames_per_sec.max(1);
    let by_size = (connections as u64).saturating_mul(1000) / budget;
    rooms.sale_stock_interval_ms.max(by_size)
}

/// Return expired holds' units (exactly once, inside the store) and let the
/// rooms announce the new stock — whether or not this node has connections
/// in them.
pub fn spawn_sweeper(state: &AppState, every: Duration) -> JoinHandle<()> {
    sweep(state, state.sales.clone(), every)
}

/// The same for practice rooms' sales (this node's practice store).
pub fn spawn_practice_sweeper(state: &AppState, every: Duration) -> JoinHandle<()> {
    sweep(state, state.practice_sales.clone(), every)
}

fn sweep(state: &AppState, store: crate::sale::AnySaleStore, every: Duration) -> JoinHandle<()> {
    let announcing = state.clone();
    sweeper::spawn(store, every, state.shutdown.child_token(), move |report| {
        tracing::debug!(sale = %report.sale_id, units = report.returned_units, "expired holds returned stock");
        if report.returned_units == 0 && report.restocked.is_empty() {
            return;
        }
        let state = announcing.clone();
        tokio::spawn(async move {
            if report.returned_units > 0 {
                announce_fresh_sale(&state, &report.room_id, &report.sale_id).await;
            }
            for product_id in &report.restocked {
                announce_product(&state, &report.room_id, product_id).await;
            }
        });
    })
}

/// Re-reads a sale and lets its room announce the difference (new stock),
/// whether or not this node has connections in it: after expired holds or a
/// cancelled order gave units back. Answers the sale's product, if the read
/// succeeded.
pub(super) async fn announce_fresh_sale(
    state: &AppState,
    room_id: &str,
    sale_id: &str,
) -> Option<String> {
    let now = clock::unix_millis();
    let (observed, product_id) = match state
        .sales_for(room_id)
        .get_sale(room_id, sale_id, now)
        .await
    {
        Ok(sale) => {
            let product_id = sale.product_id.clone();
            let store = state.rooms.store();
            (
                store.observe(room_id, RoomFact::SaleRead(sale)).await,
                Some(product_id),
            )
        }
        Err(error) => (Err(RoomError::Unavailable(error.to_string())), None),
    };
    log_unannounced(room_id, observed);
    product_id
}

/// Reads the sale store's count of a product and lets the room's catalog
/// follow it (`product_stock`, when it differs): after a sale carved its
/// units out or gave some back, or an order's came back. When this node
/// serves the room its announcer reads the count again too (see
/// [`Room::take_dirty_products`]): a read that raced another change is
/// put right.
pub(super) async fn announce_product(state: &AppState, room_id: &str, product_id: &str) {
    observe_product_stock(state, room_id, product_id).await;
    if let Some(room) = state.rooms.get_active(room_id) {
        room.mark_product_dirty(product_id);
    }
}

/// One read of a product's count, told to its room.
async fn observe_product_stock(state: &AppState, room_id: &str, product_id: &str) {
    let Some(stock) = read_product_stock(state, room_id, product_id).await else {
        return;
    };
    let fact = RoomFact::ProductStock {
        product_id: product_id.to_owned(),
        stock,
    };
    log_unannounced(room_id, state.rooms.store().observe(room_id, fact).await);
}

/// The sale store's count of a product: `None` when it keeps none yet (the
/// product was never on sale) or the read failed (logged; the announcer
/// reads it again).
async fn read_product_stock(state: &AppState, room_id: &str, product_id: &str) -> Option<u32> {
    match state
        .sales_for(room_id)
        .product_stock(room_id, product_id)
        .await
    {
        Ok(stock) => stock,
        Err(error) => {
            tracing::warn!(room = %room_id, product = %product_id, %error, "could not read a product's stock");
            None
        }
    }
}

/// After the room accepted a catalog change, the sale store's count
/// follows what the seller typed: she sets the units on hand outside any
/// flash sale.
pub async fn catalog_changed(state: &AppState, room_id: &str, command: &RoomCommand) {
    let RoomCommand::UpdateProduct {
        product_id,
        changes,
    } = command
    else {
        return;
    };
    let Some(units) = changes.stock else {
        return;
    };
    if let Err(error) = state
        .sales_for(room_id)
        .set_product_stock(room_id, product_id, units)
        .await
    {
        tracing::warn!(room = %room_id, product = %product_id, %error, "could not set a product's stock in the sale store");
    }
}

/// A change a room could not be told of stands; a room that ended or is
/// gone needs no telling, anything else is logged.
pub(super) fn log_unannounced(room_id: &str, observed: Result<(), RoomError>) {
    match observed {
        Ok(()) | Err(RoomError::Ended | RoomError::RoomNotFound) => {}
        Err(error) => {
            tracing::warn!(room = %room_id, %error, "could not announce a sale or order change")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn stock_is_announced_every_interval_up_to_the_frame_budget_then_by_the_rooms_size() {
        let rooms = Config::defaults().rooms;
        assert_eq!(rooms.sale_stock_interval_ms, 250);
        assert_eq!(rooms.sale_stock_frames_per_sec, 10_000);
        assert_eq!(stock_spacing(&rooms, 0), 250);
        assert_eq!(stock_spacing(&rooms, 2_500), 250);
        assert_eq!(stock_spacing(&rooms, 5_000), 500);
        assert_eq!(stock_spacing(&rooms, 10_000), 1_000);
        assert_eq!(stock_spacing(&rooms, 50_000), 5_000);
    }
}
