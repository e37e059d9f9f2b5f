//! The audit tools that work offline: `caseledger audit verify` ([`verify`]) and `caseledger
//! audit replay` ([`replay`]) on an export, with no server and no data dir, and `caseledger
//! audit export` ([`export`]) from a stopped service's data dir.

pub mod export;
pub mod replay;
pub mod verify;
