//! C2SP signed notes (c2sp.org/signed-note), the tlog checkpoints they carry
//! (c2sp.org/tlog-checkpoint) and the witnesses' timestamped Ed25519 cosignatures
//! (c2sp.org/tlog-cosignature, `cosignature/v1`), so that the log's head can be published in the
//! format transparency-log witnesses and verifiers already speak.
//!
//! This module owns the text formats and the signatures over them: [`CheckpointBody`] (origin,
//! tree size, root hash, extension lines), [`SignedNote`] (a text and its signature lines),
//! [`VerifierKey`] (the `name+keyid+key` strings that verifiers are configured with), and the
//! signing functions [`sign_note`] and [`cosign`]. It does no I/O, keeps no clock (timestamps are
//! arguments) and knows nothing of how the root hash was computed; the JSON checkpoints of
//! [`crate::checkpoint`] are a separate, older format and stay as they are.
//!
//! Parsing is strict where the specifications leave room: base64 must be canonical, key ids
//! lowercase hex, and a note is refused as a whole rather than repaired, because a verifier that
//! accepts two spellings of one note gives an attacker two notes to play with.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};

/// The largest note, in bytes, that [`SignedNote::parse`] and [`CheckpointBody::parse`] accept.
///
/// The signed-note specification asks verifiers to bound a note's size but to accept at least 16
/// signatures of up to about 5 kB each (post-quantum ones); a megabyte leaves room for a hundred
/// of those while keeping a hostile note from costing more than a megabyte of work.
pub const MAX_NOTE_BYTES: usize = 1_000_000;

/// The most signature lines [`SignedNote::parse`] accepts, the same bound as Go's
/// `golang.org/x/mod/sumdb/note`; the specification requires at least 16.
pub const MAX_SIGNATURES: usize = 100;

/// The largest cosignature timestamp: tlog-cosignature says it "MUST NOT exceed 2^63 - 1".
pub const MAX_COSIGNATURE_TIMESTAMP: u64 = (1 << 63) - 1;

/// Every signature line starts with an em dash (U+2014) and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// The signature type byte of Ed25519 note signatures (signed-note).
const TYPE_ED25519: u8 = 0x01;

/// The signature type byte of timestamped Ed25519 cosignatures (tlog-cosignature).
const TYPE_COSIGNATURE: u8 = 0x04;

/// The length of an Ed25519 signature.
const ED25519_SIGNATURE_BYTES: usize = 64;

/// A cosignature/v1 signature is a big-endian u64 timestamp and then an Ed25519 signature.
const COSIGNATURE_BYTES: usize = 8 + ED25519_SIGNATURE_BYTES;

/// Why a note, a checkpoint, a verifier key or a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The note or checkpoint text is empty.
    #[error("the note is empty")]
    Empty,
    /// The text is larger than [`MAX_NOTE_BYTES`].
    #[error("the note is {size} bytes, more than the {max} allowed")]
    TooLarge {
        /// The size of the text, in bytes.
        size: usize,
        /// The limit, [`MAX_NOTE_BYTES`].
        max: usize,
    },
    /// The text contains an ASCII control character other than newline (a carriage return,
    /// say), which signed notes must not contain.
    #[error("the note contains the control character U+{code:04X} at byte {offset}; only newlines are allowed")]
    ControlCharacter {
        /// The byte offset of the character.
        offset: usize,
        /// The character's code point.
        code: u32,
    },
    /// No blank line separates the text from the signature lines.
    #[error("the note has no blank line between its text and its signatures")]
    MissingBlankLine,
    /// Nothing follows the blank line.
    #[error("the note has no signature lines after its blank line")]
    NoSignatures,
    /// The note has more than [`MAX_SIGNATURES`] signature lines.
    #[error("the note has {count} signature lines, more than the {max} allowed")]
    TooManySignatures {
        /// How many signature lines the note has.
        count: usize,
        /// The limit, [`MAX_SIGNATURES`].
        max: usize,
    },
    /// A signature line is not `— <key name> <base64>` followed by a newline.
    #[error("signature line {line} is malformed: {reason}")]
    MalformedSignatureLine {
        /// The signature line's number, counting from 1.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A key name is empty, or contains a space, a `+` or a control character.
    #[error("the key name {0:?} is invalid: it must be non-empty, with no spaces, '+' or control characters")]
    InvalidKeyName(String),
    /// A verifier key is not `name+hex8+base64(type ‖ key)`.
    #[error("the verifier key is malformed: {0}")]
    MalformedVerifierKey(&'static str),
    /// A verifier key has a signature type this module does not verify.
    #[error("the verifier key has signature type 0x{0:02x}; only 0x01 (Ed25519) and 0x04 (cosignature/v1) are supported")]
    UnsupportedKeyType(u8),
    /// A verifier key is a weak (small-order) Ed25519 key, with which one signature can pass
    /// for many messages.
    #[error("the verifier key is a weak (small-order) Ed25519 key")]
    WeakKey,
    /// A verifier key's key id is not the one its name, type and key give.
    #[error("the verifier key's key id {found} is not {expected}, the id of its name and key")]
    KeyIdMismatch {
        /// The key id written in the verifier key, hex.
        found: String,
        /// The key id computed from the name, type and key, hex.
        expected: String,
    },
    /// A checkpoint body does not follow tlog-checkpoint.
    #[error("the checkpoint is malformed: {0}")]
    MalformedCheckpoint(&'static str),
    /// The note carries no signature line with the verifier key's name and key id.
    #[error("the note has no signature by {name}+{key_id}")]
    SignatureMissing {
        /// The key name looked for.
        name: String,
        /// The key id looked for, hex.
        key_id: String,
    },
    /// A signature line by the key has the wrong length or an out-of-range timestamp.
    #[error("the signature by {name}+{key_id} is malformed: {reason}")]
    MalformedSignature {
        /// The key name.
        name: String,
        /// The key id, hex.
        key_id: String,
        /// What is wrong with the signature.
        reason: &'static str,
    },
    /// A signature line by the key does not verify over the note's text.
    #[error("the signature by {name}+{key_id} does not verify")]
    BadSignature {
        /// The key name.
        name: String,
        /// The key id, hex.
        key_id: String,
    },
}

/// The body of a tlog-checkpoint: origin line, tree size, base64 root hash and optional
/// extension lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointBody {
    /// The log's identity, e.g. `caseledger.example/log`. Never empty.
    pub origin: String,
    /// The number of leaves (events) in the tree.
    pub tree_size: u64,
    /// The RFC 9162 (RFC 6962) Merkle tree root over the first `tree_size` leaves.
    pub root_hash: [u8; 32],
    /// Opaque extension lines, each non-empty; tlog-checkpoint does not recommend using them.
    pub extensions: Vec<String>,
}

impl CheckpointBody {
    /// The note text: each line, extension lines included, ending in `"\n"`.
    ///
    /// The fields are not checked here; a body with an empty origin, or an origin or extension
    /// containing a newline, writes a text that [`CheckpointBody::parse`] refuses.
    ///
    /// ```
    /// use caseledger_store::note::CheckpointBody;
    ///
    /// let body = CheckpointBody {
    ///     origin: "example.com/behind-the-sofa".into(),
    ///     tree_size: 20852163,
    ///     root_hash: [0; 32],
    ///     extensions: vec![],
    /// };
    /// assert_eq!(
    ///     body.to_text(),
    ///     "example.com/behind-the-sofa\n20852163\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
    /// );
    /// ```
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.tree_size,
            BASE64.encode(self.root_hash)
        );
        for extension in &self.extensions {
            text.push_str(extension);
            text.push('\n');
        }
        text
    }

    /// Parses a checkpoint's note text (without the blank line and signatures) strictly: at
    /// least three lines, each ending in a newline; a non-empty origin; the tree size in decimal
    /// without leading zeros; the root hash as canonical standard base64 of 32 bytes; non-empty
    /// extension lines; no control characters but newline.
    ///
    /// ```
    /// use caseledger_store::note::{CheckpointBody, NoteError};
    ///
    /// let text = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    /// let body = CheckpointBody::parse(text)?;
    /// assert_eq!(body.tree_size, 20852163);
    /// assert_eq!(body.to_text(), text);
    ///
    /// let leading_zero = "example.com/behind-the-sofa\n020852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    /// assert!(matches!(CheckpointBody::parse(leading_zero), Err(NoteError::MalformedCheckpoint(_))));
    /// # Ok::<(), NoteError>(())
    /// ```
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        check_text(text)?;
        let Some(without_last_newline) = text.strip_suffix('\n') else {
            return Err(NoteError::MalformedCheckpoint(
                "the text does not end with a newline",
            ));
        };
        let lines: Vec<&str> = without_last_newline.split('\n').collect();
        let [origin, tree_size, root_hash, extensions @ ..] = lines.as_slice() else {
            return Err(NoteError::MalformedCheckpoint(
                "the text has fewer than three lines",
            ));
        };
        if origin.is_empty() {
            return Err(NoteError::MalformedCheckpoint("the origin line is empty"));
        }
        let tree_size = parse_decimal(tree_size).ok_or(NoteError::MalformedCheckpoint(
            "the tree size is not a decimal number without leading zeros",
        ))?;
        let root_hash = crate::encoding::decode_base64_32(root_hash).ok_or(
            NoteError::MalformedCheckpoint("the root hash is not standard base64 of 32 bytes"),
        )?;
        if extensions.iter().any(|line| line.is_empty()) {
            return Err(NoteError::MalformedCheckpoint("an extension line is empty"));
        }
        Ok(CheckpointBody {
            origin: (*origin).to_owned(),
            tree_size,
            root_hash,
            extensions: extensions.iter().map(|line| (*line).to_owned()).collect(),
        })
    }
}

/// Parses ASCII decimal with no sign and no leading zeros (only `0` itself starts with `0`).
fn parse_decimal(text: &str) -> Option<u64> {
    let digits_only = !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
    let no_leading_zero = text == "0" || !text.starts_with('0');
    if digits_only && no_leading_zero {
        text.parse().ok()
    } else {
        None
    }
}

/// Refuses empty and oversized texts and those with control characters other than newline,
/// which signed notes must not contain (a carriage return would let one note have two
/// spellings that display alike).
fn check_text(text: &str) -> Result<(), NoteError> {
    if text.is_empty() {
        return Err(NoteError::Empty);
    }
    if text.len() > MAX_NOTE_BYTES {
        return Err(NoteError::TooLarge {
            size: text.len(),
            max: MAX_NOTE_BYTES,
        });
    }
    match text
        .char_indices()
        .find(|&(_, character)| character < ' ' && character != '\n')
    {
        Some((offset, character)) => Err(NoteError::ControlCharacter {
            offset,
            code: u32::from(character),
        }),
        None => Ok(()),
    }
}

/// Whether `name` may be a key name: non-empty, with no Unicode white space, no `+` (which
/// separates the parts of a verifier key) and no control characters (which notes must not
/// contain).
///
/// ```
/// use caseledger_store::note::is_valid_key_name;
///
/// assert!(is_valid_key_name("witness.example.com/w1"));
/// assert!(!is_valid_key_name(""));
/// assert!(!is_valid_key_name("a+b"));
/// assert!(!is_valid_key_name("two words"));
/// assert!(!is_valid_key_name("no\u{a0}break"));
/// ```
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|character| character == '+' || character.is_whitespace() || character < ' ')
}

/// One signature line of a note: `— <name> <base64(key_id ‖ signature)>` (U+2014 em dash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The key id: the first four bytes of SHA-256(name ‖ `"\n"` ‖ type ‖ key).
    pub key_id: [u8; 4],
    /// The signature bytes after the key id; for a cosignature, the timestamp and then the
    /// Ed25519 signature.
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// The signature line, ending in `"\n"`, as it follows a note's blank line.
    ///
    /// ```
    /// use caseledger_store::note::NoteSignature;
    ///
    /// let line = NoteSignature { name: "example.com/log".into(), key_id: [1, 2, 3, 4], signature: vec![5] };
    /// assert_eq!(line.to_line(), "\u{2014} example.com/log AQIDBAU=\n");
    /// ```
    pub fn to_line(&self) -> String {
        let mut bytes = Vec::with_capacity(4 + self.signature.len());
        bytes.extend_from_slice(&self.key_id);
        bytes.extend_from_slice(&self.signature);
        format!("{SIGNATURE_PREFIX}{} {}\n", self.name, BASE64.encode(bytes))
    }

    /// Parses one signature line, as [`NoteSignature::to_line`] writes it (the final newline
    /// may be there or not): what a witness posts.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        Self::parse_line(text.strip_suffix('\n').unwrap_or(text), 1)
    }

    /// Parses one signature line without its newline; `line` numbers it in errors.
    fn parse_line(text: &str, line: usize) -> Result<Self, NoteError> {
        let malformed = |reason| NoteError::MalformedSignatureLine { line, reason };
        let rest = text
            .strip_prefix(SIGNATURE_PREFIX)
            .ok_or(malformed("it does not start with an em dash and a space"))?;
        let (name, encoded) = rest.split_once(' ').ok_or(malformed(
            "no space separates the key name from the signature",
        ))?;
        if !is_valid_key_name(name) {
            return Err(malformed("the key name is invalid"));
        }
        let bytes = BASE64
            .decode(encoded)
            .map_err(|_| malformed("the signature is not canonical standard base64"))?;
        if bytes.len() < 5 {
            return Err(malformed(
                "the signature is shorter than a key id and one byte",
            ));
        }
        let (key_id, signature) = bytes.split_at(4);
        Ok(NoteSignature {
            name: name.to_owned(),
            key_id: [key_id[0], key_id[1], key_id[2], key_id[3]],
            signature: signature.to_vec(),
        })
    }
}

/// A signed note: the text (ending in `"\n"`) and its signature lines, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedNote {
    /// The signed text, including its final newline but not the blank line after it.
    pub text: String,
    /// The signature lines, known and unknown keys alike, in the order of the note.
    pub signatures: Vec<NoteSignature>,
}

impl SignedNote {
    /// Parses a signed note: a text ending in a newline, a blank line, then one or more
    /// signature lines, each ending in a newline. The text may contain blank lines; the last
    /// blank line of the note separates it from the signatures. Signatures are kept whatever key
    /// made them (a verifier picks its own with [`SignedNote::verify`]) and are not checked here.
    ///
    /// Refused: an empty note, one over [`MAX_NOTE_BYTES`] or with more than
    /// [`MAX_SIGNATURES`] signature lines, a control character other than newline (so CRLF line
    /// ends are refused), a missing blank line, a malformed signature line.
    ///
    /// ```
    /// use caseledger_store::note::{NoteError, SignedNote};
    ///
    /// let note = "This is an example message.\n\n\
    ///     \u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
    /// let parsed = SignedNote::parse(note)?;
    /// assert_eq!(parsed.text, "This is an example message.\n");
    /// assert_eq!(parsed.signatures[0].name, "example.com/foo");
    /// assert_eq!(parsed.signatures[0].key_id, [0x53, 0x0d, 0x90, 0x3a]);
    /// assert_eq!(parsed.to_text(), note);
    ///
    /// assert_eq!(SignedNote::parse(""), Err(NoteError::Empty));
    /// assert_eq!(
    ///     SignedNote::parse("This is an example message.\n"),
    ///     Err(NoteError::MissingBlankLine)
    /// );
    /// assert!(matches!(
    ///     SignedNote::parse(&note.replace('\n', "\r\n")),
    ///     Err(NoteError::ControlCharacter { code: 0x0d, .. })
    /// ));
    /// # Ok::<(), NoteError>(())
    /// ```
    pub fn parse(note: &str) -> Result<Self, NoteError> {
        check_text(note)?;
        let split = note.rfind("\n\n").ok_or(NoteError::MissingBlankLine)?;
        let (text, block) = (&note[..=split], &note[split + 2..]);
        if block.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        // Count before parsing, so a note of many lines costs one scan, not many decodings.
        let count = block.split_terminator('\n').count();
        if count > MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures {
                count,
                max: MAX_SIGNATURES,
            });
        }
        let Some(block) = block.strip_suffix('\n') else {
            return Err(NoteError::MalformedSignatureLine {
                line: count,
                reason: "it does not end with a newline",
            });
        };
        let signatures = block
            .split('\n')
            .enumerate()
            .map(|(index, line)| NoteSignature::parse_line(line, index + 1))
            .collect::<Result<_, _>>()?;
        Ok(SignedNote {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The note as it is published: the text, a blank line, then each signature line.
    ///
    /// ```
    /// use caseledger_store::note::{sign_note, SignedNote};
    ///
    /// let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    /// let text = "hello\n";
    /// let note = SignedNote { text: text.into(), signatures: vec![sign_note(text, "example.com/log", &key)] };
    /// let published = note.to_text();
    /// assert!(published.starts_with("hello\n\n\u{2014} example.com/log "));
    /// assert_eq!(SignedNote::parse(&published), Ok(note));
    /// ```
    pub fn to_text(&self) -> String {
        let mut note = self.text.clone();
        note.push('\n');
        for signature in &self.signatures {
            note.push_str(&signature.to_line());
        }
        note
    }

    /// Verifies the signature lines made by `key`, matched by name and key id, over the text:
    /// `Ok(Some(timestamp))` for a cosignature/v1 key, `Ok(None)` for an Ed25519 note key.
    /// Lines by other keys are ignored, as the specification requires, even if they share the
    /// name or the key id (but not both).
    ///
    /// Every matching line must verify: if the key signed twice and one line fails, the note is
    /// refused, as signed-note recommends. Given several valid cosignatures by one key, the
    /// timestamp of the first is returned. Ed25519 is checked with `verify_strict`, so weak keys
    /// and malleable signatures fail.
    ///
    /// ```
    /// use caseledger_store::note::{cosign, sign_note, NoteError, SignedNote, VerifierKey};
    ///
    /// let log_key = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
    /// let witness_key = ed25519_dalek::SigningKey::from_bytes(&[2; 32]);
    /// let text = "example.com/log\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    /// let note = SignedNote {
    ///     text: text.into(),
    ///     signatures: vec![
    ///         sign_note(text, "example.com/log", &log_key),
    ///         cosign(text, "example.com/witness", &witness_key, 1_700_000_000),
    ///     ],
    /// };
    /// let log = VerifierKey::ed25519("example.com/log", log_key.verifying_key());
    /// let witness = VerifierKey::cosignature("example.com/witness", witness_key.verifying_key());
    /// assert_eq!(note.verify(&log), Ok(None));
    /// assert_eq!(note.verify(&witness), Ok(Some(1_700_000_000)));
    ///
    /// let edited = SignedNote { text: text.replace("\n1\n", "\n2\n"), ..note.clone() };
    /// assert!(matches!(edited.verify(&log), Err(NoteError::BadSignature { .. })));
    ///
    /// let stranger = VerifierKey::cosignature("example.com/other", witness_key.verifying_key());
    /// assert!(matches!(note.verify(&stranger), Err(NoteError::SignatureMissing { .. })));
    /// ```
    pub fn verify(&self, key: &VerifierKey) -> Result<Option<u64>, NoteError> {
        let key_id = key.key_id();
        let mut first: Option<Option<u64>> = None;
        for line in self
            .signatures
            .iter()
            .filter(|line| line.name == key.name && line.key_id == key_id)
        {
            let timestamp = key.check(&self.text, &line.signature)?;
            first.get_or_insert(timestamp);
        }
        first.ok_or_else(|| NoteError::SignatureMissing {
            name: key.name.clone(),
            key_id: hex::encode(key_id),
        })
    }

    /// How many of `witnesses` have a valid cosignature here. Only cosignature keys count, and
    /// each Ed25519 public key counts once: cosignature/v1 does not sign the witness's name, so
    /// one key listed under two names could otherwise count twice with one signature copied onto
    /// two lines.
    ///
    /// ```
    /// use caseledger_store::note::{cosign, SignedNote, VerifierKey};
    ///
    /// let text = "example.com/log\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    /// let first = ed25519_dalek::SigningKey::from_bytes(&[2; 32]);
    /// let second = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
    /// let absent = ed25519_dalek::SigningKey::from_bytes(&[4; 32]);
    /// let note = SignedNote {
    ///     text: text.into(),
    ///     signatures: vec![cosign(text, "w1", &first, 10), cosign(text, "w2", &second, 11)],
    /// };
    /// let witnesses = [
    ///     VerifierKey::cosignature("w1", first.verifying_key()),
    ///     VerifierKey::cosignature("w2", second.verifying_key()),
    ///     VerifierKey::cosignature("w1", first.verifying_key()),
    ///     VerifierKey::cosignature("w3", absent.verifying_key()),
    /// ];
    /// assert_eq!(note.count_cosignatures(&witnesses), 2);
    /// ```
    pub fn count_cosignatures(&self, witnesses: &[VerifierKey]) -> usize {
        let mut counted: Vec<[u8; 32]> = Vec::new();
        for witness in witnesses {
            let public_key = witness.key.to_bytes();
            if witness.kind == KeyKind::Cosignature
                && !counted.contains(&public_key)
                && matches!(self.verify(witness), Ok(Some(_)))
            {
                counted.push(public_key);
            }
        }
        counted.len()
    }
}

/// Which kind of signature a [`VerifierKey`] verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// An Ed25519 note signature over the text (signature type `0x01`): the log's own key.
    Ed25519,
    /// A timestamped Ed25519 cosignature, `cosignature/v1` (signature type `0x04`): a
    /// witness's key.
    Cosignature,
}

impl KeyKind {
    /// The signed-note signature type byte: `0x01` or `0x04`.
    pub fn type_byte(self) -> u8 {
        match self {
            KeyKind::Ed25519 => TYPE_ED25519,
            KeyKind::Cosignature => TYPE_COSIGNATURE,
        }
    }
}

/// A verifier key, written `name+hex8(key id)+base64(type ‖ key)`: what a verifier is configured
/// with to check one signer's lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    /// The key name, as in the signature lines.
    pub name: String,
    /// Which kind of signature the key makes.
    pub kind: KeyKind,
    /// The Ed25519 public key.
    pub key: VerifyingKey,
}

impl VerifierKey {
    /// The verifier key of an Ed25519 note signer (type `0x01`). The name is not checked here;
    /// see [`is_valid_key_name`].
    pub fn ed25519(name: &str, key: VerifyingKey) -> Self {
        VerifierKey {
            name: name.to_owned(),
            kind: KeyKind::Ed25519,
            key,
        }
    }

    /// The verifier key of a cosignature/v1 witness (type `0x04`). The name is not checked here;
    /// see [`is_valid_key_name`].
    pub fn cosignature(name: &str, key: VerifyingKey) -> Self {
        VerifierKey {
            name: name.to_owned(),
            kind: KeyKind::Cosignature,
            key,
        }
    }

    /// The key id: the first four bytes of SHA-256(name ‖ `"\n"` ‖ type ‖ key). The type byte
    /// gives one public key under one name different ids as a note signer and as a witness.
    ///
    /// ```
    /// use caseledger_store::note::VerifierKey;
    ///
    /// let key = VerifierKey::parse("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")?;
    /// assert_eq!(key.key_id(), [0xc7, 0x4f, 0x20, 0xa3]);
    /// assert_ne!(VerifierKey::cosignature(&key.name, key.key).key_id(), key.key_id());
    /// # Ok::<(), caseledger_store::note::NoteError>(())
    /// ```
    pub fn key_id(&self) -> [u8; 4] {
        let digest = Sha256::new()
            .chain_update(self.name.as_bytes())
            .chain_update([b'\n', self.kind.type_byte()])
            .chain_update(self.key.as_bytes())
            .finalize();
        [digest[0], digest[1], digest[2], digest[3]]
    }

    /// Parses `name+hex8(key id)+base64(type ‖ key)` strictly: a valid name, eight lowercase hex
    /// digits, canonical standard base64 of type `0x01` or `0x04` and a 32-byte Ed25519 key that
    /// is not weak (small-order), and a key id that matches the rest. Surrounding white space is
    /// not trimmed.
    ///
    /// ```
    /// use caseledger_store::note::{KeyKind, NoteError, VerifierKey};
    ///
    /// let vkey = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    /// let key = VerifierKey::parse(vkey)?;
    /// assert_eq!(key.name, "example.com/foo");
    /// assert_eq!(key.kind, KeyKind::Ed25519);
    /// assert_eq!(key.to_string(), vkey);
    ///
    /// assert!(matches!(
    ///     VerifierKey::parse("example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"),
    ///     Err(NoteError::KeyIdMismatch { .. })
    /// ));
    /// assert!(matches!(
    ///     VerifierKey::parse("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2"),
    ///     Err(NoteError::MalformedVerifierKey(_))
    /// ));
    /// # Ok::<(), NoteError>(())
    /// ```
    pub fn parse(vkey: &str) -> Result<Self, NoteError> {
        // A name has no '+', and hex has none, so the first two '+' split the parts; base64 may
        // contain '+', so everything after the second belongs to the key.
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(key_id_hex), Some(encoded)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::MalformedVerifierKey("it is not name+keyid+key"));
        };
        if !is_valid_key_name(name) {
            return Err(NoteError::InvalidKeyName(name.to_owned()));
        }
        let lowercase_hex = key_id_hex
            .bytes()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte));
        let found: [u8; 4] = hex::decode(key_id_hex)
            .ok()
            .filter(|_| lowercase_hex)
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(NoteError::MalformedVerifierKey(
                "the key id is not eight lowercase hex digits",
            ))?;
        let bytes = BASE64.decode(encoded).map_err(|_| {
            NoteError::MalformedVerifierKey("the key is not canonical standard base64")
        })?;
        let Some((&type_byte, key_bytes)) = bytes.split_first() else {
            return Err(NoteError::MalformedVerifierKey("the key is empty"));
        };
        let kind = match type_byte {
            TYPE_ED25519 => KeyKind::Ed25519,
            TYPE_COSIGNATURE => KeyKind::Cosignature,
            other => return Err(NoteError::UnsupportedKeyType(other)),
        };
        let key_bytes: [u8; 32] = key_bytes
            .try_into()
            .map_err(|_| NoteError::MalformedVerifierKey("an Ed25519 public key is 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&key_bytes).map_err(|_| {
            NoteError::MalformedVerifierKey("the key is not a point on the Ed25519 curve")
        })?;
        if key.is_weak() {
            return Err(NoteError::WeakKey);
        }
        let parsed = VerifierKey {
            name: name.to_owned(),
            kind,
            key,
        };
        let expected = parsed.key_id();
        if expected != found {
            return Err(NoteError::KeyIdMismatch {
                found: hex::encode(found),
                expected: hex::encode(expected),
            });
        }
        Ok(parsed)
    }

    /// Checks one signature line's bytes (after the key id) by this key over `text`.
    fn check(&self, text: &str, signature: &[u8]) -> Result<Option<u64>, NoteError> {
        let malformed = |reason| NoteError::MalformedSignature {
            name: self.name.clone(),
            key_id: hex::encode(self.key_id()),
            reason,
        };
        let (timestamp, message, signature) = match self.kind {
            KeyKind::Ed25519 => (None, text.as_bytes().to_vec(), signature),
            KeyKind::Cosignature => {
                if signature.len() != COSIGNATURE_BYTES {
                    return Err(malformed(
                        "a cosignature is an 8-byte timestamp and a 64-byte Ed25519 signature",
                    ));
                }
                let (timestamp, signature) = signature.split_at(8);
                let mut timestamp_bytes = [0u8; 8];
                timestamp_bytes.copy_from_slice(timestamp);
                let timestamp = u64::from_be_bytes(timestamp_bytes);
                if timestamp > MAX_COSIGNATURE_TIMESTAMP {
                    return Err(malformed("the cosignature's timestamp exceeds 2^63 - 1"));
                }
                (
                    Some(timestamp),
                    cosignature_message(text, timestamp),
                    signature,
                )
            }
        };
        let signature: [u8; ED25519_SIGNATURE_BYTES] = signature
            .try_into()
            .map_err(|_| malformed("an Ed25519 signature is 64 bytes"))?;
        self.key
            .verify_strict(&message, &Signature::from_bytes(&signature))
            .map_err(|_| NoteError::BadSignature {
                name: self.name.clone(),
                key_id: hex::encode(self.key_id()),
            })?;
        Ok(timestamp)
    }
}

impl std::fmt::Display for VerifierKey {
    /// Writes the vkey string, `name+hex8(key id)+base64(type ‖ key)`.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut typed_key = Vec::with_capacity(33);
        typed_key.push(self.kind.type_byte());
        typed_key.extend_from_slice(self.key.as_bytes());
        write!(
            formatter,
            "{}+{}+{}",
            self.name,
            hex::encode(self.key_id()),
            BASE64.encode(typed_key)
        )
    }
}

/// The message a cosignature/v1 signs: the header line `cosignature/v1`, the line
/// `time <decimal timestamp>`, then the whole checkpoint text, extension lines included.
fn cosignature_message(text: &str, timestamp: u64) -> Vec<u8> {
    format!("cosignature/v1\ntime {timestamp}\n{text}").into_bytes()
}

/// Signs `text` as an Ed25519 note signer named `name`: the signature line that, after the
/// blank line, makes `text` a signed note. Ed25519 is deterministic, so the same text, name and
/// key give the same line.
///
/// Nothing is checked here: a `name` that [`is_valid_key_name`] refuses, or a text that is not
/// a valid note text, makes a line that [`SignedNote::parse`] refuses on the receiving side.
///
/// ```
/// use caseledger_store::note::{sign_note, NoteError, SignedNote, VerifierKey};
///
/// let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
/// let text = "example.com/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n";
/// let line = sign_note(text, "example.com/log", &key);
/// let note = SignedNote::parse(&format!("{text}\n{}", line.to_line()))?;
/// let verifier = VerifierKey::ed25519("example.com/log", key.verifying_key());
/// assert_eq!(note.verify(&verifier), Ok(None));
///
/// let as_witness = VerifierKey::cosignature("example.com/log", key.verifying_key());
/// assert!(matches!(note.verify(&as_witness), Err(NoteError::SignatureMissing { .. })));
/// # Ok::<(), NoteError>(())
/// ```
pub fn sign_note(text: &str, name: &str, key: &SigningKey) -> NoteSignature {
    NoteSignature {
        name: name.to_owned(),
        key_id: VerifierKey::ed25519(name, key.verifying_key()).key_id(),
        signature: key.sign(text.as_bytes()).to_bytes().to_vec(),
    }
}

/// Cosigns a checkpoint's note text as the witness `name` at `timestamp` (POSIX seconds), per
/// cosignature/v1: the signature bytes are the timestamp (8 bytes, big-endian) and an Ed25519
/// signature over `"cosignature/v1\ntime <timestamp>\n"` followed by the checkpoint text.
///
/// The caller vouches for the checkpoint: a witness parses it with [`CheckpointBody::parse`]
/// and checks consistency before cosigning. A timestamp above [`MAX_COSIGNATURE_TIMESTAMP`],
/// which the specification forbids, makes a line that [`SignedNote::verify`] refuses.
///
/// ```
/// use caseledger_store::note::{cosign, NoteError, SignedNote, VerifierKey};
///
/// let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
/// let text = "example.com/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n";
/// let line = cosign(text, "witness.example.com/w1", &key, 1_679_315_147);
/// assert_eq!(line.signature[..8], 1_679_315_147u64.to_be_bytes());
///
/// let note = SignedNote { text: text.into(), signatures: vec![line] };
/// let witness = VerifierKey::cosignature("witness.example.com/w1", key.verifying_key());
/// assert_eq!(note.verify(&witness), Ok(Some(1_679_315_147)));
///
/// let too_late = SignedNote {
///     text: text.into(),
///     signatures: vec![cosign(text, "witness.example.com/w1", &key, u64::MAX)],
/// };
/// assert!(matches!(too_late.verify(&witness), Err(NoteError::MalformedSignature { .. })));
/// ```
pub fn cosign(
    checkpoint_text: &str,
    name: &str,
    key: &SigningKey,
    timestamp: u64,
) -> NoteSignature {
    let signature = key.sign(&cosignature_message(checkpoint_text, timestamp));
    let mut bytes = Vec::with_capacity(COSIGNATURE_BYTES);
    bytes.extend_from_slice(&timestamp.to_be_bytes());
    bytes.extend_from_slice(&signature.to_bytes());
    NoteSignature {
        name: name.to_owned(),
        key_id: VerifierKey::cosignature(name, key.verifying_key()).key_id(),
        signature: bytes,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;

    const CHECKPOINT: &str =
        "caseledger.example/log\n3\nRcCI1Nk56ZcSmIEfIn0SleqtV7uvrlXNccFx595Iwl0=\n";

    fn log_key() -> SigningKey {
        SigningKey::from_bytes(&[11; 32])
    }

    fn witness_key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn log_verifier() -> VerifierKey {
        VerifierKey::ed25519("caseledger.example/log", log_key().verifying_key())
    }

    fn signed_checkpoint() -> SignedNote {
        SignedNote {
            text: CHECKPOINT.into(),
            signatures: vec![
                sign_note(CHECKPOINT, "caseledger.example/log", &log_key()),
                cosign(CHECKPOINT, "w1.example", &witness_key(21), 1_700_000_001),
                cosign(CHECKPOINT, "w2.example", &witness_key(22), 1_700_000_002),
            ],
        }
    }

    // Vectors from c2sp.org/signed-note ("Verifier keys", "Example").
    const SPEC_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    const SPEC_NOTE: &str = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

    // Vectors from golang.org/x/mod/sumdb/note's note_test.go.
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const PETER_SKEY_SEED: &str = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
    const PETER_TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

    // The example of c2sp.org/tlog-cosignature (no public keys are published for it).
    const SPEC_COSIGNED: &str = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\u{2014} witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";

    #[test]
    fn the_signed_note_spec_example_verifies_with_its_vkey() {
        let key = VerifierKey::parse(SPEC_VKEY).unwrap();
        assert_eq!(key.key_id(), [0x53, 0x0d, 0x90, 0x3a]);
        assert_eq!(key.to_string(), SPEC_VKEY);
        let note = SignedNote::parse(SPEC_NOTE).unwrap();
        assert_eq!(note.text, "This is an example message.\n");
        assert_eq!(note.verify(&key), Ok(None));
        assert_eq!(note.to_text(), SPEC_NOTE);
    }

    #[test]
    fn go_sumdb_note_vectors_verify_and_signing_reproduces_them() {
        let peter = VerifierKey::parse(PETER_VKEY).unwrap();
        let enoch = VerifierKey::parse(ENOCH_VKEY).unwrap();
        assert_eq!(peter.key_id(), [0xc7, 0x4f, 0x20, 0xa3]);
        assert_eq!(enoch.key_id(), [0xaf, 0x0c, 0xfe, 0x78]);
        assert_eq!(peter.to_string(), PETER_VKEY);

        // The private key is type 0x01 followed by the 32-byte Ed25519 seed.
        let seed = BASE64.decode(PETER_SKEY_SEED).unwrap();
        assert_eq!(seed[0], TYPE_ED25519);
        let signing = SigningKey::from_bytes(&seed[1..].try_into().unwrap());
        assert_eq!(signing.verifying_key(), peter.key);
        let line = sign_note(PETER_TEXT, "PeterNeumann", &signing);
        assert_eq!(line.to_line(), PETER_SIG);

        let note = SignedNote::parse(&format!("{PETER_TEXT}\n{PETER_SIG}{ENOCH_SIG}")).unwrap();
        assert_eq!(note.text, PETER_TEXT);
        assert_eq!(note.signatures.len(), 2);
        assert_eq!(note.verify(&peter), Ok(None));
        assert_eq!(note.verify(&enoch), Ok(None));
        // Enoch's line is kept but is no cosignature.
        assert_eq!(note.count_cosignatures(&[peter, enoch]), 0);
    }

    #[test]
    fn every_mangling_of_a_vkey_is_refused() {
        // As Go's TestNewVerifier: every proper substring, and every single byte bumped by one.
        let bytes = PETER_VKEY.as_bytes();
        for start in 0..bytes.len() {
            for end in start + 1..=bytes.len() {
                if (start, end) != (0, bytes.len()) {
                    let part = std::str::from_utf8(&bytes[start..end]).unwrap();
                    assert!(VerifierKey::parse(part).is_err(), "{part} was accepted");
                }
            }
        }
        for index in 0..bytes.len() {
            let mut mangled = bytes.to_vec();
            mangled[index] += 1;
            let mangled = String::from_utf8(mangled).unwrap();
            assert!(
                VerifierKey::parse(&mangled).is_err(),
                "{mangled} was accepted"
            );
        }
        // Go's two hand-made cases: a wrong-length key and an unknown type, ids adjusted. (The
        // first is also non-canonical base64, which Go tolerates and this module does not.)
        assert!(matches!(
            VerifierKey::parse(
                "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
            ),
            Err(NoteError::MalformedVerifierKey(_))
        ));
        assert_eq!(
            VerifierKey::parse(
                "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
            ),
            Err(NoteError::UnsupportedKeyType(0x65))
        );
    }

    #[test]
    fn the_cosignature_spec_example_parses_and_its_message_is_the_specs() {
        let note = SignedNote::parse(SPEC_COSIGNED).unwrap();
        let body = CheckpointBody::parse(&note.text).unwrap();
        assert_eq!(body.origin, "example.com/behind-the-sofa");
        assert_eq!(body.tree_size, 20_852_163);
        assert_eq!(body.to_text(), note.text);
        assert_eq!(note.signatures[0].signature.len(), ED25519_SIGNATURE_BYTES);
        let witness = &note.signatures[1];
        assert_eq!(witness.name, "witness.example.com/w1");
        assert_eq!(witness.signature.len(), COSIGNATURE_BYTES);
        // The spec's example message carries "time 1679315147": the example line's timestamp.
        let timestamp = u64::from_be_bytes(witness.signature[..8].try_into().unwrap());
        assert_eq!(timestamp, 1_679_315_147);
        assert_eq!(
            cosignature_message(&note.text, timestamp),
            b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
        assert_eq!(note.to_text(), SPEC_COSIGNED);
    }

    #[test]
    fn the_signed_note_spec_poem_splits_at_the_last_blank_line() {
        let poem = "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n\n\u{2014} quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";
        let note = SignedNote::parse(poem).unwrap();
        assert_eq!(
            note.text,
            "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n"
        );
        assert_eq!(note.signatures.len(), 1);
        assert_eq!(note.to_text(), poem);
    }

    #[test]
    fn a_signed_and_cosigned_checkpoint_round_trips_and_verifies() {
        let note = signed_checkpoint();
        let published = note.to_text();
        let parsed = SignedNote::parse(&published).unwrap();
        assert_eq!(parsed, note);
        assert_eq!(parsed.verify(&log_verifier()), Ok(None));
        let w1 = VerifierKey::cosignature("w1.example", witness_key(21).verifying_key());
        let w2 = VerifierKey::cosignature("w2.example", witness_key(22).verifying_key());
        assert_eq!(parsed.verify(&w1), Ok(Some(1_700_000_001)));
        assert_eq!(parsed.verify(&w2), Ok(Some(1_700_000_002)));
        assert_eq!(parsed.count_cosignatures(&[w1.clone(), w2.clone()]), 2);
        // The log's own key is not a witness.
        assert_eq!(parsed.count_cosignatures(&[log_verifier(), w1.clone()]), 1);
        for key in [log_verifier(), w1, w2] {
            assert_eq!(VerifierKey::parse(&key.to_string()), Ok(key));
        }
        let body = CheckpointBody::parse(&parsed.text).unwrap();
        assert_eq!(body.tree_size, 3);
    }

    #[test]
    fn checkpoint_bodies_round_trip_with_and_without_extensions() {
        let mut body = CheckpointBody {
            origin: "caseledger.example/log".into(),
            tree_size: 0,
            root_hash: [0xab; 32],
            extensions: vec![],
        };
        assert_eq!(CheckpointBody::parse(&body.to_text()), Ok(body.clone()));
        body.tree_size = u64::MAX;
        body.extensions = vec!["ext one".into(), "— two".into()];
        let text = body.to_text();
        assert!(text.ends_with("\next one\n— two\n"));
        assert_eq!(CheckpointBody::parse(&text), Ok(body));
    }

    #[test]
    fn malformed_checkpoint_bodies_are_refused() {
        let hash = "RcCI1Nk56ZcSmIEfIn0SleqtV7uvrlXNccFx595Iwl0=";
        let cases = [
            format!("\n3\n{hash}\n"),
            format!("log\n03\n{hash}\n"),
            format!("log\n+3\n{hash}\n"),
            format!("log\n-3\n{hash}\n"),
            format!("log\n 3\n{hash}\n"),
            format!("log\n\n{hash}\n"),
            format!("log\n18446744073709551616\n{hash}\n"),
            "log\n3\nRcCI1Nk56ZcSmIEfIn0SleqtV7uvrlXNccFx595Iwl0\n".into(),
            "log\n3\nRcCI1Nk56ZcSmIEfIn0SleqtV7uvrlXNccFx595Iwl1=\n".into(),
            "log\n3\nAAAA\n".into(),
            format!("log\n3\n{hash}"),
            format!("log\n3\n{hash}\n\n"),
            format!("log\n3\n{hash}\next\n\n"),
            "log\n3\n".into(),
        ];
        for text in cases {
            assert!(
                matches!(
                    CheckpointBody::parse(&text),
                    Err(NoteError::MalformedCheckpoint(_))
                ),
                "{text:?} was accepted"
            );
        }
        assert!(matches!(
            CheckpointBody::parse(&format!("log\r\n3\r\n{hash}\r\n")),
            Err(NoteError::ControlCharacter {
                offset: 3,
                code: 0x0d
            })
        ));
        assert_eq!(CheckpointBody::parse(""), Err(NoteError::Empty));
    }

    #[test]
    fn an_edited_text_fails_every_signature() {
        let mut note = signed_checkpoint();
        note.text = note.text.replace("\n3\n", "\n4\n");
        assert!(matches!(
            note.verify(&log_verifier()),
            Err(NoteError::BadSignature { .. })
        ));
        let w1 = VerifierKey::cosignature("w1.example", witness_key(21).verifying_key());
        assert!(matches!(
            note.verify(&w1),
            Err(NoteError::BadSignature { .. })
        ));
        assert_eq!(note.count_cosignatures(&[w1]), 0);
    }

    #[test]
    fn a_wrong_key_or_name_finds_no_signature() {
        let note = signed_checkpoint();
        let wrong_key =
            VerifierKey::ed25519("caseledger.example/log", witness_key(99).verifying_key());
        let wrong_name =
            VerifierKey::ed25519("caseledger.example/other", log_key().verifying_key());
        for key in [wrong_key, wrong_name] {
            assert_eq!(
                note.verify(&key),
                Err(NoteError::SignatureMissing {
                    name: key.name.clone(),
                    key_id: hex::encode(key.key_id()),
                })
            );
        }
    }

    #[test]
    fn a_signature_under_another_keys_id_does_not_verify() {
        // Another key's signature relabelled with the log's name and key id: matched, then failed.
        let mut note = signed_checkpoint();
        let other = sign_note(CHECKPOINT, "caseledger.example/log", &witness_key(99));
        note.signatures[0].signature = other.signature;
        assert!(matches!(
            note.verify(&log_verifier()),
            Err(NoteError::BadSignature { .. })
        ));
    }

    #[test]
    fn a_bad_line_by_a_known_key_rejects_the_note_even_beside_a_good_one() {
        let mut note = signed_checkpoint();
        let mut forged = note.signatures[0].clone();
        forged.signature[0] ^= 1;
        note.signatures.push(forged);
        assert!(matches!(
            note.verify(&log_verifier()),
            Err(NoteError::BadSignature { .. })
        ));
    }

    #[test]
    fn cosignatures_and_note_signatures_are_not_interchangeable() {
        let note = signed_checkpoint();
        let key = witness_key(21).verifying_key();
        // The witness's key as a note key has another key id: its cosignature is not found.
        assert!(matches!(
            note.verify(&VerifierKey::ed25519("w1.example", key)),
            Err(NoteError::SignatureMissing { .. })
        ));
        // A cosignature relabelled with the note key's id is matched and refused for its length.
        let mut relabelled = note.clone();
        relabelled.signatures[1].key_id = VerifierKey::ed25519("w1.example", key).key_id();
        assert!(matches!(
            relabelled.verify(&VerifierKey::ed25519("w1.example", key)),
            Err(NoteError::MalformedSignature { .. })
        ));
        // And a note signature by the witness's key does not count as a cosignature.
        let signed_by_witness = SignedNote {
            text: CHECKPOINT.into(),
            signatures: vec![sign_note(CHECKPOINT, "w1.example", &witness_key(21))],
        };
        let witness = VerifierKey::cosignature("w1.example", key);
        assert!(matches!(
            signed_by_witness.verify(&witness),
            Err(NoteError::SignatureMissing { .. })
        ));
        assert_eq!(signed_by_witness.count_cosignatures(&[witness]), 0);
    }

    #[test]
    fn one_witness_key_under_two_names_counts_once() {
        let key = witness_key(21);
        let mut note = signed_checkpoint();
        // The copy is valid under the other name too: cosignature/v1 does not sign the name.
        let mut copy = note.signatures[1].clone();
        copy.name = "w1-again.example".into();
        copy.key_id = VerifierKey::cosignature("w1-again.example", key.verifying_key()).key_id();
        note.signatures.push(copy);
        let first = VerifierKey::cosignature("w1.example", key.verifying_key());
        let again = VerifierKey::cosignature("w1-again.example", key.verifying_key());
        assert_eq!(note.verify(&again), Ok(Some(1_700_000_001)));
        assert_eq!(note.count_cosignatures(&[first, again]), 1);
    }

    #[test]
    fn a_cosignature_timestamp_past_2_pow_63_is_refused() {
        let key = witness_key(21);
        let witness = VerifierKey::cosignature("w1.example", key.verifying_key());
        for (timestamp, accepted) in [(MAX_COSIGNATURE_TIMESTAMP, true), (1 << 63, false)] {
            let note = SignedNote {
                text: CHECKPOINT.into(),
                signatures: vec![cosign(CHECKPOINT, "w1.example", &key, timestamp)],
            };
            assert_eq!(note.verify(&witness).is_ok(), accepted, "{timestamp}");
        }
    }

    #[test]
    fn weak_keys_are_refused() {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let weak = VerifyingKey::from_bytes(&identity).unwrap();
        let vkey = VerifierKey::ed25519("weak.example", weak).to_string();
        assert_eq!(VerifierKey::parse(&vkey), Err(NoteError::WeakKey));
        // Built by hand, the weak key still verifies nothing: R = identity, s = 0 passes a
        // non-strict check for every message.
        let mut universal = [0u8; 64];
        universal[0] = 1;
        let note = SignedNote {
            text: CHECKPOINT.into(),
            signatures: vec![NoteSignature {
                name: "weak.example".into(),
                key_id: VerifierKey::ed25519("weak.example", weak).key_id(),
                signature: universal.to_vec(),
            }],
        };
        assert!(matches!(
            note.verify(&VerifierKey::ed25519("weak.example", weak)),
            Err(NoteError::BadSignature { .. })
        ));
    }

    #[test]
    fn malformed_vkeys_are_refused() {
        let good = log_verifier().to_string();
        let (name, rest) = good.split_once('+').unwrap();
        let (key_id, key) = rest.split_once('+').unwrap();
        assert_eq!(
            VerifierKey::parse(&format!("+{key_id}+{key}")),
            Err(NoteError::InvalidKeyName(String::new()))
        );
        assert_eq!(
            VerifierKey::parse(&format!("a b+{key_id}+{key}")),
            Err(NoteError::InvalidKeyName("a b".into()))
        );
        assert!(matches!(
            VerifierKey::parse(&format!("{name}+{}+{key}", key_id.to_uppercase())),
            Err(NoteError::MalformedVerifierKey(_))
        ));
        assert!(matches!(
            VerifierKey::parse(&format!("{name}+00000000+{key}")),
            Err(NoteError::KeyIdMismatch { .. })
        ));
        assert!(matches!(
            VerifierKey::parse(&format!("{good}\n")),
            Err(NoteError::MalformedVerifierKey(_))
        ));
        assert!(matches!(
            VerifierKey::parse(&format!("{name}+{key_id}")),
            Err(NoteError::MalformedVerifierKey(_))
        ));
    }

    #[test]
    fn malformed_notes_are_refused() {
        let good = signed_checkpoint().to_text();
        assert_eq!(SignedNote::parse(""), Err(NoteError::Empty));
        assert_eq!(
            SignedNote::parse(CHECKPOINT),
            Err(NoteError::MissingBlankLine)
        );
        assert_eq!(
            SignedNote::parse(&format!("{CHECKPOINT}\n")),
            Err(NoteError::NoSignatures)
        );
        assert!(matches!(
            SignedNote::parse(&good.replace('\n', "\r\n")),
            Err(NoteError::ControlCharacter { code: 0x0d, .. })
        ));
        assert!(matches!(
            SignedNote::parse(&good.replace("\n3\n", "\n3\t\n")),
            Err(NoteError::ControlCharacter { code: 0x09, .. })
        ));
        // Without its final newline, or with a truncated signature.
        assert!(matches!(
            SignedNote::parse(good.strip_suffix('\n').unwrap()),
            Err(NoteError::MalformedSignatureLine { line: 3, .. })
        ));
        let first_line = signed_checkpoint().signatures[0].to_line();
        let truncated = good.replace(
            &first_line,
            &format!("{}\n", &first_line[..first_line.len() - 6]),
        );
        assert!(matches!(
            SignedNote::parse(&truncated),
            Err(NoteError::MalformedSignatureLine { line: 1, .. })
        ));
        assert!(matches!(
            SignedNote::parse(&good.replace('\u{2014}', "--")),
            Err(NoteError::MalformedSignatureLine { line: 1, .. })
        ));
        assert!(matches!(
            SignedNote::parse(&format!("{CHECKPOINT}\n\u{2014} a+b AAAAAAA=\n")),
            Err(NoteError::MalformedSignatureLine { line: 1, .. })
        ));
        assert!(matches!(
            SignedNote::parse(&format!("{CHECKPOINT}\n\u{2014} a AAAA\n")),
            Err(NoteError::MalformedSignatureLine { line: 1, .. })
        ));
        let line = signed_checkpoint().signatures[0].to_line();
        let many = format!("{CHECKPOINT}\n{}", line.repeat(MAX_SIGNATURES + 1));
        assert_eq!(
            SignedNote::parse(&many),
            Err(NoteError::TooManySignatures {
                count: MAX_SIGNATURES + 1,
                max: MAX_SIGNATURES
            })
        );
        let at_limit = format!("{CHECKPOINT}\n{}", line.repeat(MAX_SIGNATURES));
        assert_eq!(
            SignedNote::parse(&at_limit).unwrap().signatures.len(),
            MAX_SIGNATURES
        );
        let huge = format!("{}\n\n{line}", "x".repeat(MAX_NOTE_BYTES));
        assert_eq!(
            SignedNote::parse(&huge),
            Err(NoteError::TooLarge {
                size: huge.len(),
                max: MAX_NOTE_BYTES
            })
        );
    }
}
