//! `practice`: R practice rooms, each with a simulated audience of B bots,
//! for T minutes at a lesson speed — the bots as a soak test.
//!
//! The rooms are opened as classes (`POST /api/classes`, an admin token,
//! no class audience; all on the first node, where a class lives). Each
//! room's seller (the trainee) connects and goes live; the harness
//! starts every room's audience over HTTP (`POST /api/practice/rooms/{id}/
//! audience`, an admin token), then samples, every `--sample-secs`, the
//! server's resident memory and CPU and every audience's state. Halfway,
//! each seller runs a flash sale and the harness fires "hỏi giá dồn dập"
//! in every room; at three quarters, "khách giận vì giao hàng chậm". At the
//! end the audiences stop and each room's journal says what the bots did
//! (joins, chats, product taps, orders).
//!
//! Errors: a start or a status that fails, an audience that stopped before
//! the end, a seller socket that ended, a journal that cannot be read.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{bail, Context};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::client;
use crate::report::{Memory, Report, ResourceSample};
use crate::target::vm_rss_bytes;

use super::seller::Seller;
use super::{unix_ms, Ctx};

#[derive(Debug, Clone, clap::Args, Serialize)]
pub struct PracticeArgs {
    /// Practice rooms, each with its own audience.
    #[arg(long, default_value_t = 30)]
    pub rooms: usize,
    /// Bots in each room's audience.
    #[arg(long, default_value_t = 50)]
    pub bots: u32,
    /// How long the audiences run, in minutes of wall time.
    #[arg(long, default_value_t = 10.0)]
    pub minutes: f64,
    /// Lesson seconds per wall second (1: real lessons).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Seconds between samples of memory, CPU and the audiences.
    #[arg(long, default_value_t = 10)]
    pub sample_secs: u64,
    /// Room k's audience has seed `seed + k`.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

impl PracticeArgs {
    pub fn quick(mut self) -> PracticeArgs {
        self.rooms = self.rooms.min(3);
        self.bots = self.bots.min(10);
        self.minutes = self.minutes.min(0.5);
        self.speed = self.speed.max(4.0);
        self.sample_secs = self.sample_secs.min(2);
        self
    }
}

/// What the harness keeps of one room.
struct Room {
    id: String,
    base: String,
    seller: Seller,
}

pub async fn run(ctx: &Ctx, args: PracticeArgs) -> anyhow::Result<Report> {
    let args = if ctx.quick { args.quick() } else { args };
    let started_at_ms = unix_ms();
    let admin = ctx.minter.admin()?;
    let mut errors = 0u64;
    let mut counts = BTreeMap::new();

    // Practice rooms are opened as classes are (at most 40 trainees each),
    // without a class audience: the harness starts each room's own below.
    // A class lives on the node that opened it, so every room is node 0's.
    let node = ctx.target.first();
    let names: Vec<String> = (0..args.rooms).map(|k| format!("Học viên {k}")).collect();
    let mut rooms = Vec::with_capacity(args.rooms);
    for trainees in names.chunks(40) {
        let class = json!({"name": "Lớp tải thử", "trainees": trainees,
            "lesson": {"audience_size": 0}});
        let response = post(ctx, &node.http_base, "/api/classes", &admin, Some(class)).await?;
        if response.status() != reqwest::StatusCode::CREATED {
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            bail!("opening a class answered {status}: {text} (a server with practice classes?)");
        }
        let class: Value = response.json().await.context("the class's answer")?;
        for room in class["rooms"].as_array().into_iter().flatten() {
            let (Some(id), Some(token)) = (room["room_id"].as_str(), room["seller_token"].as_str())
            else {
                bail!("a class room without room_id or seller_token: {room}");
            };
            let seller = Seller::connect(&client::room_url(&node.ws_base, id, token)).await?;
            seller.must(json!({"type": "go_live"})).await?;
            rooms.push(Room {
                id: id.to_owned(),
                base: node.http_base.clone(),
                seller,
            });
        }
    }
    let pids = ctx.target.server_pids();
    let rss_before = total_rss(&pids);

    for (k, room) in rooms.iter().enumerate() {
        let settings =
            json!({"seed": args.seed + k as u64, "size": args.bots, "speed": args.speed});
        let path = format!("/api/practice/rooms/{}/audience", room.id);
        let response = post(ctx, &room.base, &path, &admin, Some(settings)).await?;
        if response.status() != reqwest::StatusCode::CREATED {
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            bail!("starting room {}'s audience answered {status}: {text} (a server with practice audiences?)", room.id);
        }
    }

    let bar = ctx.progress((args.minutes * 60.0) as u64, "practice");
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(args.minutes * 60.0);
    let every = Duration::from_secs(args.sample_secs.max(1));
    let mut samples = Vec::new();
    let mut cpu_before = (ctx.target.cpu_use(), Instant::now());
    let (mut sale_done, mut angry_done) = (false, false);
    while Instant::now() < end {
        tokio::time::sleep(every.min(end.saturating_duration_since(Instant::now()))).await;
        let elapsed = start.elapsed();
        bar.set_position(elapsed.as_secs());
        let fraction = elapsed.as_secs_f64() / (args.minutes * 60.0);
        if fraction >= 0.5 && !sale_done {
            sale_done = true;
            for room in &rooms {
                let sale = json!({"type": "start_sale", "product_id": "p1", "stock": 100,
                    "price_vnd": 99_000, "per_buyer_limit": 2, "duration_secs": 120});
                if room.seller.must(sale).await.is_err() {
                    errors += 1;
                }
                errors += u64::from(!fire(ctx, room, &admin, "hoi-gia-don-dap").await);
            }
        }
        if fraction >= 0.75 && !angry_done {
            angry_done = true;
            for room in &rooms {
                errors += u64::from(!fire(ctx, room, &admin, "khach-gian-giao-cham").await);
            }
        }
        let mut bots_present = 0;
        for room in &rooms {
            match audience(ctx, room, &admin).await {
                Some(state) => bots_present += state["bots_present"].as_u64().unwrap_or(0),
                None => errors += 1,
            }
        }
        let cpu_now = (ctx.target.cpu_use(), Instant::now());
        let cpu_ms: u64 =
            cpu_now.0.nodes.iter().sum::<u64>() - cpu_before.0.nodes.iter().sum::<u64>();
        let wall_ms = (cpu_now.1 - cpu_before.1).as_millis().max(1) as f64;
        cpu_before = cpu_now;
        samples.push(ResourceSample {
            at_s: elapsed.as_secs_f64(),
            server_rss_bytes: total_rss(&pids),
            server_cpu_percent: (!pids.is_empty()).then(|| 100.0 * cpu_ms as f64 / wall_ms),
            bots_present,
        });
    }
    bar.finish_and_clear();
    let rss_after = total_rss(&pids);

    for room in &rooms {
        let path = format!("/api/practice/rooms/{}/audience", room.id);
        let stopped = ctx
            .http
            .delete(format!("{}{path}", room.base))
            .bearer_auth(&admin)
            .send()
            .await
            .map(|r| r.status().is_success())
            .unwrap_or(false);
        errors += u64::from(!stopped);
    }
    for room in &rooms {
        match journal(ctx, room, &admin).await {
            Ok(lines) => tally(&lines, &mut counts),
            Err(_) => errors += 1,
        }
    }
    for room in rooms {
        if let Some(why) = room.seller.finish().await {
            eprintln!("a seller's socket ended early: {why}");
            errors += 1;
        }
    }

    let bots = u64::from(args.bots) * args.rooms as u64;
    counts.insert("rooms".into(), args.rooms as u64);
    counts.insert("bots_asked".into(), bots);
    let duration_s = start.elapsed().as_secs_f64();
    let chats = counts.get("bot_chats").copied().unwrap_or(0);
    let mut notes = vec![
        "Bots are the server's own simulated audience (practice rooms): the harness drives only the sellers and the HTTP calls.".to_owned(),
        "resources: server RSS and CPU (100% = one core) and bots present, every sample.".to_owned(),
    ];
    if let (Some(first), Some(last)) = (
        samples.iter().find_map(|s| s.server_rss_bytes),
        samples.iter().rev().find_map(|s| s.server_rss_bytes),
    ) {
        notes.push(format!(
            "Server RSS from the first sample to the last: {:.1} MiB → {:.1} MiB ({:+.1}%).",
            first as f64 / 1048576.0,
            last as f64 / 1048576.0,
            100.0 * (last as f64 - first as f64) / first.max(1) as f64
        ));
    }
    let memory = match (rss_before, rss_after) {
        (Some(before), Some(after)) => Some(Memory {
            rss_before_bytes: before,
            rss_after_bytes: after,
            viewers: bots,
            bytes_per_viewer: after.saturating_sub(before) as f64 / bots.max(1) as f64,
        }),
        _ => None,
    };
    Ok(Report {
        scenario: "practice".into(),
        quick: ctx.quick,
        started_at_ms,
        target: ctx.target_info(),
        parameters: serde_json::to_value(&args)?,
        throughput_per_s: chats as f64 / duration_s.max(0.001),
        throughput_unit: "bot chat messages".into(),
        duration_s,
        counts,
        errors,
        memory,
        throughput_over_time: samples
            .iter()
            .map(|s| (s.at_s, s.bots_present as f64))
            .collect(),
        resources: samples,
        notes,
        ..Report::default()
    })
}

async fn post(
    ctx: &Ctx,
    base: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> anyhow::Result<reqwest::Response> {
    let mut request = ctx.http.post(format!("{base}{path}")).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.with_context(|| format!("POST {path}"))
}

/// Fire `scenario` in `room`: whether it was accepted.
async fn fire(ctx: &Ctx, room: &Room, admin: &str, scenario: &str) -> bool {
    let path = format!("/api/practice/rooms/{}/scenarios/{scenario}", room.id);
    post(ctx, &room.base, &path, admin, None)
        .await
        .is_ok_and(|r| r.status() == reqwest::StatusCode::ACCEPTED)
}

/// The room's running audience; `None` if it does not run or did not answer.
async fn audience(ctx: &Ctx, room: &Room, admin: &str) -> Option<Value> {
    let url = format!("{}/api/practice/rooms/{}/audience", room.base, room.id);
    let response = ctx.http.get(url).bearer_auth(admin).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json().await.ok()
}

async fn journal(ctx: &Ctx, room: &Room, admin: &str) -> anyhow::Result<Vec<Value>> {
    let url = format!("{}/api/rooms/{}/journal", room.base, room.id);
    let response = ctx.http.get(url).bearer_auth(admin).send().await?;
    if !response.status().is_success() {
        bail!("the journal answered {}", response.status());
    }
    let text = response.text().await?;
    Ok(text
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect())
}

/// Count what the bots did in one room's journal.
fn tally(lines: &[Value], counts: &mut BTreeMap<String, u64>) {
    let is_bot = |v: &Value| v.as_str().is_some_and(|u| u.starts_with("bot-"));
    for line in lines {
        let counter = match line["type"].as_str() {
            Some("joined") if is_bot(&line["user_id"]) => "bot_joins",
            Some("left") if is_bot(&line["user_id"]) => "bot_leaves",
            Some("product_viewed") if is_bot(&line["user_id"]) => "bot_product_views",
            Some("bag_answered") if is_bot(&line["user_id"]) => "bot_bag_adds",
            Some("buy_answered") if is_bot(&line["user_id"]) => "bot_buys",
            Some("order_placed") if is_bot(&line["buyer_id"]) => "bot_orders",
            Some("scenario_fired") => "scenarios_fired",
            Some("event")
                if line["event"]["type"] == "chat"
                    && is_bot(&line["event"]["message"]["user_id"]) =>
            {
                "bot_chats"
            }
            _ => continue,
        };
        *counts.entry(counter.to_owned()).or_insert(0) += 1;
    }
}

/// The summed `VmRSS` of the spawned nodes; `None` with `--url`.
fn total_rss(pids: &[u32]) -> Option<u64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|pid| vm_rss_bytes(*pid).ok()).sum()
}
