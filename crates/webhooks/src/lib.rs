//! Webhook feeds for partner departments (contract §7): what each department may learn of the
//! cases shared with it, signed as the Standard Webhooks specification says, delivered in order
//! and at least once, and never with a complainant's personal data.
//!
//! Central types:
//! - [`FeedProjection`], every department's ordered feed of messages, built from the log (the
//!   pull feed reads it as it is; delivery reads it after each endpoint's cursor);
//! - [`Registry`], the endpoints with their secrets, cursors and attempt logs;
//! - [`Deliverer`], the delivery worker: one step ([`Deliverer::try_deliver_next`]) under a
//!   loop of one lane per endpoint;
//! - [`sign`] and [`RetrySchedule`], the pure rules of signing and retrying.
//!
//! The message bodies are a public schema ([`payload`]). This crate knows nothing of the HTTP
//! server side (routes, tokens, roles) nor of the case projection; the app wires it in.
#![warn(missing_docs)]

pub mod delivery;
pub mod egress;
pub mod endpoint;
pub mod error;
pub mod feed;
pub mod payload;
pub mod schedule;
pub mod signing;

pub use delivery::{Deliverer, DeliveryConfig, DeliveryOutcome, Jitter, NoJitter, RandomJitter};
pub use egress::{
    forbidden_range, parse_cidr, EgressPolicy, EgressRefusal, HostLookup, IpNet, StaticLookup,
    SystemLookup,
};
pub use endpoint::{
    validate_endpoint, validate_url, AttemptOutcome, DeliveryAttempt, DeliveryState, Endpoint,
    EndpointStatus, EndpointView, EndpointWithSecret, NewEndpoint, Registry, ValidEndpoint,
};
pub use error::WebhookError;
pub use feed::{
    FeedCursor, FeedEntry, FeedHead, FeedKey, FeedMessage, FeedOutcome, FeedPage, FeedProjection,
};
pub use payload::{message_types, AuditCheckpoint, CaseSnapshot, MessageBody};
pub use schedule::{parse_retry_after, InvalidSchedule, RetrySchedule, DEFAULT_RETRY_SCHEDULE};
pub use signing::{sign, signature_header, InvalidSecret, Secret};
