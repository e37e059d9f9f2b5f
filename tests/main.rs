//! The integration tests: the real HTTP service on a loopback port over a fresh sled store (or
//! a fresh PostgreSQL database with `CASELEDGER_TEST_STORE=postgres`), started through the same
//! `Server` as `caseledger serve` or as the real binary, driven with a plain HTTP client the
//! way officers' tools, partner departments and auditors drive it.
//!
//! One test binary (`autotests = false`), one module per concern. `support` owns the two ways
//! to start the service (`spawn_app` in process, `support::binary` for the binary), the request
//! helpers and the waits; the other modules own no setup of their own beyond their fixtures.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on purpose; an unwrap is an assertion here"
)]

mod attachments;
mod backup;
mod bad_input;
mod calendar;
mod concurrency;
mod console_accounts;
mod console_admin;
mod console_audit;
mod console_browser;
mod console_cases;
mod console_dashboard;
mod console_partner;
mod crash;
mod database_loss;
mod demo;
mod deploy;
mod egress;
mod erasure;
mod letters;
mod lifecycle;
mod openapi;
mod postgres;
mod privacy;
mod proofs;
mod resilience;
mod roles;
mod smaller;
mod stalls;
mod support;
mod users_api;
