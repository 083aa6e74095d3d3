//! Smoke tests: each scenario's `--quick` run against a spawned debug
//! server, asserting that the JSON report is written and parses with the
//! documented fields.
//!
//! They need the `chophien` server binary: `cargo build` at the workspace
//! root first. They look in `$CARGO_TARGET_DIR/debug` and then
//! `target/debug`, and fail with that instruction when it is missing.
//! The flash-sale smoke also needs `redis-server` and `redis-benchmark`,
//! and a server with flash sales (issue 3).

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
