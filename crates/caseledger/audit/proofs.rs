//! `caseledger audit verify-inclusion` and `caseledger audit verify-consistency`: a single
//! event, or the log's growth between two checkpoints, checked offline with nothing but the
//! proof, the signed checkpoints and the keys (contract §11).
//!
//! This module owns reading those files and the verdicts; the hashing and the proofs'
//! verification are `caseledger_store::tree`'s, the notes' signatures
//! `caseledger_store::note`'s. It trusts nothing it reads: a proof, a note or an envelope that
//! does not check out is a `bad:` verdict (exit 1) naming what failed, an unreadable file an
//! error (exit 2).

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use caseledger_store::encoding;
use caseledger_store::note::{CheckpointBody, SignedNote, VerifierKey};
use caseledger_store::tree::{self, TreeHash};
use caseledger_store::{ChainHash, ChainVerifier, Head, Position};
use serde::Deserialize;

use super::verify::{min_witnesses, read_capped, read_public_key, read_verifier_keys};
use crate::cli::{VerifyConsistencyArgs, VerifyInclusionArgs};

/// The largest note, proof or envelope file read.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The JSON of `GET /v1/audit/proof/inclusion`.
#[derive(Debug, Deserialize)]
struct InclusionProofFile {
    leaf_index: u64,
    tree_size: u64,
    hashes: Vec<String>,
}

/// The JSON of `GET /v1/audit/proof/consistency`.
#[derive(Debug, Deserialize)]
struct ConsistencyProofFile {
    #[serde(default)]
    from: Option<u64>,
    #[serde(default)]
    to: Option<u64>,
    hashes: Vec<String>,
}

/// The envelope members the check needs.
#[derive(Debug, Deserialize)]
struct EnvelopeHead {
    position: u64,
    prev_hash: ChainHash,
}

/// A checkpoint note, checked against the service's key.
#[derive(Debug)]
pub struct CheckedCheckpoint {
    /// The note, with every signature line it carries.
    pub note: SignedNote,
    /// Its tree head.
    pub body: CheckpointBody,
}

/// Why a verification failed: the `bad:` line.
#[derive(Debug)]
pub(crate) struct Bad(pub(crate) String);

fn bad(reason: impl Into<String>) -> Bad {
    Bad(reason.into())
}

/// Reads a checkpoint note from `path` and checks the service's signature on it.
pub fn read_checkpoint(
    path: &Path,
    public_key: &str,
) -> anyhow::Result<Result<CheckedCheckpoint, String>> {
    let text = read_capped(path, MAX_FILE_BYTES)
        .with_context(|| format!("cannot read the checkpoint {}", path.display()))?;
    Ok(check_checkpoint(&text, public_key)
        .map_err(|Bad(reason)| format!("the checkpoint {}: {reason}", path.display())))
}

fn check_checkpoint(text: &str, public_key: &str) -> Result<CheckedCheckpoint, Bad> {
    let note =
        SignedNote::parse(text).map_err(|error| bad(format!("not a signed note: {error}")))?;
    let body = CheckpointBody::parse(&note.text)
        .map_err(|error| bad(format!("not a tlog checkpoint: {error}")))?;
    let key = service_key(&body.origin, public_key)?;
    note.verify(&key).map_err(|error| {
        bad(format!(
            "not signed by the service's key under the origin {}: {error}",
            body.origin
        ))
    })?;
    Ok(CheckedCheckpoint { note, body })
}

fn service_key(origin: &str, public_key: &str) -> Result<VerifierKey, Bad> {
    let key = encoding::parse_ed25519_public_key(public_key)
        .map_err(|error| bad(format!("the public key is {error}")))?;
    Ok(VerifierKey::ed25519(origin, key))
}

/// A proof's hashes, each standard base64 of 32 bytes; the first that is not is named.
pub(crate) fn decode_proof_hashes(hashes: &[String]) -> Result<Vec<TreeHash>, Bad> {
    hashes
        .iter()
        .enumerate()
        .map(|(index, hash)| {
            encoding::decode_base64_32(hash).ok_or_else(|| {
                bad(format!(
                    "proof hash {} is not base64 of 32 bytes",
                    index + 1
                ))
            })
        })
        .collect()
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> anyhow::Result<T> {
    let text = read_capped(path, MAX_FILE_BYTES)
        .with_context(|| format!("cannot read the {what} {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "the {what} {} is not the JSON the service gives",
            path.display()
        )
    })
}

fn finish(verdict: Result<String, Bad>) -> anyhow::Result<ExitCode> {
    let (line, code) = match verdict {
        Ok(line) => (format!("ok: {line}"), ExitCode::SUCCESS),
        Err(Bad(reason)) => (format!("bad: {reason}"), ExitCode::FAILURE),
    };
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}").context("cannot write the verdict to stdout")?;
    Ok(code)
}

/// Runs `caseledger audit verify-inclusion`.
pub fn run_inclusion(args: &VerifyInclusionArgs) -> anyhow::Result<ExitCode> {
    let public_key = read_public_key(&args.public_key)?;
    let cosigners = read_verifier_keys(&args.witnesses)?;
    let min = min_witnesses(args.min_witnesses, cosigners.len())?;
    let event = if Path::new(&args.event).is_file() {
        read_capped(Path::new(&args.event), MAX_FILE_BYTES)
            .with_context(|| format!("cannot read the event {}", args.event))?
    } else {
        args.event.clone()
    };
    let proof: InclusionProofFile = read_json(&args.proof, "proof")?;
    let checkpoint = match read_checkpoint(&args.checkpoint, &public_key)? {
        Ok(checkpoint) => checkpoint,
        Err(reason) => return finish(Err(Bad(reason))),
    };
    finish(check_inclusion(
        event.trim_end(),
        &proof,
        &checkpoint,
        &cosigners,
        min,
    ))
}

fn check_inclusion(
    event: &str,
    proof: &InclusionProofFile,
    checkpoint: &CheckedCheckpoint,
    cosigners: &[VerifierKey],
    min: usize,
) -> Result<String, Bad> {
    let envelope: EnvelopeHead = serde_json::from_str(event).map_err(|error| {
        bad(format!(
            "the event is not an envelope with position and prev_hash: {error}"
        ))
    })?;
    if envelope.position == 0 {
        return Err(bad("the event's position is 0"));
    }
    // The envelope's own hash must be its content's: otherwise the proof would be about some
    // other event's hash.
    let mut verifier = ChainVerifier::resume(Head {
        position: Position(envelope.position - 1),
        hash: envelope.prev_hash,
    });
    let head = verifier
        .verify(event.as_bytes())
        .map_err(|error| bad(format!("the event's hash is not its content's: {error}")))?;
    if proof.leaf_index + 1 != envelope.position {
        return Err(bad(format!(
            "the proof is for position {}, the event is at position {}",
            proof.leaf_index + 1,
            envelope.position
        )));
    }
    if proof.tree_size != checkpoint.body.tree_size {
        return Err(bad(format!(
            "the proof is for tree size {}, the checkpoint is of tree size {}",
            proof.tree_size, checkpoint.body.tree_size
        )));
    }
    let hashes = decode_proof_hashes(&proof.hashes)?;
    tree::verify_inclusion(
        proof.leaf_index,
        proof.tree_size,
        &tree::leaf_hash(&head.hash.0),
        &hashes,
        &checkpoint.body.root_hash,
    )
    .map_err(|error| {
        bad(format!(
            "the event at position {} is not in the tree of size {}: {error}",
            envelope.position, proof.tree_size
        ))
    })?;
    let witnessed = checkpoint.note.count_cosignatures(cosigners);
    if witnessed < min {
        return Err(bad(format!(
            "the checkpoint of tree size {} is co-signed by {witnessed} of the given witnesses, \
             {min} required",
            proof.tree_size
        )));
    }
    let mut line = format!(
        "the event at position {} (hash {}) is in the log {} of tree size {}, signed by the service",
        envelope.position, head.hash, checkpoint.body.origin, proof.tree_size
    );
    if !cosigners.is_empty() {
        line.push_str(&format!(
            " and co-signed by {witnessed} of {} witnesses",
            cosigners.len()
        ));
    }
    Ok(line)
}

/// Runs `caseledger audit verify-consistency`.
pub fn run_consistency(args: &VerifyConsistencyArgs) -> anyhow::Result<ExitCode> {
    let public_key = read_public_key(&args.public_key)?;
    let proof: ConsistencyProofFile = read_json(&args.proof, "proof")?;
    let old = match read_checkpoint(&args.old, &public_key)? {
        Ok(checkpoint) => checkpoint,
        Err(reason) => return finish(Err(Bad(reason))),
    };
    let new = match read_checkpoint(&args.new, &public_key)? {
        Ok(checkpoint) => checkpoint,
        Err(reason) => return finish(Err(Bad(reason))),
    };
    finish(check_consistency(&old, &new, &proof))
}

fn check_consistency(
    old: &CheckedCheckpoint,
    new: &CheckedCheckpoint,
    proof: &ConsistencyProofFile,
) -> Result<String, Bad> {
    let (from, to) = (old.body.tree_size, new.body.tree_size);
    if old.body.origin != new.body.origin {
        return Err(bad(format!(
            "the checkpoints are of two logs: {} and {}",
            old.body.origin, new.body.origin
        )));
    }
    if proof.from.is_some_and(|size| size != from) || proof.to.is_some_and(|size| size != to) {
        return Err(bad(format!(
            "the proof is from tree size {} to {}, the checkpoints are of tree sizes {from} and {to}",
            proof.from.unwrap_or(from),
            proof.to.unwrap_or(to)
        )));
    }
    let hashes = decode_proof_hashes(&proof.hashes)?;
    tree::verify_consistency(from, to, &old.body.root_hash, &new.body.root_hash, &hashes).map_err(
        |error| {
            bad(format!(
                "the log of tree size {to} does not extend the log of tree size {from}: {error}"
            ))
        },
    )?;
    Ok(format!(
        "the log {} of tree size {to} extends the log of tree size {from} (it only grew)",
        new.body.origin
    ))
}
