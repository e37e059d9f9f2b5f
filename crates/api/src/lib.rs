//! The caseledger HTTP API: the axum router over [`caseledger_app::App`].
//!
//! Central types: [`AppState`] (what every handler gets), [`ApiError`] (every failure as an
//! RFC 9457 problem), the extractors in [`extract`] (authentication, JSON bodies that fail in
//! our problem shape, command headers) and [`router()`], which serves every route of
//! [`routes`] with the OpenAPI document those routes describe. Each route is written once, on
//! its handler (`#[utoipa::path]`), beside its request and response types. Handlers stay thin:
//! request type → app call → response type. This crate knows nothing of sled or of any store.

pub mod config;
pub mod error;
pub mod extract;
pub mod guards;
pub mod metrics;
pub mod openapi;
pub mod router;
pub mod routes;
pub mod state;
pub mod vocabulary;

pub use config::ApiConfig;
pub use error::ApiError;
pub use router::{openapi_document, router};
pub use state::{AppState, MetricsToken};
