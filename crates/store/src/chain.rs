//! The hash chain over the log, and its verification.
//!
//! `hash = hex(SHA-256(prev_hash + "\n" + canonical(envelope without "hash")))`, where
//! `canonical` is RFC 8785 JSON and the first event's `prev_hash` is 64 zeros. The log stores
//! every envelope as its canonical bytes (hash included), so an export is the stored bytes and a
//! verifier needs nothing but this module. Its reference check parses each envelope as plain
//! JSON, so it checks exactly what an auditor's own verifier in another language would check;
//! lines whose bytes are already canonical are checked faster by hashing the bytes themselves
//! (see `canonical`), with the same outcome.
//!
//! This module owns sealing an envelope and verifying a sequence of them; it does no I/O.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::canonical;

// `ChainHash` lives with the other values of the log; re-exported here, where the chain's
// users have always found it.
pub use crate::types::ChainHash;
use crate::types::{Head, Position, Recorded, StoreError, Version};

/// The chain hash of an envelope, given the previous hash and the canonical bytes of the
/// envelope without its `hash` member.
pub fn link_hash(prev_hash: &ChainHash, canonical_without_hash: &[u8]) -> ChainHash {
    let mut hasher = link_hasher(prev_hash);
    hasher.update(canonical_without_hash);
    ChainHash(hasher.finalize().into())
}

/// A SHA-256 state that has taken the part of the hash input before the envelope: the previous
/// hash in lowercase hex and a newline.
fn link_hasher(prev_hash: &ChainHash) -> Sha256 {
    let mut hasher = Sha256::new();
    hasher.update(lowercase_hex(prev_hash));
    hasher.update(b"\n");
    hasher
}

/// The 64 lowercase hex digits of `hash`, on the stack: verifying an envelope writes two of
/// these and should allocate nothing for them.
fn lowercase_hex(hash: &ChainHash) -> [u8; 64] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = [0u8; 64];
    for (pair, byte) in hex.chunks_exact_mut(2).zip(hash.0) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0x0f)];
    }
    hex
}

/// Builds the envelope of `event` at `position`/`version` after `prev_hash`, and returns it
/// with its canonical bytes (hash included) — the form the log stores and exports.
pub fn seal<E: Serialize + Clone>(
    position: Position,
    version: Version,
    event: &E,
    prev_hash: ChainHash,
) -> Result<(Recorded<E>, Vec<u8>), StoreError> {
    let object = match serde_json::to_value(event) {
        Ok(serde_json::Value::Object(object)) => object,
        Ok(_) => {
            return Err(StoreError::Encode(
                "an event must serialise to a JSON object".into(),
            ))
        }
        Err(error) => return Err(StoreError::Encode(error.to_string())),
    };
    let (hash, bytes) = seal_object(position, version, object, prev_hash)?;
    let recorded = Recorded {
        position,
        version,
        event: event.clone(),
        prev_hash,
        hash,
    };
    Ok((recorded, bytes))
}

/// [`seal`] for an event already encoded as a JSON object: adds `position`, `version` and
/// `prev_hash`, computes the hash, and returns it with the canonical envelope bytes.
pub fn seal_object(
    position: Position,
    version: Version,
    mut envelope: serde_json::Map<String, serde_json::Value>,
    prev_hash: ChainHash,
) -> Result<(ChainHash, Vec<u8>), StoreError> {
    for reserved in ["position", "version", "prev_hash", "hash"] {
        if envelope.contains_key(reserved) {
            return Err(StoreError::Encode(format!(
                "an event may not carry the envelope field `{reserved}`"
            )));
        }
    }
    envelope.insert("position".into(), position.0.into());
    envelope.insert("version".into(), version.0.into());
    envelope.insert("prev_hash".into(), prev_hash.to_hex().into());
    // The stored envelope and the hashed one differ by the `hash` member alone, so each member
    // is canonicalised once and the two objects are assembled from the same members: the
    // writer thread pays for one canonicalisation per event, not two.
    let mut members = CanonicalMembers::new(envelope)?;
    let unhashed = members.object();
    let hash = link_hash(&prev_hash, &unhashed);
    members.insert("hash", &serde_json::Value::String(hash.to_hex()))?;
    Ok((hash, members.object()))
}

/// The members of a JSON object, each as canonical `"key":value` bytes, in RFC 8785 order (keys
/// compared by their UTF-16 code units).
struct CanonicalMembers {
    members: Vec<(String, Vec<u8>)>,
}

impl CanonicalMembers {
    fn new(object: serde_json::Map<String, serde_json::Value>) -> Result<Self, StoreError> {
        let mut members = CanonicalMembers {
            members: Vec::with_capacity(object.len() + 1),
        };
        for (key, value) in &object {
            members.insert(key, value)?;
        }
        Ok(members)
    }

    fn insert(&mut self, key: &str, value: &serde_json::Value) -> Result<(), StoreError> {
        // RFC 8785 writes a property name exactly as it writes a string value.
        let mut member = canonical(&serde_json::Value::String(key.to_owned()))?;
        member.push(b':');
        member.extend_from_slice(&canonical(value)?);
        let index = self
            .members
            .partition_point(|(existing, _)| existing.encode_utf16().lt(key.encode_utf16()));
        self.members.insert(index, (key.to_owned(), member));
        Ok(())
    }

    fn object(&self) -> Vec<u8> {
        let length = self
            .members
            .iter()
            .map(|(_, member)| member.len() + 1)
            .sum::<usize>()
            + 2;
        let mut bytes = Vec::with_capacity(length);
        bytes.push(b'{');
        for (index, (_, member)) in self.members.iter().enumerate() {
            if index > 0 {
                bytes.push(b',');
            }
            bytes.extend_from_slice(member);
        }
        bytes.push(b'}');
        bytes
    }
}

fn canonical(value: &serde_json::Value) -> Result<Vec<u8>, StoreError> {
    serde_jcs::to_vec(value).map_err(|error| StoreError::Encode(error.to_string()))
}

/// Why an envelope breaks the chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainFault {
    /// The line is not JSON.
    #[error("not valid JSON: {0}")]
    NotJson(String),
    /// The line is JSON but not an envelope.
    #[error("not an envelope: {0}")]
    NotAnEnvelope(String),
    /// The position is not the next one: an event was dropped, inserted or moved.
    #[error(
        "expected position {expected}, found {found} (an event was dropped, inserted or reordered)"
    )]
    PositionOutOfSequence {
        /// The position that should come next.
        expected: u64,
        /// The position found.
        found: u64,
    },
    /// `prev_hash` does not name the previous envelope's hash.
    #[error(
        "prev_hash does not match the hash of position {previous} (the chain was cut or spliced)"
    )]
    BrokenLink {
        /// The previous position.
        previous: u64,
    },
    /// The hash does not match the envelope's content.
    #[error("hash does not match the content (the event was edited)")]
    HashMismatch,
}

/// The first place where a chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("position {position}: {fault}")]
pub struct ChainError {
    /// The first bad position (the position the envelope should have had, when its own is
    /// unreadable).
    pub position: Position,
    /// What is wrong there.
    pub fault: ChainFault,
}

/// Verifies envelopes one after another, in constant memory.
///
/// ```
/// use caseledger_store::chain::{seal, ChainVerifier, ChainFault};
/// use caseledger_store::{Position, Version};
///
/// let event = serde_json::json!({"type": "NoteAdded", "data": {"text": "hello"}});
/// let (first, line) = seal(Position(1), Version(1), &event, Default::default()).unwrap();
/// let mut verifier = ChainVerifier::new();
/// assert_eq!(verifier.verify(&line).unwrap().hash, first.hash);
///
/// // An edited envelope is caught at its position.
/// let (_, second) = seal(Position(2), Version(2), &event, first.hash).unwrap();
/// let edited = String::from_utf8(second).unwrap().replace("hello", "HELLO");
/// let error = verifier.verify(edited.as_bytes()).unwrap_err();
/// assert_eq!(error.position, Position(2));
/// assert_eq!(error.fault, ChainFault::HashMismatch);
/// ```
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    head: Head,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self::new()
    }
}

impl ChainVerifier {
    /// A verifier expecting the first event of a log.
    pub fn new() -> Self {
        Self::resume(Head::EMPTY)
    }

    /// A verifier expecting the event after `head`.
    pub fn resume(head: Head) -> Self {
        ChainVerifier { head }
    }

    /// The last verified position and hash.
    pub fn head(&self) -> Head {
        self.head
    }

    /// Checks the next envelope, given as its JSON bytes, and advances on success.
    ///
    /// A line that is already canonical JSON (as the log writes every line) is checked without
    /// being parsed: its own bytes, less the `hash` member, are what gets hashed. Any other
    /// line, and any line that fails the check, goes through [`verify_reparsing`], so the
    /// outcome is always the one that method gives — the same head, or the same error at the
    /// same position.
    ///
    /// [`verify_reparsing`]: ChainVerifier::verify_reparsing
    pub fn verify(&mut self, envelope: &[u8]) -> Result<Head, ChainError> {
        match self.verify_canonical(envelope) {
            Some(head) => {
                self.head = head;
                Ok(head)
            }
            None => self.verify_reparsing(envelope),
        }
    }

    /// The fast path of [`verify`](ChainVerifier::verify): the head after `envelope` if its
    /// bytes are canonical and it continues the chain; `None` if the scanner cannot vouch for
    /// the bytes or anything at all is wrong, leaving the verdict to the slow path. It never
    /// reports a fault itself, so the faults and their precedence live in one place.
    fn verify_canonical(&self, envelope: &[u8]) -> Option<Head> {
        let scan = canonical::scan_envelope(envelope)?;
        let expected = self.head.position.next();
        if scan.position != expected.0 {
            return None;
        }
        // The hashes are compared as the lowercase hex the log writes rather than decoded:
        // decoding cost as much as a third of the hashing. Other spellings that decode to the
        // same hash (uppercase digits) are left to the slow path, which accepts them.
        if scan.prev_hash.as_bytes() != lowercase_hex(&self.head.hash) {
            return None;
        }
        // Canonical bytes less the `hash` member are the canonical form of the envelope
        // without it, so the two slices around the member are the hash input as they stand.
        let mut hasher = link_hasher(&self.head.hash);
        hasher.update(&envelope[..scan.hash_member.start]);
        hasher.update(&envelope[scan.hash_member.end..]);
        let hash = ChainHash(hasher.finalize().into());
        if scan.hash.as_bytes() != lowercase_hex(&hash) {
            return None;
        }
        Some(Head {
            position: expected,
            hash,
        })
    }

    /// Checks the next envelope the way any outside verifier would, and advances on success:
    /// parses the line as JSON, removes `hash`, and writes the rest as RFC 8785 JSON to hash
    /// it. [`verify`](ChainVerifier::verify) gives the same results faster; this is the
    /// reference it falls back to and is tested against.
    ///
    /// ```
    /// use caseledger_store::chain::{seal, ChainVerifier, ChainFault};
    /// use caseledger_store::{Position, Version};
    ///
    /// let event = serde_json::json!({"type": "NoteAdded", "data": {"text": "hello"}});
    /// let (first, line) = seal(Position(1), Version(1), &event, Default::default()).unwrap();
    /// // Spaces and key order do not matter here: the value is what is hashed.
    /// let value: serde_json::Value = serde_json::from_slice(&line).unwrap();
    /// let pretty = serde_json::to_vec_pretty(&value).unwrap();
    /// let mut verifier = ChainVerifier::new();
    /// assert_eq!(verifier.verify_reparsing(&pretty).unwrap().hash, first.hash);
    ///
    /// // The same line again is out of sequence.
    /// let error = verifier.verify_reparsing(&line).unwrap_err();
    /// assert_eq!(error.fault, ChainFault::PositionOutOfSequence { expected: 2, found: 1 });
    /// ```
    pub fn verify_reparsing(&mut self, envelope: &[u8]) -> Result<Head, ChainError> {
        let expected = self.head.position.next();
        let fail = |fault| ChainError {
            position: expected,
            fault,
        };
        let mut value: serde_json::Value = serde_json::from_slice(envelope)
            .map_err(|error| fail(ChainFault::NotJson(error.to_string())))?;
        let object = value
            .as_object_mut()
            .ok_or_else(|| fail(ChainFault::NotAnEnvelope("not a JSON object".into())))?;
        let position = object
            .get("position")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| {
                fail(ChainFault::NotAnEnvelope(
                    "`position` is missing or not a whole number".into(),
                ))
            })?;
        if position != expected.0 {
            return Err(fail(ChainFault::PositionOutOfSequence {
                expected: expected.0,
                found: position,
            }));
        }
        let hash = take_hash(object.remove("hash"), "hash").map_err(fail)?;
        let prev_hash = take_hash(object.get("prev_hash").cloned(), "prev_hash").map_err(fail)?;
        if prev_hash != self.head.hash {
            return Err(fail(ChainFault::BrokenLink {
                previous: self.head.position.0,
            }));
        }
        let unhashed = serde_jcs::to_vec(&value)
            .map_err(|error| fail(ChainFault::NotAnEnvelope(error.to_string())))?;
        if link_hash(&prev_hash, &unhashed) != hash {
            return Err(fail(ChainFault::HashMismatch));
        }
        self.head = Head {
            position: expected,
            hash,
        };
        Ok(self.head)
    }
}

fn take_hash(value: Option<serde_json::Value>, field: &str) -> Result<ChainHash, ChainFault> {
    value
        .as_ref()
        .and_then(serde_json::Value::as_str)
        .and_then(ChainHash::from_hex)
        .ok_or_else(|| {
            ChainFault::NotAnEnvelope(format!("`{field}` is missing or not 64 hex digits"))
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;
    use serde_json::json;

    fn chain_of(count: u64) -> Vec<Vec<u8>> {
        let mut prev = ChainHash::GENESIS;
        (1..=count)
            .map(|n| {
                let event = json!({"type": "NoteAdded", "data": {"text": format!("note {n}")}});
                let (recorded, bytes) = seal(Position(n), Version(n), &event, prev).unwrap();
                prev = recorded.hash;
                bytes
            })
            .collect()
    }

    fn verify_all(lines: &[Vec<u8>]) -> Result<Head, ChainError> {
        let mut verifier = ChainVerifier::new();
        for line in lines {
            verifier.verify(line)?;
        }
        Ok(verifier.head())
    }

    #[test]
    fn hash_follows_the_published_formula() {
        let event = json!({"b": 1, "a": "x"});
        let (recorded, bytes) = seal(Position(1), Version(1), &event, ChainHash::GENESIS).unwrap();
        let unhashed = format!(
            r#"{{"a":"x","b":1,"position":1,"prev_hash":"{}","version":1}}"#,
            "0".repeat(64)
        );
        let mut hasher = Sha256::new();
        hasher.update(format!("{}\n{}", "0".repeat(64), unhashed));
        let expected = hex::encode(hasher.finalize());
        assert_eq!(recorded.hash.to_hex(), expected);
        let stored = String::from_utf8(bytes).unwrap();
        assert_eq!(
            stored,
            format!(
                r#"{{"a":"x","b":1,"hash":"{expected}","position":1,"prev_hash":"{}","version":1}}"#,
                "0".repeat(64)
            )
        );
    }

    #[test]
    fn sealing_assembles_exactly_the_canonical_json_of_the_whole_envelope() {
        let event = json!({
            "type": "CaseOpened",
            "id": "0193",
            "case_id": "c",
            "actor": {"name": "李", "role": "officer", "token_id": null, "department": null},
            "data": {"title": "粉尘 \"quoted\" \n tab\t", "b": [3, 2, 1], "a": {"z": 1, "y": true}},
            "at": "2026-11-29T08:00:00Z",
            "\u{e000}private": 1,
            "\u{1f600}emoji": 2,
        });
        let serde_json::Value::Object(object) = event else {
            unreachable!()
        };
        let prev = ChainHash([9; 32]);
        let (hash, bytes) = seal_object(Position(7), Version(3), object.clone(), prev).unwrap();

        let mut whole = object;
        whole.insert("position".into(), 7.into());
        whole.insert("version".into(), 3.into());
        whole.insert("prev_hash".into(), prev.to_hex().into());
        let unhashed = serde_jcs::to_vec(&whole).unwrap();
        assert_eq!(hash, link_hash(&prev, &unhashed));
        whole.insert("hash".into(), hash.to_hex().into());
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            String::from_utf8(serde_jcs::to_vec(&whole).unwrap()).unwrap()
        );
    }

    #[test]
    fn an_intact_chain_verifies() {
        let lines = chain_of(5);
        assert_eq!(verify_all(&lines).unwrap().position, Position(5));
    }

    #[test]
    fn every_kind_of_tamper_is_caught_at_its_position() {
        let lines = chain_of(5);

        let mut dropped = lines.clone();
        dropped.remove(2);
        let error = verify_all(&dropped).unwrap_err();
        assert_eq!(error.position, Position(3));
        assert!(matches!(
            error.fault,
            ChainFault::PositionOutOfSequence {
                expected: 3,
                found: 4
            }
        ));

        let mut reordered = lines.clone();
        reordered.swap(1, 2);
        assert_eq!(verify_all(&reordered).unwrap_err().position, Position(2));

        let mut edited = lines.clone();
        edited[3] = String::from_utf8(edited[3].clone())
            .unwrap()
            .replace("note 4", "note X")
            .into_bytes();
        let error = verify_all(&edited).unwrap_err();
        assert_eq!(
            (error.position, error.fault),
            (Position(4), ChainFault::HashMismatch)
        );

        // A rewritten tail whose hashes were recomputed from a forged start still fails
        // where it meets the untouched part of the chain.
        let mut spliced = chain_of(3);
        let forged_event = json!({"type": "NoteAdded", "data": {"text": "forged"}});
        let (_, forged) = seal(Position(4), Version(4), &forged_event, ChainHash([7; 32])).unwrap();
        spliced.push(forged);
        let error = verify_all(&spliced).unwrap_err();
        assert_eq!(error.position, Position(4));
        assert!(matches!(
            error.fault,
            ChainFault::BrokenLink { previous: 3 }
        ));

        let garbage = vec![b"{not json".to_vec()];
        assert!(matches!(
            verify_all(&garbage).unwrap_err().fault,
            ChainFault::NotJson(_)
        ));
    }

    #[test]
    fn a_truncated_chain_is_a_valid_prefix() {
        let lines = chain_of(5);
        assert_eq!(verify_all(&lines[..3]).unwrap().position, Position(3));
    }

    #[test]
    fn the_fast_path_and_the_reparsing_path_agree_on_every_tamper() {
        let lines = chain_of(4);
        let mut cases: Vec<Vec<Vec<u8>>> = vec![lines.clone()];
        // Every single-byte edit of the third line: each must end exactly as the slow path
        // says, whether the scanner vouches for the edited bytes or not.
        for index in 0..lines[2].len() {
            for replacement in [b' ', b'0', b'9', b'"', b'\\', b'a', b'}', 0xff] {
                let mut edited = lines.clone();
                edited[2][index] = replacement;
                cases.push(edited);
            }
        }
        for case in cases {
            let mut fast = ChainVerifier::new();
            let mut slow = ChainVerifier::new();
            for line in &case {
                let outcome = fast.verify(line);
                assert_eq!(outcome, slow.verify_reparsing(line));
                if outcome.is_err() {
                    break;
                }
            }
        }
    }

    #[test]
    fn a_hash_in_uppercase_hex_is_left_to_the_slow_path_which_accepts_it() {
        // The `hash` member is not part of what is hashed, so its spelling is free; the fast
        // path compares it as lowercase hex and must hand any other spelling on. (`prev_hash`
        // is hashed, so another spelling of it is a content change.)
        let lines = chain_of(2);
        let mut verifier = ChainVerifier::new();
        verifier.verify(&lines[0]).unwrap();
        let mut reference = ChainVerifier::new();
        reference.verify(&lines[0]).unwrap();
        let expected = reference.verify(&lines[1]).unwrap();
        let hash = expected.hash.to_hex();
        let upper = String::from_utf8(lines[1].clone())
            .unwrap()
            .replace(&hash, &hash.to_uppercase())
            .into_bytes();
        assert_ne!(upper, lines[1]);
        assert_eq!(verifier.verify_canonical(&upper), None);
        let mut slow = verifier.clone();
        assert_eq!(verifier.verify(&upper), Ok(expected));
        assert_eq!(slow.verify_reparsing(&upper), Ok(expected));
    }

    #[test]
    fn canonical_envelopes_take_the_fast_path() {
        let lines = chain_of(3);
        let mut verifier = ChainVerifier::new();
        for line in &lines {
            let head = verifier.verify_canonical(line).unwrap();
            assert_eq!(verifier.verify_reparsing(line).unwrap(), head);
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;
        use serde_json::{Map, Number, Value};

        /// Strings rich in what canonical JSON treats specially: controls, quotes, backslashes,
        /// `/`, DEL, and characters on both sides of the UTF-8/UTF-16 order difference.
        fn json_string() -> impl Strategy<Value = String> {
            let special = prop::sample::select(vec![
                '"',
                '\\',
                '/',
                '\u{7f}',
                ' ',
                'é',
                '粉',
                '\u{d7ff}',
                '\u{e000}',
                '\u{f8ff}',
                '\u{ffff}',
                '\u{10000}',
                '\u{1f600}',
                '\u{10ffff}',
            ]);
            let character = prop_oneof![
                4 => proptest::char::range('a', 'e'),
                1 => proptest::char::range('\u{0}', '\u{1f}'),
                2 => special,
                1 => any::<char>(),
            ];
            proptest::collection::vec(character, 0..5).prop_map(String::from_iter)
        }

        const EXACT: i64 = 1 << 53;

        fn json_number() -> impl Strategy<Value = Value> {
            prop_oneof![
                (-1000i64..1000).prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<u64>().prop_map(Value::from),
                (EXACT - 3..=EXACT + 3).prop_map(Value::from),
                (-EXACT - 3..=-EXACT + 3).prop_map(Value::from),
                (-1000i32..1000).prop_map(|n| Value::from(f64::from(n))),
                (-1000i32..1000).prop_map(|n| Value::from(f64::from(n) / 8.0)),
                any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
            ]
        }

        fn json_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                json_number(),
                json_string().prop_map(Value::String),
            ];
            leaf.prop_recursive(4, 48, 6, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    proptest::collection::btree_map(json_string(), inner, 0..6)
                        .prop_map(|members| Value::Object(members.into_iter().collect())),
                ]
            })
        }

        /// An event: an object without the envelope's own members. Keys are often short so
        /// that some sort before `hash` and some after it.
        fn json_event() -> impl Strategy<Value = Map<String, Value>> {
            proptest::collection::btree_map(json_string(), json_value(), 0..6).prop_map(|members| {
                members
                    .into_iter()
                    .filter(|(key, _)| {
                        !["position", "version", "prev_hash", "hash"].contains(&key.as_str())
                    })
                    .collect()
            })
        }

        /// Whether every number in `value` is one `serde_jcs` writes as an integer the scanner
        /// accepts. `serde_jcs` writes each number through an `f64`, so what counts is that
        /// `f64`: integral and no larger in magnitude than 2^53 (2^53 + 1 is written as 2^53).
        fn in_fast_subset(value: &Value) -> bool {
            match value {
                Value::Number(number) => number
                    .as_f64()
                    .is_some_and(|float| float.fract() == 0.0 && float.abs() <= EXACT as f64),
                Value::Array(values) => values.iter().all(in_fast_subset),
                Value::Object(members) => members.values().all(in_fast_subset),
                _ => true,
            }
        }

        /// The line as written by `encoding`: 0 as sealed, 1 compact `serde_json` (keys in
        /// byte order), 2 pretty-printed.
        fn encode(line: &[u8], encoding: u8) -> Vec<u8> {
            let value: Value = serde_json::from_slice(line).unwrap();
            match encoding {
                0 => line.to_vec(),
                1 => serde_json::to_vec(&value).unwrap(),
                _ => serde_json::to_vec_pretty(&value).unwrap(),
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn canonical_lines_take_the_fast_path_with_the_slow_paths_hash(
                event in json_event(),
                position in 1u64..1_000_000,
                prev in any::<[u8; 32]>(),
            ) {
                let prev = ChainHash(prev);
                let fast_subset = in_fast_subset(&Value::Object(event.clone()));
                let (hash, line) =
                    seal_object(Position(position), Version(1), event, prev).unwrap();
                let head = Head { position: Position(position - 1), hash: prev };
                let scanned = canonical::scan_envelope(&line);
                prop_assert_eq!(scanned.is_some(), fast_subset);
                let expected = Head { position: Position(position), hash };
                if fast_subset {
                    prop_assert_eq!(
                        ChainVerifier::resume(head).verify_canonical(&line),
                        Some(expected)
                    );
                }
                prop_assert_eq!(ChainVerifier::resume(head).verify_reparsing(&line), Ok(expected));
                let mut verifier = ChainVerifier::resume(head);
                prop_assert_eq!(verifier.verify(&line), Ok(expected));
                prop_assert_eq!(verifier.head(), expected);
            }

            #[test]
            fn every_encoding_and_tamper_gives_the_slow_paths_verdict(
                event in json_event(),
                position in 1u64..1_000,
                encoding in 0u8..3,
                tamper in 0u8..5,
                index in any::<prop::sample::Index>(),
                byte in prop_oneof![any::<u8>(), prop::sample::select(b" 0123456789\",:{}[]\\hpa".to_vec())],
            ) {
                let prev = ChainHash([position as u8; 32]);
                let (_, sealed) = seal_object(Position(position), Version(1), event, prev).unwrap();
                let mut line = encode(&sealed, encoding);
                let mut head = Head { position: Position(position - 1), hash: prev };
                match tamper {
                    0 => {}
                    1 => {
                        let at = index.index(line.len());
                        line[at] = byte;
                    }
                    2 => {
                        line.remove(index.index(line.len()));
                    }
                    3 => head.position = Position(position),
                    _ => head.hash = ChainHash([!(position as u8); 32]),
                }
                let mut fast = ChainVerifier::resume(head);
                let mut slow = ChainVerifier::resume(head);
                prop_assert_eq!(fast.verify(&line), slow.verify_reparsing(&line));
                prop_assert_eq!(fast.head(), slow.head());
            }
        }
    }
}
