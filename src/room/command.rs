//! What may change a room: a client's [`RoomCommand`], and a [`RoomFact`]
//! reported by another domain (the sale store, the SFU).
//!
//! These are domain types, not wire types: the service layer turns a
//! client's frame into a `RoomCommand` once it has authorised the actor's
//! role (`server/command.rs`), so the room never sees the messages that are
//! not its business. Rules that depend on the room's data (who outranks
//! whom, what exists, what the room's status allows) are checked by the room.

use crate::protocol::{NewProduct, OrderStatus, ProductChanges, SaleInfo, Voucher};

use super::schedule::CheckedChanges;

/// A request to the room from someone in it.
#[derive(Debug, Clone, PartialEq)]
pub enum RoomCommand {
    Chat {
        text: String,
        /// The message this one answers (authorised by role beforehand).
        reply_to: Option<u64>,
    },
    GoLive,
    EndLive,
    AddProduct {
        product: NewProduct,
    },
    UpdateProduct {
        product_id: String,
        changes: ProductChanges,
    },
    RemoveProduct {
        product_id: String,
    },
    PinProduct {
        product_id: String,
    },
    UnpinProduct,
    /// Pin an announcement above the chat (`note.rs` checks the text).
    PinNote {
        text: String,
    },
    UnpinNote,
    DeleteMessage {
        message_id: u64,
    },
    MuteUser {
        user_id: String,
        minutes: u32,
    },
    UnmuteUser {
        user_id: String,
    },
    BanUser {
        user_id: String,
    },
    UnbanUser {
        user_id: String,
    },
    SetSlowMode {
        seconds: u32,
    },
    SetBannedWords {
        words: Vec<String>,
    },
    /// The seller changes the room's title, planned start or cover
    /// (`PATCH /api/rooms/{id}`; checked by `schedule::check`, authorised
    /// by the service layer as the room's seller or an admin).
    UpdateRoom {
        changes: CheckedChanges,
    },
}

/// Something another domain did that the room announces to everyone in it.
#[derive(Debug, Clone, PartialEq)]
pub enum RoomFact {
    /// A flash sale was created or ended: it becomes the room's current
    /// sale and is announced (`sale_updated`).
    SaleChanged {
        sale: SaleInfo,
        /// The sale store's count of the sale's product just after the
        /// change (a start carved the units out, an end gave the unsold
        /// back), when it was read: the catalog copy follows it, as for
        /// [`RoomFact::ProductStock`], but it is told inside the
        /// `sale_updated` rather than as a second event to everyone.
        /// `None` (the read failed) leaves the catalog to a later
        /// `ProductStock`.
        product_stock: Option<u32>,
    },
    /// A fresh read of the current sale: the room announces what changed
    /// since it last told everyone (`sale_updated` or `sale_stock`), if
    /// anything did. A read of an older sale is ignored.
    SaleRead(SaleInfo),
    /// A buyer's hold just became an order (social proof: `sale_purchase`).
    OrderPlaced {
        sale_id: String,
        buyer_name: String,
        quantity: u32,
    },
    /// The sale store's count of a product (a flash sale carved its units
    /// out, or gave back what was left): the room's catalog copy follows it
    /// (`product_stock`) when it differs.
    ProductStock { product_id: String, stock: u32 },
    /// The seller dropped a voucher (`voucher_dropped`).
    VoucherDropped(Voucher),
    /// An order changed status (`order_status`, naming it by its tag).
    OrderStatus {
        status_tag: String,
        status: OrderStatus,
    },
    /// The seller's video started or stopped reaching the SFU.
    StreamLive(bool),
}
