//! The command line refuses what it must refuse, before any load is made.

use std::process::Command;

fn loadtest(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_chophien-loadtest"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_non_loopback_target_is_refused() {
    let output = loadtest(&[
        "chat",
        "--quick",
        "--no-progress",
        "--url",
        "http://10.1.2.3:8080",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("only loopback addresses"), "{stderr}");
}

#[test]
fn a_missing_server_binary_is_reported_clearly() {
    let output = loadtest(&[
        "join",
        "--quick",
        "--no-progress",
        "--server-bin",
        "/nonexistent/chophien",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("/nonexistent/chophien does not exist"),
        "{stderr}"
    );
}

#[test]
fn several_nodes_on_the_memory_store_are_refused() {
    let output = loadtest(&[
        "chat",
        "--quick",
        "--no-progress",
        "--nodes",
        "2",
        "--store",
        "memory",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("only through Redis"), "{stderr}");
}

#[test]
fn every_url_must_be_loopback() {
    let output = loadtest(&[
        "chat",
        "--quick",
        "--no-progress",
        "--url",
        "http://127.0.0.1:1",
        "--url",
        "http://10.1.2.3:8080",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("only loopback addresses"), "{stderr}");
}

#[test]
fn a_comparison_spawns_its_own_nodes() {
    for extra in [
        &["--url", "http://127.0.0.1:1"][..],
        &["--nodes", "2"][..],
        &["--store", "redis"][..],
    ] {
        let mut args = vec!["flash-sale", "--quick", "--no-progress", "--compare-nodes"];
        args.extend_from_slice(extra);
        let output = loadtest(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("--compare-nodes spawns its own"),
            "{args:?}: {stderr}"
        );
    }
    let output = loadtest(&["chat", "--quick", "--no-progress", "--compare-nodes", "1"]);
    assert_eq!(output.status.code(), Some(2));
}
