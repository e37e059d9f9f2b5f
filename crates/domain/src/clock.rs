//! The one clock of the workspace: a trait the services take as an argument, and the system's
//! clock that production passes. Nothing in this crate reads it; `decide` gets the time as
//! [`crate::Context::now`].
//!
//! It owns telling the time, nothing else: no timers, no async, no other I/O.

use chrono::{DateTime, Utc};

/// Tells the time. Production uses [`SystemClock`]; tests pass a clock they control.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The operating system's clock, truncated to whole microseconds so timestamps survive a round
/// trip through every store unchanged.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        let now = Utc::now();
        DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
    }
}
