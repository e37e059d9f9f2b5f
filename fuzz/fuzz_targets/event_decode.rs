//! Fuzz target: the event decoder. Arbitrary bytes decoded as a stored envelope
//! (`Recorded<StoredEvent>`, what every read of the log does) and as a bare `StoredEvent` must
//! never panic, and whatever decodes must encode and decode again to the same value.
#![no_main]

use caseledger_domain::StoredEvent;
use caseledger_store::Recorded;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = serde_json::from_slice::<StoredEvent>(data) {
        let encoded = serde_json::to_vec(&event).expect("a decoded event encodes");
        let again: StoredEvent =
            serde_json::from_slice(&encoded).expect("an encoded event decodes");
        assert_eq!(again, event, "the event changed on a round trip");
    }
    if let Ok(recorded) = serde_json::from_slice::<Recorded<StoredEvent>>(data) {
        let encoded = serde_json::to_vec(&recorded).expect("a decoded envelope encodes");
        let again: Recorded<StoredEvent> =
            serde_json::from_slice(&encoded).expect("an encoded envelope decodes");
        assert_eq!(again, recorded, "the envelope changed on a round trip");
    }
});
