//! The live hook's domain half: which texts of a host's room request are
//! checked, and what each hit becomes — a `compliance_flag` frame for the
//! room's hosts and a `compliance_flagged` journal record.
//!
//! Checked: a host's chat messages and replies, and a product's name and
//! description whenever a request adds the product or rewrites either (the
//! product as it then stands, name and description together, so a
//! disclaimer in the description covers a supplement named in the title).
//! And the announcement a host pins above the chat (`pin_note`), as
//! `ComplianceSource::PinnedNote`.

use crate::clock::UnixMillis;
use crate::journal::Record;
use crate::money::Vnd;
use crate::protocol::{ComplianceSource, DirectEvent, Product};
use crate::room::RoomCommand;

use super::matcher::{Context, Hit};

/// What a request asks to check.
#[derive(Debug, Clone, PartialEq)]
pub enum ToCheck {
    /// A text known from the request alone.
    Text {
        source: ComplianceSource,
        text: String,
        price_vnd: Option<Vnd>,
    },
    /// The product as it stands after the request (read back from the
    /// room: an update may change only part of it).
    Product { product_id: String },
}

/// The texts a room request carries that the checker reads; empty for
/// everything else (hearts, pins, moderation, …).
pub fn to_check(command: &RoomCommand) -> Option<ToCheck> {
    match command {
        RoomCommand::Chat { text, .. } => Some(ToCheck::Text {
            source: ComplianceSource::Chat,
            text: text.clone(),
            price_vnd: None,
        }),
        RoomCommand::PinNote { text } => Some(ToCheck::Text {
            source: ComplianceSource::PinnedNote,
            text: text.trim().to_owned(),
            price_vnd: None,
        }),
        RoomCommand::AddProduct { product } => Some(ToCheck::Text {
            source: ComplianceSource::Product,
            text: product_text(&product.name, &product.description),
            price_vnd: Some(product.price_vnd),
        }),
        RoomCommand::UpdateProduct {
            product_id,
            changes,
        } if changes.name.is_some() || changes.description.is_some() => Some(ToCheck::Product {
            product_id: product_id.clone(),
        }),
        _ => None,
    }
}

/// A product's text as checked: name, then description.
pub fn product_text(name: &str, description: &str) -> String {
    format!("{name}\n{description}")
}

/// What to check for a product read back from the room.
pub fn product_check(product: &Product) -> (String, Context) {
    let context = Context {
        source: ComplianceSource::Product,
        price_vnd: Some(product.price_vnd),
    };
    (product_text(&product.name, &product.description), context)
}

/// The private frame that tells the room's hosts about `hit`.
pub fn flag_event(hit: &Hit, source: ComplianceSource, at: UnixMillis) -> DirectEvent {
    DirectEvent::ComplianceFlag {
        rule_id: hit.rule_id.clone(),
        severity: hit.severity,
        source,
        excerpt: hit.excerpt.clone(),
        citation: hit.citation.clone(),
        suggestion: hit.suggestion.clone(),
        at,
    }
}

/// The journal's record of `hit`.
pub fn journal_record(hit: &Hit, source: ComplianceSource) -> Record {
    Record::ComplianceFlagged {
        rule_id: hit.rule_id.clone(),
        severity: hit.severity.as_str().to_owned(),
        source: source.as_str().to_owned(),
        excerpt: hit.excerpt.clone(),
    }
}
