//! From a client's frame to a routed, authorised command.
//!
//! [`route`] is the one exhaustive `match` over [`ClientMessage`]: each
//! message becomes exactly one [`Command`] — answered by the connection
//! (ping, hearts), the room ([`RoomCommand`]), the sale service
//! ([`SaleCommand`]) or the media service ([`MediaCommand`]) — and names the
//! [`Action`] its sender's role must allow. Authorisation happens here, once,
//! for every message; a message type added to the protocol does not compile
//! until it is routed and authorised. (Rules that depend on a target — the
//! rank of whom a moderator acts on, whose hold a buyer confirms — belong to
//! the room and the sale store, which know the target.)

use crate::auth::Action;
use crate::media::{IceCandidate, Target};
use crate::protocol::{ClientMessage, ErrorCode, StartSale};
use crate::room::{Actor, RoomCommand, RoomError};
use crate::sale::Checkout;

use super::refusal::Refusal;

/// Most hearts one `heart` message may carry.
pub const MAX_HEARTS_PER_MESSAGE: u32 = 100;

/// A client's request, routed to what answers it.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Answered with `pong` by the connection.
    Ping,
    /// Counted by the room (1..=[`MAX_HEARTS_PER_MESSAGE`]).
    Heart(u32),
    /// A product card opened: recorded in the journal.
    ViewProduct(String),
    Room(RoomCommand),
    Sale(SaleCommand),
    Media(MediaCommand),
    /// Coaching in a practice room, for `server/practice.rs`.
    Coach(CoachCommand),
}

/// A trainer's coaching request (practice rooms only: checked by
/// `server/practice.rs`, which knows the room).
#[derive(Debug, Clone, PartialEq)]
pub enum CoachCommand {
    Whisper { text: String },
    Nudge { nudge: String },
}

/// A flash-sale or shopping-bag request, for `server/sales.rs`.
#[derive(Debug, Clone, PartialEq)]
pub enum SaleCommand {
    Start(StartSale),
    End {
        sale_id: String,
    },
    Buy {
        sale_id: String,
        quantity: u32,
        idempotency_key: String,
    },
    Confirm {
        hold_id: String,
        checkout: Checkout,
    },
    DropVoucher {
        code: String,
    },
    ClaimVoucher {
        code: String,
    },
    AddToBag {
        product_id: String,
        quantity: u32,
        idempotency_key: String,
    },
    CheckoutBag {
        hold_ids: Vec<String>,
        checkout: Checkout,
    },
    Cancel {
        hold_id: String,
    },
    CancelOrder {
        order_id: String,
    },
    MyOrders,
}

/// A WebRTC signalling request, for `server/media.rs`.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaCommand {
    Publish {
        sdp: String,
    },
    Unpublish,
    Subscribe,
    SubscribeAnswer {
        sdp: String,
    },
    Candidate {
        target: Target,
        candidate: IceCandidate,
    },
}

impl Command {
    /// Which per-connection rate limit this command counts against.
    pub fn bucket(&self) -> Bucket {
        match self {
            Command::Ping => Bucket::Pings,
            Command::Heart(_) => Bucket::Hearts,
            Command::Room(RoomCommand::Chat { .. }) => Bucket::Chat,
            Command::Room(_)
            | Command::Sale(_)
            | Command::Media(_)
            | Command::ViewProduct(_)
            | Command::Coach(_) => Bucket::Actions,
        }
    }
}

/// The per-connection rate limits (`[limits]` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Pings,
    Hearts,
    Chat,
    Actions,
}

/// Route `message` from `actor`: the command, or why it is refused.
pub fn route(message: ClientMessage, actor: &Actor) -> Result<Command, Refusal> {
    use ClientMessage as M;
    use RoomCommand as R;
    let (action, command) = match message {
        M::Ping => return Ok(Command::Ping),
        M::Heart { count } => {
            if count == 0 || count > MAX_HEARTS_PER_MESSAGE {
                let text = format!("count must be between 1 and {MAX_HEARTS_PER_MESSAGE}");
                return Err(Refusal::new(ErrorCode::InvalidValue, text));
            }
            (Action::Chat, Command::Heart(count))
        }
        M::Chat { text, reply_to } => {
            let action = match reply_to {
                Some(_) => Action::Answer,
                None => Action::Chat,
            };
            (action, Command::Room(R::Chat { text, reply_to }))
        }
        M::ViewProduct { product_id } => (Action::Watch, Command::ViewProduct(product_id)),
        M::GoLive => (Action::HostLive, Command::Room(R::GoLive)),
        M::EndLive => (Action::HostLive, Command::Room(R::EndLive)),
        M::AddProduct { product } => (
            Action::ManageProducts,
            Command::Room(R::AddProduct { product }),
        ),
        M::UpdateProduct {
            product_id,
            changes,
        } => (
            Action::ManageProducts,
            Command::Room(R::UpdateProduct {
                product_id,
                changes,
            }),
        ),
        M::RemoveProduct { product_id } => (
            Action::ManageProducts,
            Command::Room(R::RemoveProduct { product_id }),
        ),
        M::PinProduct { product_id } => (
            Action::PinProduct,
            Command::Room(R::PinProduct { product_id }),
        ),
        M::UnpinProduct => (Action::PinProduct, Command::Room(R::UnpinProduct)),
        // The roles that pin products pin the announcement too (`room::note`).
        M::PinNote { text } => (Action::PinProduct, Command::Room(R::PinNote { text })),
        M::UnpinNote => (Action::PinProduct, Command::Room(R::UnpinNote)),
        M::DeleteMessage { message_id } => (
            Action::Moderate,
            Command::Room(R::DeleteMessage { message_id }),
        ),
        M::MuteUser { user_id, minutes } => (
            Action::Moderate,
            Command::Room(R::MuteUser { user_id, minutes }),
        ),
        M::UnmuteUser { user_id } => (Action::Moderate, Command::Room(R::UnmuteUser { user_id })),
        M::BanUser { user_id } => (Action::Moderate, Command::Room(R::BanUser { user_id })),
        M::UnbanUser { user_id } => (Action::Unban, Command::Room(R::UnbanUser { user_id })),
        M::SetSlowMode { seconds } => (Action::Moderate, Command::Room(R::SetSlowMode { seconds })),
        M::SetBannedWords { words } => {
            (Action::Moderate, Command::Room(R::SetBannedWords { words }))
        }
        M::StartSale(terms) => (Action::RunSales, Command::Sale(SaleCommand::Start(terms))),
        M::EndSale { sale_id } => (
            Action::RunSales,
            Command::Sale(SaleCommand::End { sale_id }),
        ),
        M::Buy {
            sale_id,
            quantity,
            idempotency_key,
        } => (
            Action::Buy,
            Command::Sale(SaleCommand::Buy {
                sale_id,
                quantity,
                idempotency_key,
            }),
        ),
        M::ConfirmHold {
            hold_id,
            shipping,
            payment,
            voucher_code,
        } => (
            Action::Buy,
            Command::Sale(SaleCommand::Confirm {
                hold_id,
                checkout: Checkout {
                    shipping,
                    payment,
                    voucher_code,
                },
            }),
        ),
        M::AddToBag {
            product_id,
            quantity,
            idempotency_key,
        } => (
            Action::Buy,
            Command::Sale(SaleCommand::AddToBag {
                product_id,
                quantity,
                idempotency_key,
            }),
        ),
        M::CheckoutBag {
            hold_ids,
            shipping,
            payment,
            voucher_code,
        } => (
            Action::Buy,
            Command::Sale(SaleCommand::CheckoutBag {
                hold_ids,
                checkout: Checkout {
                    shipping,
                    payment,
                    voucher_code,
                },
            }),
        ),
        M::DropVoucher { code } => (
            Action::RunSales,
            Command::Sale(SaleCommand::DropVoucher { code }),
        ),
        M::ClaimVoucher { code } => (
            Action::Buy,
            Command::Sale(SaleCommand::ClaimVoucher { code }),
        ),
        M::CancelHold { hold_id } => (Action::Buy, Command::Sale(SaleCommand::Cancel { hold_id })),
        M::CancelOrder { order_id } => (
            Action::Buy,
            Command::Sale(SaleCommand::CancelOrder { order_id }),
        ),
        M::ListMyOrders => (Action::Buy, Command::Sale(SaleCommand::MyOrders)),
        M::PublishOffer { sdp } => (
            Action::HostLive,
            Command::Media(MediaCommand::Publish { sdp }),
        ),
        M::Unpublish => (Action::HostLive, Command::Media(MediaCommand::Unpublish)),
        M::Subscribe => (Action::Watch, Command::Media(MediaCommand::Subscribe)),
        M::SubscribeAnswer { sdp } => (
            Action::Watch,
            Command::Media(MediaCommand::SubscribeAnswer { sdp }),
        ),
        M::IceCandidate { target, candidate } => {
            let action = match target {
                Target::Publish => Action::HostLive,
                Target::Subscribe => Action::Watch,
            };
            (
                action,
                Command::Media(MediaCommand::Candidate { target, candidate }),
            )
        }
        M::Coach { text } => (
            Action::Coach,
            Command::Coach(CoachCommand::Whisper { text }),
        ),
        M::Nudge { nudge } => (Action::Coach, Command::Coach(CoachCommand::Nudge { nudge })),
    };
    if actor.role.may(action) {
        Ok(command)
    } else {
        Err(RoomError::Forbidden.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    fn actor(role: Role) -> Actor {
        Actor {
            user_id: "u".into(),
            name: "n".into(),
            role,
        }
    }

    fn route_json(json: &str, role: Role) -> Result<Command, Refusal> {
        let message: ClientMessage = serde_json::from_str(json).unwrap();
        route(message, &actor(role))
    }

    #[test]
    fn each_kind_of_message_reaches_its_own_handler() {
        let viewer = Role::Viewer;
        assert_eq!(route_json(r#"{"type":"ping"}"#, viewer), Ok(Command::Ping));
        assert_eq!(
            route_json(r#"{"type":"heart","count":3}"#, viewer),
            Ok(Command::Heart(3))
        );
        assert!(matches!(
            route_json(r#"{"type":"chat","text":"chào"}"#, viewer),
            Ok(Command::Room(RoomCommand::Chat { .. }))
        ));
        let buy = r#"{"type":"buy","sale_id":"s","quantity":1,"idempotency_key":"k1234567"}"#;
        assert!(matches!(
            route_json(buy, viewer),
            Ok(Command::Sale(SaleCommand::Buy { .. }))
        ));
        assert_eq!(
            route_json(r#"{"type":"subscribe"}"#, viewer),
            Ok(Command::Media(MediaCommand::Subscribe))
        );
    }

    #[test]
    fn viewers_may_not_pin_sell_moderate_or_publish() {
        for json in [
            r#"{"type":"pin_product","product_id":"p1"}"#,
            r#"{"type":"end_sale","sale_id":"s"}"#,
            r#"{"type":"ban_user","user_id":"x"}"#,
            r#"{"type":"publish_offer","sdp":"v=0"}"#,
            r#"{"type":"ice_candidate","target":"publish","candidate":{"candidate":"c","sdpMid":"0","sdpMLineIndex":0}}"#,
        ] {
            let refusal = route_json(json, Role::Viewer).unwrap_err();
            assert_eq!(refusal.code, ErrorCode::Forbidden, "{json}");
        }
    }

    #[test]
    fn moderators_ban_but_only_hosts_lift_a_ban() {
        let unban = r#"{"type":"unban_user","user_id":"x"}"#;
        assert!(route_json(r#"{"type":"ban_user","user_id":"x"}"#, Role::Moderator).is_ok());
        assert_eq!(
            route_json(unban, Role::Moderator).unwrap_err().code,
            ErrorCode::Forbidden
        );
        for role in [Role::Seller, Role::Trainer, Role::Admin] {
            assert!(route_json(unban, role).is_ok(), "{role:?}");
        }
    }

    #[test]
    fn only_trainers_and_admins_coach() {
        for json in [
            r#"{"type":"coach","text":"Chào khách đi em"}"#,
            r#"{"type":"nudge","nudge":"smile_greet"}"#,
        ] {
            for role in [Role::Trainer, Role::Admin] {
                assert!(
                    matches!(route_json(json, role), Ok(Command::Coach(_))),
                    "{role:?}"
                );
            }
            for role in [Role::Seller, Role::Moderator, Role::Viewer] {
                let refusal = route_json(json, role).unwrap_err();
                assert_eq!(refusal.code, ErrorCode::Forbidden, "{role:?}");
            }
        }
    }

    #[test]
    fn hearts_come_one_to_a_hundred_at_a_time() {
        for count in [0, MAX_HEARTS_PER_MESSAGE + 1] {
            let json = format!(r#"{{"type":"heart","count":{count}}}"#);
            let refusal = route_json(&json, Role::Viewer).unwrap_err();
            assert_eq!(refusal.code, ErrorCode::InvalidValue);
        }
    }

    #[test]
    fn pings_hearts_chat_and_the_rest_count_against_their_own_limits() {
        let bucket = |json| route_json(json, Role::Seller).unwrap().bucket();
        assert_eq!(bucket(r#"{"type":"ping"}"#), Bucket::Pings);
        assert_eq!(bucket(r#"{"type":"heart"}"#), Bucket::Hearts);
        assert_eq!(bucket(r#"{"type":"chat","text":"a"}"#), Bucket::Chat);
        assert_eq!(bucket(r#"{"type":"go_live"}"#), Bucket::Actions);
        assert_eq!(bucket(r#"{"type":"subscribe"}"#), Bucket::Actions);
    }
}
