//! Smoke tests: each scenario's `--quick` run against a spawned debug
//! server, asserting that the JSON report is written and parses with the
//! documented fields.
//!
//! They need the `chophien` server binary: `cargo build` at the workspace
//! root first. They look in `$CARGO_TARGET_DIR/debug` and then
//! `target/debug`, and fail with that instruction when it is missing.
//! The flash-sale smoke also needs `redis-server` and `redis-benchmark`,
//! and a server with flash sales (issue 3). The `--nodes 2` runs spawn two
//! nodes on one `redis-server`, which share rooms and sales through it.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn server_binary() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        candidates.push(PathBuf::from(dir).join("debug/chophien"));
    }
    candidates.push(root.join("target/debug/chophien"));
    candidates.iter().find(|p| p.is_file()).cloned().unwrap_or_else(|| {
        panic!("the chophien server binary is missing (looked at {candidates:?}); run `cargo build` at the workspace root first")
    })
}

/// Run `chophien-loadtest <args> --quick --json <tmp>` and return the exit
/// code and the parsed report.
fn run_quick(args: &[&str]) -> (Option<i32>, Value) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let output = Command::new(env!("CARGO_BIN_EXE_chophien-loadtest"))
        .args(args)
        .arg("--quick")
        .arg("--no-progress")
        .arg("--server-bin")
        .arg(server_binary())
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&json).unwrap_or_else(|e| {
        panic!(
            "no report at {} ({e}); exit {:?}\nstdout:\n{}\nstderr:\n{}",
            json.display(),
            output.status.code(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert!(
        dir.path().join("report.md").is_file(),
        "the Markdown summary is written beside the JSON"
    );
    let svg = std::fs::read_to_string(dir.path().join("report.svg")).unwrap();
    assert!(svg.starts_with("<svg"), "the chart is an SVG document");
    (output.status.code(), serde_json::from_str(&text).unwrap())
}

fn assert_documented_fields(report: &Value, scenario: &str) {
    assert_eq!(report["scenario"], scenario);
    assert!(
        report["throughput_per_s"].as_f64().unwrap() > 0.0,
        "{report}"
    );
    for field in ["p50", "p99", "p999", "max"] {
        assert!(
            report["latency_ms"][field].is_number(),
            "latency_ms.{field} in {report}"
        );
    }
    assert!(report["baselines"].is_array());
}

#[test]
fn chat_quick_writes_a_report_with_every_message_delivered() {
    let (code, report) = run_quick(&["chat"]);
    assert_eq!(code, Some(0), "{report}");
    assert_documented_fields(&report, "chat");
    assert_eq!(report["counts"]["messages_lost"], 0, "{report}");
    assert!(report["counts"]["deliveries"].as_u64().unwrap() > 0);
}

/// Needs Node.js and npm (the peer's `npm ci` runs on first use).
#[test]
fn chat_quick_against_the_ws_peer_saturates_both_and_reports_the_ratio_and_cpu() {
    let (code, report) = run_quick(&["chat", "--peer", "ws", "--saturate"]);
    assert_eq!(code, Some(0), "{report}");
    assert_documented_fields(&report, "chat");
    let baseline = &report["baselines"][0];
    assert_eq!(baseline["name"], "ws", "{report}");
    assert!(baseline["ratio"].as_f64().unwrap() > 0.0, "{report}");
    for key in ["chophien", "ws"] {
        assert!(
            report["counts"][format!("{key}_cpu_ns_per_delivery")].as_u64() > Some(0),
            "{key} in {report}"
        );
        assert!(
            report["counts"][format!("{key}_saturation_rate")].as_u64() > Some(0),
            "{key} in {report}"
        );
    }
}

#[test]
fn join_quick_writes_a_report_with_memory_per_viewer() {
    let (code, report) = run_quick(&["join"]);
    assert_eq!(code, Some(0), "{report}");
    assert_documented_fields(&report, "join");
    assert_eq!(report["counts"]["join_failures"], 0, "{report}");
    assert!(report["memory"]["bytes_per_viewer"].is_number(), "{report}");
}

/// Passes once the flash-sale store and protocol (issue 3) are merged.
#[test]
fn flash_sale_quick_keeps_every_invariant() {
    let (code, report) = run_quick(&["flash-sale"]);
    assert_documented_fields(&report, "flash-sale");
    let invariants = &report["invariants"];
    assert_eq!(invariants["ok"], true, "{invariants}");
    for field in ["oversold", "limit_violations", "duplicate_charges"] {
        assert_eq!(invariants[field], 0, "{field}: {invariants}");
    }
    assert_eq!(code, Some(0));
    assert!(
        report["baselines"][0]["ratio"].as_f64().unwrap() > 0.0,
        "{report}"
    );
}

#[test]
fn mixed_quick_accounts_for_every_unit_of_the_sale_the_bag_and_the_voucher() {
    let (code, report) = run_quick(&["mixed"]);
    assert_documented_fields(&report, "mixed");
    let invariants = &report["invariants"];
    assert_eq!(invariants["ok"], true, "{invariants}");
    assert_eq!(code, Some(0));
    // Every kind of request was made and answered.
    for op in [
        "buy",
        "add_to_bag",
        "checkout_bag",
        "confirm_hold",
        "cancel_hold",
    ] {
        assert!(
            report["latency_by_outcome_ms"][op]["count"].as_u64() > Some(0),
            "{op} in {report}"
        );
    }
    // Honey ran out and the voucher was used up: the contended paths ran.
    assert!(count(&report, "add_to_bag:sold_out") > 0, "{report}");
    assert!(
        count(&report, "checkout_bag:voucher_used_up") > 0,
        "{report}"
    );
    assert!(
        report["baselines"][0]["ratio"].as_f64().unwrap() > 0.0,
        "{report}"
    );
}

#[test]
fn practice_quick_runs_audiences_without_errors_and_samples_the_server() {
    let (code, report) = run_quick(&["practice"]);
    assert_eq!(code, Some(0), "{report}");
    assert_documented_fields(&report, "practice");
    assert_eq!(report["errors"], 0, "{report}");
    for counter in ["bot_joins", "bot_chats", "scenarios_fired"] {
        assert!(count(&report, counter) > 0, "{counter} in {report}");
    }
    let samples = report["resources"].as_array().expect("resources");
    assert!(!samples.is_empty());
    assert!(samples
        .iter()
        .all(|s| s["server_rss_bytes"].as_u64().unwrap_or(0) > 0));
}

fn count(report: &Value, name: &str) -> u64 {
    report["counts"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("counts.{name} in {report}"))
}

/// Two nodes on one Redis share the room and its sale: the audit sums both
/// nodes' buyers against one stock, reads the orders through both, and
/// both nodes' snapshots must show what Redis holds.
#[test]
fn flash_sale_quick_on_two_nodes_keeps_every_invariant() {
    let (code, report) = run_quick(&["flash-sale", "--nodes", "2", "--baseline", "none"]);
    assert_documented_fields(&report, "flash-sale");
    let invariants = &report["invariants"];
    assert_eq!(invariants["ok"], true, "{invariants}");
    assert_eq!(code, Some(0));
    assert_eq!(report["target"]["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(report["target"]["store"], "redis");
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["nodes"], 2);
    let buyers = count(&report, "buyers");
    assert_eq!(
        count(&report, "node0_buyers") + count(&report, "node1_buyers"),
        buyers
    );
    for node in ["node0", "node1"] {
        assert!(
            count(&report, &format!("{node}_buy_answers")) > 0,
            "{report}"
        );
    }
    assert_eq!(
        count(&report, "node0_reserved_units") + count(&report, "node1_reserved_units"),
        count(&report, "reserved_units")
    );
    for node in ["node0", "node1"] {
        let count = report["latency_by_node_ms"][node]["count"].as_u64();
        assert!(
            count.unwrap_or(0) > 0,
            "latency_by_node_ms.{node}: {report}"
        );
    }
    let remaining = count(&report, "redis_remaining");
    assert_eq!(count(&report, "final_remaining"), remaining, "{report}");
    assert_eq!(
        count(&report, "node1_final_remaining"),
        remaining,
        "{report}"
    );
}

/// Is `program` installed (it answers `--version`)?
fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Buyers in two agent processes, the harness pinned to CPU 0 and the
/// server and Redis to CPU 1, and a CPU hog (Debian's stress-ng, which the
/// README test command installs) on CPU 1 during the buy phase: the audit holds, the connection ramp and
/// the buy phase's costs are reported apart, and the report says where
/// everything ran.
#[test]
fn flash_sale_quick_in_agents_pinned_beside_a_hog_keeps_every_invariant() {
    assert!(
        installed("stress-ng"),
        "stress-ng is required (apt-get install stress-ng; the README test command does)"
    );
    let args = [
        "flash-sale",
        "--agents",
        "2",
        "--pin",
        "--hog",
        "--baseline",
        "none",
    ];
    let (code, report) = run_quick(&args);
    assert_documented_fields(&report, "flash-sale");
    assert_eq!(report["invariants"]["ok"], true, "{report}");
    assert_eq!(code, Some(0));
    assert_eq!(count(&report, "harness_processes"), 3);
    let ramp = &report["ramp"];
    assert_eq!(
        ramp["connected"].as_u64(),
        Some(count(&report, "buyers")),
        "{ramp}"
    );
    assert_eq!(ramp["failures"], 0, "{ramp}");
    assert!(ramp["connects_per_s"].as_f64().unwrap() > 0.0, "{ramp}");
    assert_eq!(report["target"]["pinning"]["harness_cpus"], "0");
    assert_eq!(report["target"]["pinning"]["server_cpus"], "1");
    let cost = &report["cost_per_decision"];
    assert_eq!(
        cost["decisions"].as_u64(),
        Some(count(&report, "buy_phase_decisions"))
    );
    assert!(cost["server_cpu_us"].as_f64().unwrap() > 0.0, "{cost}");
    assert!(cost["mean_batch_size"].as_f64().unwrap() >= 1.0, "{cost}");
    let notes = report["notes"].to_string();
    assert!(notes.contains("taskset -c 1"), "{notes}");
    assert_eq!(report["parameters"]["hog"], true);
    assert!(notes.contains("stress-ng --cpu 1 --taskset 1"), "{notes}");
    assert!(cost["hog_cpu_ms"].as_u64().unwrap() > 0, "{cost}");
}

/// A running server killed when the test ends, with the data directory it
/// writes its journals in (removed then, never the source tree's).
struct Server {
    child: std::process::Child,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start the debug server on the memory store on a free port; its URL.
fn memory_node() -> (Server, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let data = tempfile::tempdir().unwrap();
    let child = Command::new(server_binary())
        .arg("serve")
        .env("CHOPHIEN_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("CHOPHIEN_DATA__DIR", data.path())
        .env("CHOPHIEN_STORE__KIND", "memory")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let server = Server { child, _data: data };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    (server, format!("http://127.0.0.1:{port}"))
}

/// Two `--url` nodes that keep rooms in memory share none: the run stops
/// before any load, saying so, rather than measure two separate rooms.
#[test]
fn nodes_that_do_not_share_rooms_are_refused_clearly() {
    let (_a, first) = memory_node();
    let (_b, second) = memory_node();
    let output = Command::new(env!("CARGO_BIN_EXE_chophien-loadtest"))
        .args([
            "chat",
            "--quick",
            "--no-progress",
            "--url",
            &first,
            "--url",
            &second,
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("node 1") && stderr.contains("does not know room"),
        "{stderr}"
    );
}

/// Chat on two nodes sharing the room through Redis: clients connect to
/// both and send, and every viewer on either node receives every message
/// once, in seq order, whichever node it was sent through.
#[test]
fn chat_quick_on_two_nodes_delivers_everything_everywhere_in_order() {
    let (code, report) = run_quick(&["chat", "--nodes", "2"]);
    assert_documented_fields(&report, "chat");
    let delivery = &report["delivery"];
    assert_eq!(code, Some(0), "{delivery}");
    assert_eq!(delivery["ok"], true, "{delivery}");
    assert_eq!(report["target"]["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(report["target"]["store"], "redis");
    assert_eq!(count(&report, "connect_failures"), 0, "{report}");
    let sent = count(&report, "messages_sent");
    assert!(sent > 0);
    assert_eq!(count(&report, "messages_rejected"), 0, "{report}");
    for field in ["messages_lost", "duplicates", "out_of_order", "seq_gaps"] {
        assert_eq!(delivery[field], 0, "{field}: {delivery}");
    }
    let viewers = count(&report, "viewers");
    assert_eq!(delivery["viewers_checked"], viewers, "{delivery}");
    assert_eq!(count(&report, "deliveries"), sent * viewers, "{report}");
    for node in ["node0", "node1"] {
        assert!(count(&report, &format!("{node}_viewers")) > 0, "{report}");
        assert!(count(&report, &format!("{node}_senders")) > 0, "{report}");
    }
    assert_eq!(
        count(&report, "node0_messages_received") + count(&report, "node1_messages_received"),
        sent * viewers,
        "{report}"
    );
    // Messages cross nodes both ways.
    for route in ["0->0", "0->1", "1->0", "1->1"] {
        let count = report["latency_by_node_ms"][route]["count"].as_u64();
        assert!(
            count.unwrap_or(0) > 0,
            "latency_by_node_ms.{route}: {report}"
        );
    }
}

/// `--compare-nodes`: three configurations in one invocation, side by side.
#[test]
fn flash_sale_quick_comparison_reports_three_runs_and_their_ratios() {
    let (code, report) = run_quick(&["flash-sale", "--compare-nodes", "2", "--baseline", "none"]);
    assert_eq!(code, Some(0), "{report}");
    let runs = report["runs"].as_array().unwrap();
    let configs: Vec<(u64, &str)> = runs
        .iter()
        .map(|r| (r["nodes"].as_u64().unwrap(), r["store"].as_str().unwrap()))
        .collect();
    assert_eq!(configs, [(1, "memory"), (1, "redis"), (2, "redis")]);
    for run in runs {
        assert!(run["throughput_per_s"].as_f64().unwrap() > 0.0, "{run}");
        assert!(run["latency_ms"]["p99"].as_f64().unwrap() > 0.0, "{run}");
        assert_eq!(run["invariants"]["ok"], true, "{run}");
    }
    let comparison = &report["comparison"];
    assert_eq!(comparison["nodes"], 2);
    for ratio in ["redis_over_memory", "nodes_over_single"] {
        assert!(
            comparison[ratio]["throughput"].as_f64().unwrap() > 0.0,
            "{comparison}"
        );
    }
    assert_eq!(comparison["redis_over_memory_goal"], 0.7);
}

/// The `video` scenario: a synthetic WebRTC publisher (VP8 + Opus that
/// ffmpeg encodes) and a few webrtc-rs viewers through the real SFU. Fails
/// when a viewer never gets a keyframe or the loss is high (exit 1).
#[test]
fn video_quick_delivers_keyframes_to_every_viewer_with_little_loss() {
    let (code, report) = run_quick(&["video"]);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["scenario"], "video");
    let video = &report["video"];
    assert_eq!(video["violations"].as_array().unwrap().len(), 0, "{video}");
    let step = &video["steps"][0];
    assert!(step["connected"].as_u64().unwrap() > 0, "{video}");
    assert_eq!(step["with_keyframe"], step["connected"], "{video}");
    assert!(
        step["video_packets_received"].as_u64().unwrap() > 0,
        "{video}"
    );
    assert!(step["loss_ratio"].as_f64().unwrap() <= 0.01, "{video}");
    assert!(step["forward_delay_ms"]["p99"].is_number(), "{video}");
    assert!(step["server_millicores_per_viewer"].is_number(), "{video}");
    assert!(video["baseline"]["server_rss_bytes"].as_u64().unwrap() > 0);
}
