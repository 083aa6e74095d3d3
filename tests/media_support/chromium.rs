//! Headless Chromium for media tests: launch a page with a fake camera and
//! microphone, and wait for what it reports. Fails (does not skip) when
//! `/usr/bin/chromium` is missing.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Opens `url` in a new headless Chromium with its own profile directory.
pub fn launch(url: String, profile: &Path) -> Child {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is required for this test (tests/run-all installs it)"
    );
    Command::new(CHROMIUM)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            "--autoplay-policy=no-user-gesture-required",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// Polls `check` every 100 ms until it holds; panics after `patience`.
pub async fn wait_for(what: &str, patience: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + patience;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
