//! What keeps one caller from taking the service from the others: request rates per token and,
//! for requests without a valid token, per client address (GCRA limiters of the `governor`
//! crate, answered 429 with `Retry-After`), and a bound on the whole-log reads (verify, export,
//! statistics, backup) each token runs at once.
//!
//! This module owns the limiters and their bookkeeping; the authentication extractor
//! ([`crate::extract::Authenticated`]) and the whole-log handlers apply them. It knows nothing
//! of what a request does. The per-address limiter is public ([`Guards::check_address`]) so that
//! a sign-in route can use it as it stands.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use crate::error::ApiError;

/// A sustained rate with a burst: `burst` requests at once, then `per_second` a second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests a second, sustained.
    pub per_second: NonZeroU32,
    /// Requests that may come at once after a quiet spell.
    pub burst: NonZeroU32,
}

impl Rate {
    /// `per_second` sustained with a burst of `burst`; `None` when either is 0.
    pub fn new(per_second: u32, burst: u32) -> Option<Rate> {
        Some(Rate {
            per_second: NonZeroU32::new(per_second)?,
            burst: NonZeroU32::new(burst)?,
        })
    }

    fn quota(self) -> Quota {
        Quota::per_second(self.per_second).allow_burst(self.burst)
    }
}

/// The default rate per token: far above what one officer's tool sends, and above what one
/// token drove the whole service to in its HTTP benchmark on two cores (about 21,000 requests a
/// second, `docs/benchmarks.md`), so that machine clients are not throttled by default; set it
/// to the expected workload in a deployment.
pub const DEFAULT_TOKEN_RATE: (u32, u32) = (20_000, 100_000);

/// The default rate per client address for requests without a valid token.
pub const DEFAULT_ADDRESS_RATE: (u32, u32) = (50, 500);

/// The default number of whole-log reads one token runs at once.
pub const DEFAULT_WHOLE_LOG_READS_PER_TOKEN: usize = 2;

/// How many checks pass between two sweeps of keys whose limiter state is back to full.
const SWEEP_EVERY: u64 = 4_096;

/// A keyed limiter that forgets keys that have been quiet long enough to be full again, so the
/// per-address one cannot be grown without bound by many addresses.
struct Keyed<K: Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    checks: AtomicU64,
}

impl<K: Hash + Eq + Clone> Keyed<K> {
    fn new(rate: Rate) -> Self {
        Keyed {
            limiter: DefaultKeyedRateLimiter::keyed(rate.quota()),
            checks: AtomicU64::new(0),
        }
    }

    /// `Ok` when `key` may send a request now; otherwise how long until it may.
    fn check(&self, key: &K) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// The limits in force, shared by every handler.
pub struct Guards {
    per_token: Option<Keyed<Uuid>>,
    per_address: Option<Keyed<IpAddr>>,
    whole_log_reads_per_token: usize,
    whole_log_reads: Mutex<HashMap<Uuid, Arc<Semaphore>>>,
}

impl std::fmt::Debug for Guards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guards")
            .field("per_token", &self.per_token.is_some())
            .field("per_address", &self.per_address.is_some())
            .field("whole_log_reads_per_token", &self.whole_log_reads_per_token)
            .finish()
    }
}

/// A whole-log read in progress; the token's slot is free again when it is dropped (for a
/// stream: when the stream ends or the client goes away).
#[derive(Debug)]
pub struct WholeLogPermit {
    _permit: OwnedSemaphorePermit,
}

impl Guards {
    /// Limiters for these rates (`None`: no limit) and this many whole-log reads per token.
    pub fn new(
        token_rate: Option<Rate>,
        address_rate: Option<Rate>,
        whole_log_reads_per_token: usize,
    ) -> Guards {
        Guards {
            per_token: token_rate.map(Keyed::new),
            per_address: address_rate.map(Keyed::new),
            whole_log_reads_per_token: whole_log_reads_per_token.max(1),
            whole_log_reads: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a request of the token `token_id`: 429 when the token is over its rate.
    pub fn check_token(&self, token_id: Uuid) -> Result<(), ApiError> {
        match &self.per_token {
            Some(limiter) => limiter.check(&token_id).map_err(|wait| {
                metrics::counter!("caseledger_http_rate_limited_total", "by" => "token")
                    .increment(1);
                ApiError::too_many_requests("this token is over its request rate", wait)
            }),
            None => Ok(()),
        }
    }

    /// Counts a request from `address` that carries no valid token (and, later, a sign-in
    /// attempt): 429 when the address is over its rate.
    pub fn check_address(&self, address: IpAddr) -> Result<(), ApiError> {
        match &self.per_address {
            Some(limiter) => limiter.check(&address).map_err(|wait| {
                metrics::counter!("caseledger_http_rate_limited_total", "by" => "address")
                    .increment(1);
                ApiError::too_many_requests(
                    "too many requests without a valid token from this address",
                    wait,
                )
            }),
            None => Ok(()),
        }
    }

    /// A slot for a whole-log read of `token_id`: 429 when the token already runs as many as it
    /// may.
    pub fn whole_log_read(&self, token_id: Uuid) -> Result<WholeLogPermit, ApiError> {
        let semaphore = {
            let mut reads = self
                .whole_log_reads
                .lock()
                .map_err(|_| ApiError::internal(&"the whole-log read slots were poisoned"))?;
            // Tokens whose reads all ended hold nothing worth keeping.
            if reads.len() > 1_024 {
                let full = self.whole_log_reads_per_token;
                reads.retain(|_, semaphore| semaphore.available_permits() < full);
            }
            reads
                .entry(token_id)
                .or_insert_with(|| Arc::new(Semaphore::new(self.whole_log_reads_per_token)))
                .clone()
        };
        semaphore
            .try_acquire_owned()
            .map(|permit| WholeLogPermit { _permit: permit })
            .map_err(|_| {
                metrics::counter!("caseledger_http_rate_limited_total", "by" => "whole_log_reads")
                    .increment(1);
                ApiError::too_many_requests(
                    format!(
                        "this token already runs {} whole-log reads (verify, export, statistics, \
                         backup) at once; wait for one to finish",
                        self.whole_log_reads_per_token
                    ),
                    Duration::from_secs(1),
                )
            })
    }
}

impl Default for Guards {
    fn default() -> Self {
        Guards::new(
            Rate::new(DEFAULT_TOKEN_RATE.0, DEFAULT_TOKEN_RATE.1),
            Rate::new(DEFAULT_ADDRESS_RATE.0, DEFAULT_ADDRESS_RATE.1),
            DEFAULT_WHOLE_LOG_READS_PER_TOKEN,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_over_its_burst_waits_and_another_token_does_not() {
        let guards = Guards::new(Rate::new(1, 3), None, 1);
        let (first, second) = (Uuid::now_v7(), Uuid::now_v7());
        for _ in 0..3 {
            assert!(guards.check_token(first).is_ok());
        }
        let refused = guards.check_token(first).expect_err("over the burst");
        assert_eq!(refused.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert!(guards.check_token(second).is_ok());
    }

    #[test]
    fn addresses_are_limited_apart() {
        let guards = Guards::new(None, Rate::new(1, 2), 1);
        let (one, other) = (IpAddr::from([127, 0, 0, 1]), IpAddr::from([127, 0, 0, 2]));
        assert!(guards.check_address(one).is_ok());
        assert!(guards.check_address(one).is_ok());
        assert!(guards.check_address(one).is_err());
        assert!(guards.check_address(other).is_ok());
        // No per-token limit configured: tokens pass.
        assert!(guards.check_token(Uuid::now_v7()).is_ok());
    }

    #[test]
    fn whole_log_reads_are_bounded_per_token_and_freed_on_drop() {
        let guards = Guards::new(None, None, 2);
        let token = Uuid::now_v7();
        let first = guards.whole_log_read(token).expect("a first slot");
        let _second = guards.whole_log_read(token).expect("a second slot");
        let refused = guards
            .whole_log_read(token)
            .expect_err("a third is refused");
        assert_eq!(refused.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert!(guards.whole_log_read(Uuid::now_v7()).is_ok());
        drop(first);
        assert!(guards.whole_log_read(token).is_ok());
    }
}
