//! The compliance checker over the wire: `POST /api/compliance/check` (a
//! prepared script, checked before the live) and the live hook, which
//! checks a host's texts after her request succeeded and tells the room's
//! hosts — never its viewers — what it found.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::auth::{Action, Role};
use crate::clock::unix_millis;
use crate::compliance::live::{self, ToCheck};
use crate::compliance::{checks_room, Context, Hit};
use crate::protocol::{ComplianceSeverity, ComplianceSource, ErrorCode};
use crate::room::{Actor, Room, RoomCommand};

use super::api::{bearer_claims, ApiError};
use super::AppState;

/// Longest script `POST /api/compliance/check` reads, in characters.
pub const MAX_SCRIPT_CHARS: usize = 20_000;
/// Most hits one answer lists (the counts cover them all): a script that
/// repeats a claim a thousand times needs rewriting, not a thousand hits.
pub const MAX_HITS: usize = 200;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    text: String,
}

/// Every hit of a script, in reading order.
#[derive(Debug, Serialize)]
pub struct CheckAnswer {
    /// The version of the rules that judged it.
    rules_version: u32,
    serious: usize,
    warnings: usize,
    /// The first [`MAX_HITS`] hits were listed, not all.
    truncated: bool,
    hits: Vec<Hit>,
}

/// `POST /api/compliance/check {text}`: a seller's or trainer's token (of
/// any room, or a trainer's `*`) or an admin's; the script's hits with
/// line, column, citation and rewording. Nothing is journaled: a draft is
/// for fixing.
pub async fn check(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<CheckRequest>, JsonRejection>,
) -> Result<Json<CheckAnswer>, ApiError> {
    let claims = bearer_claims(&state, &headers)?;
    if !matches!(claims.role, Role::Seller | Role::Trainer | Role::Admin) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "only sellers, trainers and admins check scripts",
        ));
    }
    let Json(CheckRequest { text }) = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_long()
        } else {
            ApiError::from(rejection)
        }
    })?;
    if crate::room::text::length(&text) > MAX_SCRIPT_CHARS {
        return Err(too_long());
    }
    if crate::room::text::is_blank(&text) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidValue,
            "the script is empty",
        )
        .about("text"));
    }
    let mut hits = state
        .compliance
        .check(&text, Context::new(ComplianceSource::Script));
    let count = |hits: &[Hit], severity| hits.iter().filter(|h| h.severity == severity).count();
    let (serious, warnings) = (
        count(&hits, ComplianceSeverity::Serious),
        count(&hits, ComplianceSeverity::Warning),
    );
    let truncated = hits.len() > MAX_HITS;
    hits.truncate(MAX_HITS);
    Ok(Json(CheckAnswer {
        rules_version: state.compliance.version,
        serious,
        warnings,
        truncated,
        hits,
    }))
}

fn too_long() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::InvalidValue,
        format!("a script has at most {MAX_SCRIPT_CHARS} characters"),
    )
    .about("text")
}

/// After a room request of `actor` succeeded: if she hosts and the request
/// carries text the checker reads, check it in a task of its own (never on
/// the request's or the fan-out's path).
pub fn after_request(state: &AppState, room: &Arc<Room>, actor: &Actor, command: &RoomCommand) {
    if !actor.role.may(Action::HostLive) {
        return;
    }
    let Some(what) = live::to_check(command) else {
        return;
    };
    let (state, room) = (state.clone(), Arc::clone(room));
    tokio::spawn(async move { check_live(&state, &room, what).await });
}

/// Check one text of a host's request; flag each rule it breaks (once per
/// text, at its first hit) to the room's hosts on this node and journal it.
async fn check_live(state: &AppState, room: &Room, what: ToCheck) {
    match room.info().await {
        Ok(info) if checks_room(&info, &state.config.compliance) => {}
        Ok(_) => return,
        Err(error) => {
            tracing::debug!(%error, room = %room.id, "compliance check skipped");
            return;
        }
    }
    let (text, context) = match what {
        ToCheck::Text {
            source,
            text,
            price_vnd,
        } => (text, Context { source, price_vnd }),
        ToCheck::Product { product_id } => match room.product(&product_id).await {
            Ok(product) => live::product_check(&product),
            Err(error) => {
                tracing::debug!(%error, room = %room.id, "compliance check skipped");
                return;
            }
        },
    };
    let mut hits = state.compliance.check(&text, context);
    let mut seen = std::collections::HashSet::new();
    hits.retain(|hit| seen.insert(hit.rule_id.clone()));
    let at = unix_millis();
    for hit in &hits {
        state
            .journal
            .record(&room.id, at, live::journal_record(hit, context.source));
        room.tell_hosts(&live::flag_event(hit, context.source, at));
    }
}
