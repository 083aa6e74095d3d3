//! The flash sale's seller (the scenarios' [`Seller`]) goes live and
//! starts the sale.

use anyhow::{bail, Context};
use serde_json::{json, Value};

use super::super::seller::Seller;
use super::args::FlashSaleArgs;

/// Go live before the buyers come, as a seller does: viewers gather in a
/// live room. An error only means the room is live already.
pub async fn go_live(seller: &Seller) -> anyhow::Result<()> {
    seller.request(json!({ "type": "go_live" })).await?;
    Ok(())
}

/// Start a live sale of product `p1` as `args` say and wait for it to be
/// live; its id.
pub async fn start_sale(seller: &Seller, args: &FlashSaleArgs) -> anyhow::Result<String> {
    let frame = json!({
        "type": "start_sale", "product_id": "p1", "stock": args.stock,
        "price_vnd": 199000, "per_buyer_limit": args.per_buyer_limit, "starts_in_secs": 0,
        "duration_secs": 3600, "hold_secs": args.hold_secs,
    });
    let event = seller
        .request_until(frame, live_or_refused)
        .await
        .context("starting the sale (does this server support flash sales yet?)")?;
    if event["type"] == "error" {
        bail!("start_sale was refused: {event}");
    }
    event["sale"]["id"]
        .as_str()
        .map(str::to_owned)
        .context("sale_updated without an id")
}

/// The sale is live (`sale_updated`), or `start_sale` was refused.
fn live_or_refused(frame: &Value, id: &str) -> bool {
    (frame["type"] == "error" && frame["id"] == id)
        || (frame["type"] == "sale_updated" && frame["sale"]["state"] == "live")
}
