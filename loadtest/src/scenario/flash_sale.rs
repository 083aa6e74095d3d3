//! stub
use serde::Serialize;
use crate::report::Report;
use super::Ctx;
#[derive(Debug, Clone, clap::Args, Serialize)]
pub struct FlashSaleArgs {
    #[arg(long, default_value_t = 10_000)]
    pub buyers: usize,
}
pub async fn run(_ctx: &Ctx, _args: FlashSaleArgs) -> anyhow::Result<Report> { anyhow::bail!("todo") }
