//! What every handler gets: [`AppState`] (the app, the HTTP limits, the guards, the metrics
//! recorder and the public base URL) and the [`MetricsToken`] that `/metrics` may require.

use std::sync::Arc;

use caseledger_app::App;
use sha2::Digest as _;

use crate::config::ApiConfig;
use crate::guards;

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
    /// The address people reach the service at (`--public-url`, without a trailing `/`): the
    /// base of the setup links the accounts routes answer with. `None`: the request's `Host`
    /// (see [`crate::extract::PublicBase`]).
    pub public_url: Option<String>,
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
            public_url: None,
        }
    }

    /// Requires `token` as the bearer token of `/metrics`.
    pub fn with_metrics_token(mut self, token: MetricsToken) -> Self {
        self.metrics_token = Some(token);
        self
    }

    /// Builds links (setup links) under `url`, the address people reach the service at.
    pub fn with_public_url(mut self, url: Option<String>) -> Self {
        self.public_url = url.map(|url| url.trim_end_matches('/').to_owned());
        self
    }

    /// Serves `/metrics` from this Prometheus recorder.
    pub fn with_metrics(mut self, handle: metrics_exporter_prometheus::PrometheusHandle) -> Self {
        self.metrics = Some(handle);
        self
    }
}
