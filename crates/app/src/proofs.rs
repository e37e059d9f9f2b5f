//! Proofs for auditors (contract §11): the log's Merkle tree brought up to a size, inclusion
//! and consistency proofs as each role may ask for them, the checkpoint as a signed note with
//! its witnesses' cosignatures, and the register of witnesses admins keep.
//!
//! The tree's hashing and the proofs' shapes are `caseledger_store::tree`'s, the notes'
//! formats `caseledger_store::note`'s; this module decides who may ask what, which sizes exist,
//! and which cosignature is accepted — one from a registered witness, over a checkpoint this
//! service signed, checked before it is kept.

use base64::Engine as _;
use caseledger_domain::Role;
use caseledger_store::encoding::{parse_ed25519_public_key, PublicKeyError};
use caseledger_store::note::{NoteSignature, SignedNote, VerifierKey};
use caseledger_store::tree::TreeHash;
use caseledger_store::Checkpoint;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::access::require_role;
use crate::app::App;
use crate::error::AppError;
use crate::tokens::Caller;

/// The longest witness name: it is a line of a signed note, and people read it.
pub const WITNESS_NAME_MAX: usize = 100;

/// An inclusion proof: the hashes from the leaf of the event at `leaf_index + 1` to the root of
/// the tree of `tree_size` leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// The leaf: the event's position minus one.
    pub leaf_index: u64,
    /// The tree's size.
    pub tree_size: u64,
    /// The proof's hashes, from the leaf upward.
    pub hashes: Vec<TreeHash>,
}

/// A witness of the log: someone who co-signs checkpoints after checking the log only grew.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Witness {
    /// The witness's name, as in its cosignature lines.
    pub name: String,
    /// Its Ed25519 public key, standard base64.
    pub public_key: String,
    /// The C2SP verifier key of its cosignatures (`name+keyid+base64`), what auditors pass to
    /// `--witness`.
    pub verifier_key: String,
    /// When it was registered (RFC 3339).
    pub registered_at: String,
    /// Who registered it.
    pub registered_by: String,
}

/// A cosignature kept for a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredCosignature {
    /// The signature line, as the witness sent it.
    line: String,
    /// The time the witness signed at (unix seconds).
    timestamp: u64,
}

fn witness_key(name: &str) -> Vec<u8> {
    name.as_bytes().to_vec()
}

fn cosignature_prefix(tree_size: u64) -> Vec<u8> {
    tree_size.to_be_bytes().to_vec()
}

fn cosignature_key(tree_size: u64, name: &str) -> Vec<u8> {
    let mut key = cosignature_prefix(tree_size);
    key.extend_from_slice(name.as_bytes());
    key
}

fn invalid(field: &str, message: impl Into<String>) -> AppError {
    AppError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// The origin line of the log named by checkpoints signed with `public_key`: `caseledger/`
/// and the first 8 bytes of the key's SHA-256 in hex — unique to the key, stable for the log's
/// life, and what witnesses keep their state under.
pub fn log_origin(public_key: &ed25519_dalek::VerifyingKey) -> String {
    let digest = Sha256::digest(public_key.as_bytes());
    format!("caseledger/{}", hex::encode(&digest[..8]))
}

impl App {
    /// The origin of this log's checkpoint notes, if a signing key is installed.
    pub fn log_origin(&self) -> Option<String> {
        self.signing_key
            .as_ref()
            .map(|key| log_origin(&key.verifying_key()))
    }

    /// Brings the Merkle tree up to `size` leaves (at most the head).
    pub(crate) async fn tree_up_to(&self, size: u64) -> Result<(), AppError> {
        if self.storage.tree.size().await? < size {
            self.storage
                .tree
                .catch_up(self.storage.log.as_ref(), caseledger_store::Position(size))
                .await?;
        }
        Ok(())
    }

    /// The tree size a proof is asked against: the one given, or the newest checkpoint's (so the
    /// proof verifies against a signed root), or the head when nothing is signed yet.
    async fn proof_tree_size(&self, given: Option<u64>, field: &str) -> Result<u64, AppError> {
        let head = self.head().position.0;
        let size = match given {
            Some(size) => size,
            None => match self.last_checkpoint().await? {
                Some(checkpoint) => checkpoint.position.0,
                None => head,
            },
        };
        if size == 0 || size > head {
            return Err(invalid(
                field,
                format!("must be between 1 and the log's size, {head}"),
            ));
        }
        Ok(size)
    }

    /// The inclusion proof of the event at `position` in the tree of `tree_size` leaves (the
    /// newest checkpoint's when absent). Auditors and admins ask for any event; a partner only
    /// for an event in its department's feed — any other is "not found", as over the feed.
    pub async fn inclusion_proof(
        &self,
        caller: &Caller,
        position: u64,
        tree_size: Option<u64>,
    ) -> Result<InclusionProof, AppError> {
        require_role(
            caller,
            &[Role::Admin, Role::Auditor, Role::Partner],
            "ask for proofs",
        )?;
        if caller.role == Role::Partner && !self.in_callers_feed(caller, position).await? {
            return Err(AppError::NotFound(format!(
                "no event at position {position} in your department's feed"
            )));
        }
        let tree_size = self.proof_tree_size(tree_size, "tree_size").await?;
        if position == 0 || position > tree_size {
            return Err(invalid(
                "position",
                format!("must be between 1 and tree_size, {tree_size}"),
            ));
        }
        self.tree_up_to(tree_size).await?;
        let hashes = self
            .storage
            .tree
            .inclusion_proof(position - 1, tree_size)
            .await?
            .map_err(|error| invalid("position", error.to_string()))?;
        Ok(InclusionProof {
            leaf_index: position - 1,
            tree_size,
            hashes,
        })
    }

    /// Whether the event at `position` is in the partner caller's department feed.
    async fn in_callers_feed(&self, caller: &Caller, position: u64) -> Result<bool, AppError> {
        let Some(department) = caller.department.as_ref() else {
            return Ok(false);
        };
        let page = self
            .webhooks
            .feed
            .page(department, position.saturating_sub(1), 1)
            .await
            .map_err(|error| AppError::Internal(error.into()))?;
        Ok(page.entries.iter().any(|entry| {
            entry.message.position == position && entry.message.kind.starts_with("case.")
        }))
    }

    /// The consistency proof from the tree of `from` leaves to the tree of `to` leaves
    /// (auditors, admins, partners: it says nothing of any event).
    pub async fn consistency_proof(
        &self,
        caller: &Caller,
        from: u64,
        to: u64,
    ) -> Result<Vec<TreeHash>, AppError> {
        require_role(
            caller,
            &[Role::Admin, Role::Auditor, Role::Partner],
            "ask for proofs",
        )?;
        let to = self.proof_tree_size(Some(to), "to").await?;
        if from == 0 || from > to {
            return Err(invalid("from", format!("must be between 1 and to, {to}")));
        }
        self.tree_up_to(to).await?;
        self.storage
            .tree
            .consistency_proof(from, to)
            .await?
            .map_err(|error| invalid("from", error.to_string()))
    }

    /// The checkpoint of `tree_size` (the newest when absent) as a C2SP signed note: the tree
    /// head, the service's signature, and every cosignature received for it. `None` when no
    /// checkpoint of the tree exists (yet).
    pub async fn checkpoint_note(
        &self,
        tree_size: Option<u64>,
    ) -> Result<Option<(Checkpoint, String)>, AppError> {
        let checkpoint = match tree_size {
            Some(size) => self.checkpoint_at(size).await?,
            None => self.last_checkpoint().await?,
        };
        let Some(checkpoint) = checkpoint else {
            return Ok(None);
        };
        Ok(self
            .note_with_cosignatures(&checkpoint)
            .await?
            .map(|note| (checkpoint, note)))
    }

    /// `checkpoint`'s note with every cosignature received for it (`None` for a checkpoint
    /// made before the tree).
    pub async fn note_with_cosignatures(
        &self,
        checkpoint: &Checkpoint,
    ) -> Result<Option<String>, AppError> {
        let Some(note) = checkpoint.note.as_deref() else {
            return Ok(None);
        };
        let mut note = SignedNote::parse(note)
            .map_err(|error| AppError::Internal(anyhow::anyhow!("a stored note: {error}")))?;
        for (_, cosignature) in self
            .storage
            .cosignatures
            .scan::<StoredCosignature>(&cosignature_prefix(checkpoint.position.0))
            .await?
        {
            if let Ok(line) = NoteSignature::parse(&cosignature.line) {
                note.signatures.push(line);
            }
        }
        Ok(Some(note.to_text()))
    }

    /// The witnesses registered (admins and auditors).
    pub async fn witnesses(&self, caller: &Caller) -> Result<Vec<Witness>, AppError> {
        require_role(caller, &[Role::Admin, Role::Auditor], "list witnesses")?;
        self.all_witnesses().await
    }

    async fn all_witnesses(&self) -> Result<Vec<Witness>, AppError> {
        Ok(self
            .storage
            .witnesses
            .scan::<Witness>(b"")
            .await?
            .into_iter()
            .map(|(_, witness)| witness)
            .collect())
    }

    /// Registers a witness by name and Ed25519 public key (base64) (admins).
    pub async fn register_witness(
        &self,
        caller: &Caller,
        name: &str,
        public_key: &str,
    ) -> Result<Witness, AppError> {
        require_role(caller, &[Role::Admin], "register witnesses")?;
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > WITNESS_NAME_MAX
            || name
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '+')
        {
            return Err(invalid(
                "name",
                format!(
                    "must be 1 to {WITNESS_NAME_MAX} characters, without spaces or '+' \
                     (a witness's name is part of its key, e.g. hrss.example.gov.cn/witness)"
                ),
            ));
        }
        let key = parse_public_key(public_key)?;
        let witness = Witness {
            name: name.to_owned(),
            public_key: base64::engine::general_purpose::STANDARD.encode(key.as_bytes()),
            verifier_key: VerifierKey::cosignature(name, key).to_string(),
            registered_at: self.now().to_rfc3339(),
            registered_by: caller.name.clone(),
        };
        if !self
            .storage
            .witnesses
            .put_new(&witness_key(name), &witness)
            .await?
        {
            return Err(AppError::Conflict(format!(
                "a witness named {name} is registered already; remove it first to change its key"
            )));
        }
        Ok(witness)
    }

    /// Removes a witness (admins). Its cosignatures already kept stay: they were valid when
    /// made.
    pub async fn remove_witness(&self, caller: &Caller, name: &str) -> Result<(), AppError> {
        require_role(caller, &[Role::Admin], "remove witnesses")?;
        if self
            .storage
            .witnesses
            .get::<Witness>(&witness_key(name))
            .await?
            .is_none()
        {
            return Err(AppError::NotFound(format!("no witness named {name}")));
        }
        self.storage.witnesses.remove(&witness_key(name)).await?;
        Ok(())
    }

    /// Takes a witness's cosignature of the checkpoint of `tree_size`: one signature line of a
    /// registered witness, checked against that checkpoint's note before it is kept. Returns
    /// the witness's name. Any caller that may read checkpoints may post one (the signature,
    /// not the token, says who signed).
    pub async fn add_cosignature(
        &self,
        caller: &Caller,
        tree_size: u64,
        line: &str,
    ) -> Result<String, AppError> {
        require_role(
            caller,
            &[Role::Admin, Role::Auditor, Role::Partner],
            "co-sign checkpoints",
        )?;
        let signature = NoteSignature::parse(line).map_err(|error| {
            invalid(
                "cosignature",
                format!("is not a signed-note signature line: {error}"),
            )
        })?;
        let Some(checkpoint) = self.checkpoint_at(tree_size).await? else {
            return Err(AppError::NotFound(format!(
                "no checkpoint of tree size {tree_size}"
            )));
        };
        let note = checkpoint
            .note
            .as_deref()
            .and_then(|note| SignedNote::parse(note).ok())
            .ok_or_else(|| {
                AppError::NotFound(format!(
                    "the checkpoint of tree size {tree_size} was made before the tree and has \
                     no note to co-sign"
                ))
            })?;
        let witness = self
            .storage
            .witnesses
            .get::<Witness>(&witness_key(&signature.name))
            .await?
            .ok_or_else(|| {
                invalid(
                    "cosignature",
                    format!("no witness named {} is registered", signature.name),
                )
            })?;
        let key = VerifierKey::parse(&witness.verifier_key)
            .map_err(|error| AppError::Internal(anyhow::anyhow!("a stored witness: {error}")))?;
        let only_this = SignedNote {
            text: note.text.clone(),
            signatures: vec![signature.clone()],
        };
        let timestamp = only_this
            .verify(&key)
            .map_err(|error| {
                invalid(
                    "cosignature",
                    format!("does not verify with {}'s key: {error}", witness.name),
                )
            })?
            .ok_or_else(|| invalid("cosignature", "is not a cosignature/v1 signature"))?;
        self.storage
            .cosignatures
            .put(
                &cosignature_key(tree_size, &witness.name),
                &StoredCosignature {
                    line: signature.to_line(),
                    timestamp,
                },
            )
            .await?;
        Ok(witness.name)
    }

    /// The checkpoint signed at `position` (= tree size), if any.
    async fn checkpoint_at(&self, tree_size: u64) -> Result<Option<Checkpoint>, AppError> {
        Ok(self
            .checkpoints(tree_size.saturating_sub(1), 1)
            .await?
            .into_iter()
            .find(|checkpoint| checkpoint.position.0 == tree_size))
    }
}

fn parse_public_key(text: &str) -> Result<ed25519_dalek::VerifyingKey, AppError> {
    let bad = || {
        invalid(
            "public_key",
            "must be a 32-byte Ed25519 public key in standard base64",
        )
    };
    parse_ed25519_public_key(text).map_err(|error| match error {
        PublicKeyError::Weak => invalid(
            "public_key",
            "is a weak (small-order) key, which would verify forged signatures",
        ),
        PublicKeyError::NotBase64Of32 | PublicKeyError::NotOnCurve => bad(),
    })
}
