//! How a client's [`RoomCommand`] becomes a call of a room function: which
//! function, its arguments after the common ones (actor id and rank first),
//! and the verdict of the checks that need no room data (chat text, product
//! fields), run here in Rust: the function refuses with `precheck` at the
//! point of the rules where the memory store would have checked them.

use crate::protocol::{Product, ProductChanges};

use super::super::super::{note, product, state, Actor, RoomCommand, RoomError, RoomLimits};
use super::reply::internal;

/// One function call a command becomes.
pub(super) struct Call {
    pub(super) function: &'static str,
    pub(super) args: Vec<String>,
    /// `Err` when a check that needs no room data failed; the function
    /// answers `precheck` once the checks before it passed.
    pub(super) precheck: Result<(), RoomError>,
}

/// The function and arguments of a client's command, and the verdict of
/// the checks that need no room data.
pub(super) fn call(
    actor: &Actor,
    command: &RoomCommand,
    limits: &RoomLimits,
) -> Result<Call, RoomError> {
    use RoomCommand as C;
    let mut args = vec![actor.user_id.clone(), actor.role.rank().to_string()];
    let mut precheck = Ok(());
    let function = match command {
        C::Chat { text, reply_to } => {
            let checked = state::chat_text(text, limits);
            let text = checked.as_ref().map_or("", |text| *text);
            args.extend([
                actor.role.as_str().to_owned(),
                actor.name.clone(),
                flag(checked.is_err()),
                text.to_owned(),
                text.to_lowercase(),
                limits.chat_history.max(1).to_string(),
                reply_to.map_or_else(String::new, |id| id.to_string()),
            ]);
            precheck = checked.map(drop);
            "chophien_room_chat"
        }
        C::GoLive => "chophien_room_go_live",
        C::EndLive => return Err(internal("end_live goes through `end`")),
        C::AddProduct { product } => {
            precheck = product::check(product.into()).map_err(RoomError::from);
            let new = Product {
                id: String::new(),
                name: product.name.trim().to_owned(),
                description: product.description.trim().to_owned(),
                price_vnd: product.price_vnd,
                stock: product.stock,
                image_url: product.image_url.clone(),
                per_buyer_limit: product.per_buyer_limit,
            };
            args.extend([
                flag(precheck.is_err()),
                serde_json::to_string(&new).map_err(internal)?,
                limits.max_products.to_string(),
            ]);
            "chophien_room_add_product"
        }
        C::UpdateProduct {
            product_id,
            changes,
        } => {
            precheck = product::check(changes.into()).map_err(RoomError::from);
            let changes = ProductChanges {
                name: changes.name.as_deref().map(|n| n.trim().to_owned()),
                description: changes.description.as_deref().map(|d| d.trim().to_owned()),
                ..changes.clone()
            };
            args.extend([
                product_id.clone(),
                flag(precheck.is_err()),
                serde_json::to_string(&changes).map_err(internal)?,
            ]);
            "chophien_room_update_product"
        }
        C::RemoveProduct { product_id } => {
            args.push(product_id.clone());
            "chophien_room_remove_product"
        }
        C::PinProduct { product_id } => {
            args.extend(["pin".to_owned(), product_id.clone()]);
            "chophien_room_pin"
        }
        C::UnpinProduct => {
            args.extend(["unpin".to_owned(), String::new()]);
            "chophien_room_pin"
        }
        C::PinNote { text } => {
            let checked = note::note_text(text);
            let pinned = note::note(actor, checked.as_ref().map_or("", |text| *text), 0);
            let mut json = serde_json::to_value(&pinned).map_err(internal)?;
            // The function stamps `pinned_at` with its caller's time.
            if let Some(fields) = json.as_object_mut() {
                fields.remove("pinned_at");
            }
            args.extend(["pin".to_owned(), flag(checked.is_err()), json.to_string()]);
            precheck = checked.map(drop);
            "chophien_room_note"
        }
        C::UnpinNote => {
            args.extend(["unpin".to_owned(), String::new(), String::new()]);
            "chophien_room_note"
        }
        C::DeleteMessage { message_id } => {
            args.push(message_id.to_string());
            "chophien_room_delete_message"
        }
        C::MuteUser { user_id, minutes } => {
            args.extend([
                user_id.clone(),
                minutes.to_string(),
                limits.max_mute_minutes.to_string(),
            ]);
            "chophien_room_mute"
        }
        C::UnmuteUser { user_id } => {
            args.push(user_id.clone());
            "chophien_room_unmute"
        }
        C::BanUser { user_id } => {
            args.push(user_id.clone());
            "chophien_room_ban"
        }
        C::UnbanUser { user_id } => {
            args.push(user_id.clone());
            "chophien_room_unban"
        }
        C::SetSlowMode { seconds } => {
            args.extend([
                seconds.to_string(),
                limits.max_slow_mode_seconds.to_string(),
            ]);
            "chophien_room_slow_mode"
        }
        C::SetBannedWords { words } => {
            args.extend([words.len().to_string(), limits.max_banned_words.to_string()]);
            args.extend(
                words
                    .iter()
                    .map(|w| w.trim().to_lowercase())
                    .filter(|w| !w.is_empty()),
            );
            "chophien_room_banned_words"
        }
        C::UpdateRoom { changes } => {
            let title = changes.title();
            let starts_at = changes.starts_at();
            let cover_url = changes.cover_url();
            args.extend([
                flag_bit(title.is_some()),
                title.unwrap_or_default().to_owned(),
                flag_bit(starts_at.is_some()),
                starts_at
                    .flatten()
                    .map_or_else(String::new, |at| at.to_string()),
                flag_bit(cover_url.is_some()),
                cover_url.flatten().unwrap_or_default().to_owned(),
            ]);
            "chophien_room_update_info"
        }
    };
    Ok(Call {
        function,
        args,
        precheck,
    })
}

fn flag_bit(set: bool) -> String {
    if set { "1" } else { "0" }.to_owned()
}

fn flag(set: bool) -> String {
    if set { "1" } else { "" }.to_owned()
}
