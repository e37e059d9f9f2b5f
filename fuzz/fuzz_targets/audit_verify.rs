//! Fuzz target: the offline `caseledger audit verify` reader over arbitrary bytes — the
//! export's line splitter ([`caseledger::verify::ExportLines`]), the line-by-line
//! [`caseledger_store::ChainVerifier`] behind it, and the checkpoints parser. Nothing may
//! panic; a verdict or an I/O error are the only outcomes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let verdict = caseledger::verify::verify_reader(std::io::Cursor::new(data), None, |_| {});
    if let Ok(verdict) = verdict {
        // Rendering the verdict must not panic either.
        let _ = verdict.lines();
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = caseledger::verify::parse_checkpoints(text);
    }
});
