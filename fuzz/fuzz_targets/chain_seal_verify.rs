//! Fuzz target: whatever JSON object the store seals into the chain, the verifier that audits
//! an export accepts, with the same hash. The store canonicalises each member on its own and
//! assembles the envelope (`chain::seal_object`); the verifier canonicalises the whole parsed
//! envelope with `serde_jcs`. Any disagreement — member order, number or string formatting —
//! would make an honest log look tampered with.
#![no_main]

use caseledger_store::chain::{seal_object, ChainHash};
use caseledger_store::{ChainVerifier, Position, Version};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(serde_json::Value::Object(object)) = serde_json::from_slice(data) else {
        return;
    };
    let Ok((hash, line)) = seal_object(Position(1), Version(1), object, ChainHash::GENESIS) else {
        return;
    };
    let mut verifier = ChainVerifier::new();
    match verifier.verify(&line) {
        Ok(head) => assert_eq!(head.hash, hash, "the verifier computed another hash"),
        Err(error) => panic!(
            "a sealed envelope does not verify: {error}\n{}",
            String::from_utf8_lossy(&line)
        ),
    }
});
