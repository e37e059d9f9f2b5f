//! The HTTP layer's limits and waits ([`ApiConfig`]), with their defaults; the binary fills
//! them from its flags, file and environment.

use std::time::Duration;

use crate::guards;

/// Limits and waits of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The largest request body accepted; larger ones get 413.
    pub body_limit_bytes: usize,
    /// How long a read with `?min_position=` waits for the log before answering 503.
    pub read_wait: Duration,
    /// How long a request may take in all before it is answered 503.
    pub request_timeout: Duration,
    /// How long a client may take to send a request's body before it is answered 408.
    pub body_read_timeout: Duration,
    /// Requests per token (`None`: unlimited); 429 beyond.
    pub token_rate: Option<guards::Rate>,
    /// Requests without a valid token per client address (`None`: unlimited); 429 beyond.
    pub address_rate: Option<guards::Rate>,
    /// Whole-log reads (verify, export, statistics, backup) one token runs at once; 429 beyond.
    pub whole_log_reads_per_token: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            body_limit_bytes: 1024 * 1024,
            read_wait: Duration::from_secs(3),
            request_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(10),
            token_rate: guards::Rate::new(
                guards::DEFAULT_TOKEN_RATE.0,
                guards::DEFAULT_TOKEN_RATE.1,
            ),
            address_rate: guards::Rate::new(
                guards::DEFAULT_ADDRESS_RATE.0,
                guards::DEFAULT_ADDRESS_RATE.1,
            ),
            whole_log_reads_per_token: guards::DEFAULT_WHOLE_LOG_READS_PER_TOKEN,
        }
    }
}
