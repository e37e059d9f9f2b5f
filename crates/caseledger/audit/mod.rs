//! The audit tools that work offline: `caseledger audit verify` ([`verify`], with downloaded
//! files checked against the chain by [`attachments`]) and `caseledger audit replay`
//! ([`replay`]) on an export, with no server and no data dir; `caseledger audit
//! verify-inclusion` and `verify-consistency` ([`proofs`]) on a proof and signed checkpoints;
//! and `caseledger audit export` ([`export`]) from a stopped service's data dir.

pub mod attachments;
pub mod export;
pub mod lines;
pub mod proofs;
pub mod replay;
pub mod verify;
