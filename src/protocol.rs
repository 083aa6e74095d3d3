//! The wire protocol: every JSON message a client may send and every event the
//! server may push, in one place.
//!
//! Frames are JSON text, internally tagged by `"type"` (snake_case). A client
//! request may carry an `id`; the server echoes it in the `ack` or `error`
//! that answers the request. Room events (chat, pins, counters, …) carry the
//! room's `seq`, a strictly increasing per-room number that a reconnecting
//! client sends back (`?last_seq=`) to receive what it missed.
//!
//! `docs/protocol.md` documents these types with examples; keep the two in
//! step. Nothing here knows about sockets or rooms: these are plain data.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::auth::Role;
pub use crate::clock::UnixMillis;

/// WebRTC signalling shapes live with the SFU.
pub use crate::media::{IceCandidate, IceServer, Target};
/// Flash-sale wire types live with the sale store, which owns their rules.
pub use crate::sale::{
    BuyOutcome, Carrier, Hold, Order, OrderLine, OrderStatus, PaymentMethod, SaleInfo, SaleState,
    Shipment, Shipping, Voucher,
};

/// Money is whole Vietnamese đồng (`crate::money`).
pub use crate::money::Vnd;

// ---------------------------------------------------------------------------
// Client → server
// ---------------------------------------------------------------------------

/// One frame from a client: an optional request id plus the message itself.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ClientFrame {
    /// Echoed in the `ack` or `error` that answers this frame, so a client can
    /// match replies to requests. Bounded in length by the reader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(flatten)]
    pub message: ClientMessage,
}

/// Everything a client may ask of its room.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Application-level keep-alive; answered by `pong`.
    Ping,
    /// Send a chat message to the room; with `reply_to` (the seller, a
    /// moderator, a trainer or an admin), an answer quoting that message.
    Chat {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<u64>,
    },
    /// A viewer opened a product's card (counted for the seller's
    /// click-through rate; answered only with an `ack` when it has an id).
    ViewProduct { product_id: String },
    /// Tap the heart button `count` times (1 when absent). Aggregated by the
    /// server and broadcast as counts at a fixed rate.
    Heart {
        #[serde(default = "one")]
        count: u32,
    },
    /// Seller: the room goes from `scheduled` to `live`.
    GoLive,
    /// Seller: end the live session; the room closes for everyone.
    EndLive,
    /// Seller: add a product to the room's catalog.
    AddProduct { product: NewProduct },
    /// Seller: change some fields of a product. Absent fields are unchanged.
    UpdateProduct {
        product_id: String,
        #[serde(flatten)]
        changes: ProductChanges,
    },
    /// Seller: remove a product from the catalog (unpins it if pinned).
    RemoveProduct { product_id: String },
    /// Seller or moderator: show this product on every viewer's screen.
    PinProduct { product_id: String },
    /// Seller or moderator: clear the pinned product.
    UnpinProduct,
    /// Seller or moderator: pin an announcement above the chat (1 to 200
    /// characters, trimmed), replacing the one pinned before.
    PinNote { text: String },
    /// Seller or moderator: take the pinned announcement down.
    UnpinNote,
    /// Moderator: remove a chat message from the room and its history.
    DeleteMessage { message_id: u64 },
    /// Moderator: the user may not chat for `minutes` minutes.
    MuteUser { user_id: String, minutes: u32 },
    /// Moderator: lift a mute early.
    UnmuteUser { user_id: String },
    /// Moderator: disconnect the user; the same identity cannot rejoin.
    BanUser { user_id: String },
    /// Seller, trainer or admin: lift a ban; the user may join again.
    UnbanUser { user_id: String },
    /// Moderator: minimum seconds between two messages of one user (0 = off).
    SetSlowMode { seconds: u32 },
    /// Moderator: replace the room's banned-words list.
    SetBannedWords { words: Vec<String> },
    /// Seller or moderator: start a flash sale of one catalog product.
    StartSale(StartSale),
    /// Seller or moderator: end the sale now. Existing holds may still be
    /// confirmed until their deadlines.
    EndSale { sale_id: String },
    /// Reserve units. The idempotency key makes retries safe: a repeated key
    /// never reserves twice.
    Buy {
        sale_id: String,
        quantity: u32,
        idempotency_key: String,
    },
    /// Turn one's own hold into an order, paid by `payment` (cash on
    /// delivery when absent).
    ConfirmHold {
        hold_id: String,
        shipping: Shipping,
        #[serde(default)]
        payment: PaymentMethod,
        /// A voucher to apply (typed, or claimed from a drop).
        #[serde(default)]
        voucher_code: Option<String>,
    },
    /// Put `quantity` units of a catalog product in one's shopping bag at its
    /// regular price: reserved from its stock at once, like a buy, until
    /// the hold's `expires_at` (answered by `bag_result`). The idempotency
    /// key makes retries safe.
    AddToBag {
        product_id: String,
        quantity: u32,
        idempotency_key: String,
    },
    /// Check one's bag holds out as one order (answered by
    /// `order_confirmed`): all of them or, on any refusal, none.
    CheckoutBag {
        hold_ids: Vec<String>,
        shipping: Shipping,
        #[serde(default)]
        payment: PaymentMethod,
        #[serde(default)]
        voucher_code: Option<String>,
    },
    /// Seller or moderator: open a drop voucher for claiming; the room hears
    /// `voucher_dropped`.
    DropVoucher { code: String },
    /// Claim a dropped voucher (the first `total_uses` to tap get it).
    ClaimVoucher { code: String },
    /// Give one's own hold back (a bag hold: take the line out of the bag).
    CancelHold { hold_id: String },
    /// Cancel one's own order: while it is `confirmed`, within
    /// `orders.buyer_cancel_secs` of placing it. Its units go back on sale.
    CancelOrder { order_id: String },
    /// Read one's own orders in the room again (answered by `my_orders`),
    /// e.g. after an `order_status` event named one of them.
    ListMyOrders,
    /// Seller: start (or replace) the room's stream with this SDP offer;
    /// answered by `publish_answer`.
    PublishOffer { sdp: String },
    /// Seller: stop the stream (viewers stay connected for a republish).
    Unpublish,
    /// Watch the stream; answered by `subscribe_offer`.
    Subscribe,
    /// The viewer's answer to `subscribe_offer`.
    SubscribeAnswer { sdp: String },
    /// A trickled ICE candidate for the publishing or the watching connection.
    IceCandidate {
        target: Target,
        candidate: IceCandidate,
    },
    /// Trainer or admin, practice rooms only: whisper to the trainee (1 to
    /// 300 characters). She alone (and the room's other hosts) hears it, as
    /// `coached`; the audience never does.
    Coach { text: String },
    /// Trainer or admin, practice rooms only: a canned nudge by its stable
    /// id (`crate::practice::coach::NUDGES`), told to the trainee in
    /// Vietnamese and English as `coached`.
    Nudge { nudge: String },
}

fn default_hold_secs() -> u32 {
    crate::sale::DEFAULT_HOLD_SECS
}

fn one() -> u32 {
    1
}

/// The message types a client may send, for telling `unknown_type` from
/// `bad_request` when a frame does not parse.
pub const CLIENT_MESSAGE_TYPES: &[&str] = &[
    "ping",
    "chat",
    "view_product",
    "heart",
    "go_live",
    "end_live",
    "add_product",
    "update_product",
    "remove_product",
    "pin_product",
    "unpin_product",
    "pin_note",
    "unpin_note",
    "delete_message",
    "mute_user",
    "unmute_user",
    "ban_user",
    "unban_user",
    "set_slow_mode",
    "set_banned_words",
    "start_sale",
    "end_sale",
    "buy",
    "confirm_hold",
    "add_to_bag",
    "checkout_bag",
    "cancel_hold",
    "cancel_order",
    "list_my_orders",
    "drop_voucher",
    "claim_voucher",
    "publish_offer",
    "unpublish",
    "subscribe",
    "subscribe_answer",
    "ice_candidate",
    "coach",
    "nudge",
];

/// The terms of a flash sale as the seller asks for it (`start_sale`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct StartSale {
    pub product_id: String,
    pub stock: u32,
    pub price_vnd: Vnd,
    pub per_buyer_limit: u32,
    /// 0 starts the sale at once; otherwise viewers see a countdown.
    #[serde(default)]
    pub starts_in_secs: u32,
    pub duration_secs: u32,
    /// How long a buyer's hold lasts before its units return.
    #[serde(default = "default_hold_secs")]
    pub hold_secs: u32,
}

/// A product as the seller first describes it; the server assigns its id.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct NewProduct {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub price_vnd: Vnd,
    #[serde(default)]
    pub stock: u32,
    #[serde(default)]
    pub image_url: Option<String>,
    /// Most units of it one buyer may have in her bag and bag orders (and
    /// one shipping phone may order from the bag); absent: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_buyer_limit: Option<u32>,
}

/// Fields of a product that `update_product` may change.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct ProductChanges {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_vnd: Option<Vnd>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// 0 removes the limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_buyer_limit: Option<u32>,
}

// ---------------------------------------------------------------------------
// Shared data
// ---------------------------------------------------------------------------

/// Where a room is in its life.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RoomStatus {
    Scheduled,
    Live,
    Ended,
}

/// A product in a room's catalog.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Product {
    pub id: String,
    pub name: String,
    pub description: String,
    pub price_vnd: Vnd,
    pub stock: u32,
    pub image_url: Option<String>,
    /// Most units one buyer may take through the bag; absent: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_buyer_limit: Option<u32>,
}

/// One chat message as shown to everyone.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ChatMessage {
    /// Unique within the room; moderators delete by it.
    pub id: u64,
    pub user_id: String,
    pub name: String,
    pub role: Role,
    pub text: String,
    pub sent_at: UnixMillis,
    /// The message this one answers, quoted as it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<ChatQuote>,
}

/// A chat message as an answer quotes it.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ChatQuote {
    pub id: u64,
    pub user_id: String,
    pub name: String,
    pub text: String,
}

/// The public description of a room (HTTP API and snapshots).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct RoomInfo {
    pub id: String,
    pub title: String,
    pub seller_name: String,
    pub status: RoomStatus,
    pub viewer_count: u64,
    pub pinned_product_id: Option<String>,
    pub created_at: UnixMillis,
    /// A practice room ("Phòng luyện tập") of a trainer's class: its sales
    /// and orders are practice, never real. Absent in data written before
    /// practice rooms existed: false.
    #[serde(default)]
    pub practice: bool,
    /// When the seller plans to go live (`PATCH /api/rooms/{id}`), so the
    /// landing page and the room page can count down. Absent: not planned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<UnixMillis>,
    /// The room's poster: an `https://` URL or one of our own `/photos/…`
    /// paths (shown behind the countdown, and as the shared link's image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cover_url: Option<String>,
}

/// Moderation settings everyone may see (so a client can show "slow mode").
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct ChatSettings {
    pub slow_mode_seconds: u32,
}

/// Who the connection is, as the server understood its token.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Me {
    pub user_id: String,
    pub name: String,
    pub role: Role,
}

/// Everything a client needs to draw the room from scratch.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Snapshot {
    /// The seq of the last event included in this snapshot; events that
    /// follow carry larger numbers.
    pub seq: u64,
    pub room: RoomInfo,
    pub products: Vec<Product>,
    pub pinned_product: Option<Product>,
    /// The most recent chat messages, oldest first.
    pub chat: Vec<ChatMessage>,
    pub settings: ChatSettings,
    pub hearts_total: u64,
    /// The room's current (or last) flash sale.
    pub sale: Option<SaleInfo>,
    /// Is the seller's video being forwarded? (Subscribe when it is.)
    pub stream_live: bool,
    /// STUN/TURN servers for the client's `RTCPeerConnection`.
    pub ice_servers: Vec<IceServer>,
    pub me: Me,
    /// The node serving this connection (`cluster.node_id`): what support
    /// asks for, and how a test sees where a load balancer put a client.
    pub node: String,
    /// Who is banned from the room; only in snapshots for roles that
    /// moderate (the studio shows the list with an undo).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banned: Option<Vec<BannedUser>>,
    /// The announcement pinned above the chat; absent when none is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned_note: Option<PinnedNote>,
}

/// The seller's announcement pinned above the chat ("Freeship đơn từ 300k").
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct PinnedNote {
    /// As posted: trimmed, 1 to 200 characters. Plain text: clients render
    /// it as text, never as HTML.
    pub text: String,
    /// When it was pinned (unix ms, the server's clock).
    pub pinned_at: UnixMillis,
    /// The display name of who pinned it (the seller or a moderator).
    pub by: String,
}

/// A banned identity, as the studio lists it.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct BannedUser {
    pub user_id: String,
    /// The name the user last had in this room, when the room saw them.
    pub name: Option<String>,
}

// ---------------------------------------------------------------------------
// Serialized frames
// ---------------------------------------------------------------------------

/// One serialized protocol value: UTF-8 JSON text in a shared buffer.
///
/// A room event is serialized once into a `JsonText` and the same bytes go to
/// every recipient (cloning is a reference-count bump). The only ways to make
/// one are [`to_json`] and [`JsonText::from_static`], both from `str`, so the
/// bytes are always valid UTF-8: the transport may hand them to a WebSocket
/// text frame without checking again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonText(Bytes);

impl JsonText {
    pub const fn from_static(json: &'static str) -> JsonText {
        JsonText(Bytes::from_static(json.as_bytes()))
    }

    pub fn as_str(&self) -> &str {
        // Always valid (see the type's docs); the fallback is unreachable.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The UTF-8 bytes, shared.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Serialize a protocol value. Our types always serialize (no maps with
/// non-string keys, no failing `Serialize` impls), so a failure is a bug
/// worth a loud log, answered with an `internal` error frame.
pub fn to_json<T: Serialize>(value: &T) -> JsonText {
    match serde_json::to_string(value) {
        Ok(json) => JsonText(Bytes::from(json)),
        Err(error) => {
            tracing::error!(%error, "could not serialize a protocol value");
            JsonText::from_static(
                r#"{"type":"error","code":"internal","message":"serialization failed"}"#,
            )
        }
    }
}

// ---------------------------------------------------------------------------
// Server → client
// ---------------------------------------------------------------------------

/// An event that happened in a room, sent to every connection in it.
/// Serialized once per event with its `seq` and shared by all recipients.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RoomEvent {
    Chat {
        message: ChatMessage,
    },
    MessageDeleted {
        message_id: u64,
    },
    /// Hearts tapped since the previous `hearts` event, and the room total.
    Hearts {
        count: u64,
        total: u64,
    },
    ViewerCount {
        count: u64,
    },
    RoomStatus {
        status: RoomStatus,
    },
    /// The room has ended; the server closes every connection after this.
    RoomClosed {
        reason: String,
    },
    ProductUpserted {
        product: Product,
    },
    ProductRemoved {
        product_id: String,
    },
    ProductPinned {
        product: Product,
    },
    ProductUnpinned,
    /// An announcement was pinned above the chat (replacing any before it).
    NotePinned {
        note: PinnedNote,
    },
    /// The pinned announcement was taken down.
    NoteUnpinned,
    UserMuted {
        user_id: String,
        until: UnixMillis,
    },
    UserUnmuted {
        user_id: String,
    },
    UserBanned {
        user_id: String,
        /// The name the user last had in this room, when the room saw them.
        name: Option<String>,
    },
    UserUnbanned {
        user_id: String,
    },
    SettingsChanged {
        settings: ChatSettings,
    },
    /// A sale was created, started, sold out, came back, or ended.
    SaleUpdated {
        sale: SaleInfo,
        /// The product's own stock (outside the sale) as of this change,
        /// when the change moved it (a start carved the sale's units out, an
        /// end gave the unsold back): told here rather than in a separate
        /// `product_stock` to every connection of a crowded room.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        product_stock: Option<u32>,
    },
    /// Remaining stock, at most a few times per second.
    SaleStock {
        sale_id: String,
        remaining: u32,
    },
    /// Someone confirmed an order: social proof. Never phone or address.
    SalePurchase {
        sale_id: String,
        buyer_name: String,
        quantity: u32,
    },
    /// The seller's video started (subscribe now) or stopped.
    StreamState {
        live: bool,
    },
    /// A product's stock changed outside a catalog edit: a flash sale took
    /// its units, or gave back what it did not sell.
    ProductStock {
        product_id: String,
        stock: u32,
    },
    /// The seller dropped a voucher: tap `claim_voucher` to get it (the
    /// first `total_uses` do).
    VoucherDropped {
        voucher: Voucher,
    },
    /// An order of this room changed status. It names the order only by its
    /// `status_tag` (a random tag in the order, which only its buyer and the
    /// seller see), so the room learns nothing about whose order it is.
    OrderStatus {
        status_tag: String,
        status: OrderStatus,
    },
    /// The seller changed the room's title, planned start or cover
    /// (`PATCH /api/rooms/{id}`): the room as it now is, so open pages redraw.
    RoomUpdated {
        room: RoomInfo,
    },
}

/// A room event with its sequence number, as it goes on the wire.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct SequencedEvent {
    pub seq: u64,
    #[serde(flatten)]
    pub event: RoomEvent,
}

/// A message for one connection only.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DirectEvent {
    /// First frame after joining (or after a resume that could not be served
    /// from the replay buffer).
    Snapshot(Box<Snapshot>),
    /// Right after the snapshot (or the resumed events): the connecting
    /// user's open holds in the room's latest sale, so a reloaded page shows
    /// its hold card and countdown again.
    MyHolds {
        holds: Vec<Hold>,
    },
    /// Right after `my_holds`: the connecting user's orders in the room,
    /// oldest first, so a reloaded page shows its order again.
    MyOrders {
        /// Present when this answers a `list_my_orders` with an id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        orders: Vec<Order>,
    },
    /// First frame after a successful resume; the missed room events follow,
    /// `from_seq` to `to_seq` inclusive (none when `from_seq > to_seq`).
    Resumed {
        from_seq: u64,
        to_seq: u64,
        me: Me,
        /// The node serving this connection, as in the snapshot.
        node: String,
    },
    /// The request with this id succeeded.
    Ack {
        id: String,
    },
    /// The request failed, or the server rejected a frame.
    Error(ErrorEvent),
    Pong,
    /// The server is shutting down; reconnect (with `last_seq`) shortly.
    ServerShutdown,
    /// The answer to `buy`, whatever the outcome.
    BuyResult {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        sale_id: String,
        outcome: BuyOutcome,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hold: Option<Hold>,
        /// With `busy`: wait this long, then retry with the same key.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
    /// The answer to `add_to_bag`, whatever the outcome: `reserved` or
    /// `duplicate` with the bag hold (its `product_id` and
    /// `unit_price_vnd` set), `sold_out`, `limit_reached`, `unavailable`.
    BagResult {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        product_id: String,
        outcome: BuyOutcome,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hold: Option<Hold>,
    },
    /// The answer to `confirm_hold` and `checkout_bag`: the order, with the
    /// buyer's shipping details.
    OrderConfirmed {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        order: Order,
    },
    /// The answer to `claim_voucher`: the voucher is yours to use at checkout.
    VoucherClaimed {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        voucher: Voucher,
    },
    /// The answer to `cancel_order`: the order as it now stands.
    OrderUpdated {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        order: Order,
    },
    /// The answer to `cancel_hold`.
    HoldCancelled {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        hold_id: String,
    },
    /// The server's answer to `publish_offer` (with the request's id, if it had one).
    PublishAnswer {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        sdp: String,
    },
    /// The server's offer after `subscribe` (with the request's id, if it
    /// had one); reply with `subscribe_answer`.
    SubscribeOffer {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        sdp: String,
    },
    /// A trickled ICE candidate from the server.
    IceCandidate {
        target: Target,
        candidate: IceCandidate,
    },
    /// The server dropped this media connection (ICE failed): publish or
    /// subscribe again.
    MediaFailed {
        target: Target,
    },
    /// Practice rooms, to the room's hosts only (the trainee, trainers):
    /// coaching the audience never sees — a trainer's whisper or nudge, or
    /// the automatic prompter (`by` = `auto`).
    Coached {
        /// The trainer's display name, or `auto` for the prompter.
        by: String,
        /// `whisper`, `nudge`, or the prompter's reason
        /// (`question_waiting`, `viewers_dropping`, `silent`).
        kind: String,
        /// Vietnamese: what the trainee reads.
        text: String,
        /// The English of a nudge or a prompt (a whisper has none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text_en: Option<String>,
        /// The nudge's stable id, for `kind` = `nudge`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        nudge: Option<String>,
        at: UnixMillis,
    },
    /// The compliance checker found words of a host's text that the law
    /// forbids or restricts (`crate::compliance`). Sent only to the room's
    /// hosts (seller, trainer, admin), never to viewers or moderators.
    ComplianceFlag {
        rule_id: String,
        severity: ComplianceSeverity,
        source: ComplianceSource,
        /// The words that matched, as written.
        excerpt: String,
        citation: ComplianceCitation,
        /// A wording that says the same without breaking the rule.
        suggestion: String,
        at: UnixMillis,
    },
    /// Practice rooms, to the room's hosts only (the backstage): a warning
    /// "from the platform" that a scenario injected. Never sent to viewers.
    PlatformWarning {
        scenario_id: String,
        text: String,
    },
}

/// How bad a compliance hit is: `serious` caps a practice scorecard,
/// `warning` costs points.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ComplianceSeverity {
    Serious,
    Warning,
}

impl ComplianceSeverity {
    /// As on the wire and in the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            ComplianceSeverity::Serious => "serious",
            ComplianceSeverity::Warning => "warning",
        }
    }
}

/// Where a checked text came from.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ComplianceSource {
    /// A host's chat message or reply.
    Chat,
    /// A product's name or description, as added or updated.
    Product,
    /// The announcement a host pinned above the chat (`pin_note`).
    PinnedNote,
    /// A prepared script pasted into `POST /api/compliance/check`.
    Script,
}

impl ComplianceSource {
    /// As on the wire and in the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            ComplianceSource::Chat => "chat",
            ComplianceSource::Product => "product",
            ComplianceSource::PinnedNote => "pinned_note",
            ComplianceSource::Script => "script",
        }
    }
}

/// The legal basis of a compliance rule, in Vietnamese.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ComplianceCitation {
    /// The law or decree, with its number: "Luật Quảng cáo 2012 (16/2012/QH13)".
    pub law: String,
    /// "Điều 8".
    pub article: String,
    /// "khoản 11"; empty when the article as a whole applies.
    #[serde(default)]
    pub clause: String,
    /// What the provision says, shortly.
    pub summary: String,
    /// Doubts about the citation (an unverified clause number, an amendment).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// A typed error: `code` is stable and meant for programs, `message` for people.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ErrorEvent {
    /// The id of the request that failed, when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub code: ErrorCode,
    pub message: String,
    /// For `rate_limited` and `slow_mode`: when to try again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

/// Stable error codes, shared by WebSocket `error` events and HTTP bodies.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not valid JSON, or a field is missing or of the wrong type.
    BadRequest,
    /// The frame's `type` is not one the server knows.
    UnknownType,
    /// A binary frame where only text is accepted.
    UnsupportedFrame,
    /// The token is missing, invalid or expired (HTTP 401).
    Unauthorized,
    /// The role does not allow this action.
    Forbidden,
    RoomNotFound,
    ProductNotFound,
    MessageNotFound,
    /// The room has ended; it accepts no joins or actions.
    RoomEnded,
    /// The action does not fit the room's current status (e.g. going live twice).
    InvalidState,
    /// A field is present but its value is not acceptable (empty text, …).
    InvalidValue,
    Muted,
    Banned,
    SlowMode,
    BannedWord,
    RateLimited,
    /// A room with this id exists already.
    AlreadyExists,
    SaleNotFound,
    /// No such active hold (never made, already cancelled or ordered elsewhere).
    HoldNotFound,
    /// The hold's deadline passed; its units went back on sale.
    HoldExpired,
    /// Confirming would take this phone number past the sale's per-buyer
    /// limit (orders from any device count).
    LimitReached,
    /// Shipping name, phone or address is missing or malformed.
    InvalidShipping,
    /// No such order in this room (or, on the order page, no order with
    /// this code and phone).
    OrderNotFound,
    /// The order's status does not allow this change (packing an unpaid
    /// transfer, cancelling a shipped order, …).
    InvalidTransition,
    /// The buyer may cancel only a `confirmed` order within
    /// `orders.buyer_cancel_secs` of placing it; after that, the seller can.
    CancelWindowClosed,
    /// `start_sale` asks for more units than the product has on hand.
    InsufficientStock,
    /// No voucher with this code in this room.
    VoucherNotFound,
    /// The voucher is not valid now (before its start or after its end).
    VoucherExpired,
    /// Every use (or every claim of a dropped voucher) is taken.
    VoucherUsedUp,
    /// You (or your shipping phone) used this voucher already.
    VoucherAlreadyUsed,
    /// A dropped voucher must be claimed before it is used.
    VoucherNotClaimed,
    /// The order is under the voucher's minimum.
    VoucherMinOrder,
    /// `subscribe` while the seller's stream is not live.
    MediaNotLive,
    /// The SDP could not be parsed or applied.
    InvalidSdp,
    /// The offer has no video codec the server forwards (VP8 or H.264).
    UnsupportedCodec,
    /// No media connection to apply this to (e.g. an answer before `subscribe`).
    MediaNoSession,
    InvalidCandidate,
    /// The media connection failed on the server.
    MediaFailed,
    /// The room's seller has not given a bank account, so an order can be
    /// paid on delivery only (HTTP: the seller's payment settings and an
    /// order's VietQR code).
    PaymentNotSet,
    /// A webhook URL whose host is, or resolves to, a loopback, private or
    /// otherwise non-public address (HTTP only).
    WebhookTargetForbidden,
    /// The room has no webhook (HTTP only).
    WebhookNotFound,
    /// No webhook delivery with this event id in this room (HTTP only).
    DeliveryNotFound,
    /// Coaching (`coach`, `nudge`) is for practice rooms only.
    NotPracticeRoom,
    /// No practice class with this id that this trainer runs (HTTP only).
    ClassNotFound,
    /// No practice scenario has this id (HTTP only).
    ScenarioNotFound,
    /// A calendar event for a room with no planned start (HTTP only).
    NotScheduled,
    /// The server or its store cannot serve this now; safe to retry.
    Unavailable,
    Internal,
    // Product photos (HTTP only; docs/protocol.md, "Product photos").
    /// The upload is larger than `photos.max_bytes` (HTTP 413).
    PhotoTooLarge,
    /// Not a JPEG, PNG or WebP: by its `Content-Type` or by its bytes
    /// (SVG, HTML, text renamed `.jpg`…) (HTTP 415).
    UnsupportedImage,
    /// Its width, height or decoded size is beyond what the server decodes
    /// (a decompression bomb) (HTTP 422).
    ImageTooLarge,
    /// It starts like a JPEG, PNG or WebP but does not decode (HTTP 422).
    InvalidImage,
    /// The room stores as many photos as `photos.per_room` allows (HTTP 409).
    PhotoQuotaReached,
    /// No photo by this name (HTTP 404).
    PhotoNotFound,
}

impl ErrorCode {
    /// The code as it appears on the wire and in metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::UnsupportedFrame => "unsupported_frame",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::RoomNotFound => "room_not_found",
            ErrorCode::ProductNotFound => "product_not_found",
            ErrorCode::MessageNotFound => "message_not_found",
            ErrorCode::RoomEnded => "room_ended",
            ErrorCode::InvalidState => "invalid_state",
            ErrorCode::InvalidValue => "invalid_value",
            ErrorCode::Muted => "muted",
            ErrorCode::Banned => "banned",
            ErrorCode::SlowMode => "slow_mode",
            ErrorCode::BannedWord => "banned_word",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::AlreadyExists => "already_exists",
            ErrorCode::SaleNotFound => "sale_not_found",
            ErrorCode::HoldNotFound => "hold_not_found",
            ErrorCode::HoldExpired => "hold_expired",
            ErrorCode::LimitReached => "limit_reached",
            ErrorCode::InvalidShipping => "invalid_shipping",
            ErrorCode::OrderNotFound => "order_not_found",
            ErrorCode::InvalidTransition => "invalid_transition",
            ErrorCode::CancelWindowClosed => "cancel_window_closed",
            ErrorCode::InsufficientStock => "insufficient_stock",
            ErrorCode::VoucherNotFound => "voucher_not_found",
            ErrorCode::VoucherExpired => "voucher_expired",
            ErrorCode::VoucherUsedUp => "voucher_used_up",
            ErrorCode::VoucherAlreadyUsed => "voucher_already_used",
            ErrorCode::VoucherNotClaimed => "voucher_not_claimed",
            ErrorCode::VoucherMinOrder => "voucher_min_order",
            ErrorCode::MediaNotLive => "media_not_live",
            ErrorCode::InvalidSdp => "invalid_sdp",
            ErrorCode::UnsupportedCodec => "unsupported_codec",
            ErrorCode::MediaNoSession => "media_no_session",
            ErrorCode::InvalidCandidate => "invalid_candidate",
            ErrorCode::MediaFailed => "media_failed",
            ErrorCode::PaymentNotSet => "payment_not_set",
            ErrorCode::WebhookTargetForbidden => "webhook_target_forbidden",
            ErrorCode::WebhookNotFound => "webhook_not_found",
            ErrorCode::DeliveryNotFound => "delivery_not_found",
            ErrorCode::NotPracticeRoom => "not_practice_room",
            ErrorCode::ClassNotFound => "class_not_found",
            ErrorCode::ScenarioNotFound => "scenario_not_found",
            ErrorCode::NotScheduled => "not_scheduled",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
            ErrorCode::PhotoTooLarge => "photo_too_large",
            ErrorCode::UnsupportedImage => "unsupported_image",
            ErrorCode::ImageTooLarge => "image_too_large",
            ErrorCode::InvalidImage => "invalid_image",
            ErrorCode::PhotoQuotaReached => "photo_quota_reached",
            ErrorCode::PhotoNotFound => "photo_not_found",
        }
    }
}

/// WebSocket close codes the server uses, with the reason text it sends.
pub mod close {
    /// The server is shutting down, or the client stopped answering pings
    /// (RFC 6455 "going away").
    pub const GOING_AWAY: u16 = 1001;
    /// A frame broke RFC 6455 (an unmasked client frame, a fragmented control
    /// frame, …) (RFC 6455 "protocol error").
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A text frame was not valid UTF-8 (RFC 6455 "invalid frame payload data").
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// A frame, or a message of several fragments, was larger than
    /// `server.max_frame_bytes` (RFC 6455 "message too big").
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// The room ended.
    pub const ROOM_CLOSED: u16 = 4000;
    /// The user was banned from the room.
    pub const BANNED: u16 = 4003;
    /// The client fell too far behind the room's events; reconnect with
    /// `last_seq` to resume.
    pub const SLOW_CONSUMER: u16 = 4008;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_client_message_type_is_listed() {
        let samples = [
            r#"{"type":"ping"}"#,
            r#"{"type":"chat","text":"x"}"#,
            r#"{"type":"view_product","product_id":"p1"}"#,
            r#"{"type":"heart"}"#,
            r#"{"type":"go_live"}"#,
            r#"{"type":"end_live"}"#,
            r#"{"type":"add_product","product":{"name":"n","price_vnd":1}}"#,
            r#"{"type":"update_product","product_id":"p"}"#,
            r#"{"type":"remove_product","product_id":"p"}"#,
            r#"{"type":"pin_product","product_id":"p"}"#,
            r#"{"type":"unpin_product"}"#,
            r#"{"type":"pin_note","text":"Freeship đơn từ 300k"}"#,
            r#"{"type":"unpin_note"}"#,
            r#"{"type":"delete_message","message_id":1}"#,
            r#"{"type":"mute_user","user_id":"u","minutes":1}"#,
            r#"{"type":"unmute_user","user_id":"u"}"#,
            r#"{"type":"ban_user","user_id":"u"}"#,
            r#"{"type":"unban_user","user_id":"u"}"#,
            r#"{"type":"set_slow_mode","seconds":1}"#,
            r#"{"type":"set_banned_words","words":[]}"#,
            r#"{"type":"start_sale","product_id":"p1","stock":5,"price_vnd":1,"per_buyer_limit":1,"duration_secs":60}"#,
            r#"{"type":"end_sale","sale_id":"s"}"#,
            r#"{"type":"buy","sale_id":"s","quantity":1,"idempotency_key":"k1234567"}"#,
            r#"{"type":"confirm_hold","hold_id":"h","shipping":{"name":"n","phone":"p","address":"a"}}"#,
            r#"{"type":"add_to_bag","product_id":"p1","quantity":1,"idempotency_key":"k1234567"}"#,
            r#"{"type":"checkout_bag","hold_ids":["bag-01"],"shipping":{"name":"n","phone":"p","address":"a"}}"#,
            r#"{"type":"cancel_hold","hold_id":"h"}"#,
            r#"{"type":"cancel_order","order_id":"o"}"#,
            r#"{"type":"list_my_orders"}"#,
            r#"{"type":"drop_voucher","code":"TRA10"}"#,
            r#"{"type":"claim_voucher","code":"TRA10"}"#,
            r#"{"type":"publish_offer","sdp":"v=0"}"#,
            r#"{"type":"unpublish"}"#,
            r#"{"type":"subscribe"}"#,
            r#"{"type":"subscribe_answer","sdp":"v=0"}"#,
            r#"{"type":"ice_candidate","target":"publish","candidate":{"candidate":"c","sdpMid":"0","sdpMLineIndex":0}}"#,
            r#"{"type":"coach","text":"Chào khách đi em"}"#,
            r#"{"type":"nudge","nudge":"smile_greet"}"#,
        ];
        assert_eq!(samples.len(), CLIENT_MESSAGE_TYPES.len());
        for (sample, name) in samples.iter().zip(CLIENT_MESSAGE_TYPES) {
            let frame: ClientFrame = serde_json::from_str(sample).unwrap();
            let back = serde_json::to_value(&frame).unwrap();
            assert_eq!(back["type"], *name);
        }
    }

    #[test]
    fn request_id_is_optional_and_kept() {
        let frame: ClientFrame =
            serde_json::from_str(r#"{"id":"r1","type":"chat","text":"chào"}"#).unwrap();
        assert_eq!(frame.id.as_deref(), Some("r1"));
        assert_eq!(
            frame.message,
            ClientMessage::Chat {
                text: "chào".into(),
                reply_to: None,
            }
        );
    }

    #[test]
    fn heart_count_defaults_to_one() {
        let frame: ClientFrame = serde_json::from_str(r#"{"type":"heart"}"#).unwrap();
        assert_eq!(frame.message, ClientMessage::Heart { count: 1 });
    }

    #[test]
    fn room_event_carries_seq_beside_its_fields() {
        let json = serde_json::to_string(&SequencedEvent {
            seq: 7,
            event: RoomEvent::ViewerCount { count: 3 },
        })
        .unwrap();
        assert_eq!(json, r#"{"seq":7,"type":"viewer_count","count":3}"#);
    }

    #[test]
    fn error_code_strings_match_serde() {
        for code in [
            ErrorCode::BadRequest,
            ErrorCode::RateLimited,
            ErrorCode::RoomNotFound,
            ErrorCode::HoldExpired,
            ErrorCode::LimitReached,
            ErrorCode::InvalidShipping,
            ErrorCode::OrderNotFound,
            ErrorCode::PaymentNotSet,
            ErrorCode::NotPracticeRoom,
            ErrorCode::ClassNotFound,
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
    }
}
