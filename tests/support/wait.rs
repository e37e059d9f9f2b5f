//! Waiting for background work without a fixed sleep: [`until`] polls a condition until it
//! holds and fails the test, naming what it waited for, when a deadline passes first.

use std::time::{Duration, Instant};

/// How often [`until`] looks again.
const POLL_EVERY: Duration = Duration::from_millis(10);

/// Returns as soon as `done` holds; panics with `what` when it still does not after `within`.
pub async fn until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(POLL_EVERY).await;
    }
}
