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
