//! Test support, one module per job: [`in_process`] starts the service inside the test through
//! the same `Server` as `caseledger serve` and gives a client for it ([`spawn_app`],
//! [`TestApp`]); [`binary`] runs the real `caseledger` binary as a child process; [`browser`]
//! drives the console in a real headless chromium over WebDriver (with axe-core and
//! screenshots); [`console_client`] is a cookie-keeping HTTP client for console pages;
//! [`fixtures`] holds the valid inputs; [`answers`] checks responses (the RFC 9457 problem
//! shape); [`wait`] waits for background work with a deadline instead of a fixed sleep.
//!
//! It owns no assertions about behaviour beyond the problem shape and those deadlines.

pub mod answers;
pub mod binary;
pub mod browser;
pub mod console_client;
pub mod fixtures;
pub mod in_process;
pub mod wait;

pub use answers::{
    assert_conflict, assert_invalid_field, assert_problem, check_problem_shape, expect_status,
    names_field,
};
pub use fixtures::{
    days_from_now, valid_case_body, COMPLAINANT_NAME, COMPLAINANT_PHONE, VALID_ID_NUMBER,
};
pub use in_process::{
    scratch_postgres, spawn_app, spawn_app_on_clock, spawn_app_with, spawn_sled_app_with, TestApp,
};
