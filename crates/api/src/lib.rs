//! The caseledger HTTP API: the axum router over [`caseledger_app::App`].
//!
//! Central types: [`AppState`] (what every handler gets), [`ApiError`] (every failure as an
//! RFC 9457 problem), the extractors in [`extract`] (authentication, JSON bodies that fail in
//! our problem shape, command headers) and [`openapi::ApiDoc`]. Handlers stay thin: request
//! type → app call → response type. This crate knows nothing of sled or of any store.

pub mod docs;
pub mod error;
pub mod extract;
pub mod guards;
pub mod metrics;

use sha2::Digest as _;
pub mod openapi;
pub mod routes;
pub mod types;

use std::sync::Arc;
use std::time::Duration;

use caseledger_app::App;

pub use error::ApiError;

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

/// What every handler gets.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The service.
    pub app: Arc<App>,
    /// The HTTP layer's limits.
    pub config: ApiConfig,
    /// Renders the Prometheus metrics.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Rates and bounds per caller, built from `config`.
    pub guards: Arc<guards::Guards>,
    /// The bearer token `/metrics` requires, when one is set (`--metrics-token-file`).
    pub metrics_token: Option<MetricsToken>,
}

/// The token that `/metrics` requires, kept only as its SHA-256 and compared in constant time.
#[derive(Clone)]
pub struct MetricsToken {
    hash: [u8; 32],
}

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("MetricsToken(…)")
    }
}

impl MetricsToken {
    /// The token `token` (surrounding whitespace is not part of it).
    pub fn new(token: &str) -> MetricsToken {
        MetricsToken {
            hash: sha2::Sha256::digest(token.trim().as_bytes()).into(),
        }
    }

    /// Whether `presented` is the token. Both sides are hashed first, so the comparison takes
    /// the same time whatever the presented token's length or content.
    pub fn matches(&self, presented: &str) -> bool {
        use subtle::ConstantTimeEq as _;
        let presented: [u8; 32] = sha2::Sha256::digest(presented.as_bytes()).into();
        bool::from(presented.ct_eq(&self.hash))
    }
}

impl AppState {
    /// State over `app` with `config`, without a metrics recorder.
    pub fn new(app: Arc<App>, config: ApiConfig) -> AppState {
        let guards = Arc::new(guards::Guards::new(
            config.token_rate,
            config.address_rate,
            config.whole_log_reads_per_token,
        ));
        AppState {
            app,
            config,
            metrics: None,
            guards,
            metrics_token: None,
        }
    }

    /// Requires `token` as the bearer token of `/metrics`.
    pub fn with_metrics_token(mut self, token: MetricsToken) -> Self {
        self.metrics_token = Some(token);
        self
    }

    /// Serves `/metrics` from this Prometheus recorder.
    pub fn with_metrics(mut self, handle: metrics_exporter_prometheus::PrometheusHandle) -> Self {
        self.metrics = Some(handle);
        self
    }
}

/// The whole API as one router, with its middleware.
pub fn router(state: AppState) -> axum::Router {
    routes::router(state)
}
