//! The auditors' side of the service: verifying the chain, exporting the log and signed
//! checkpoints (a case's replay is in `history`).
//!
//! Checkpoints are made at least every [`CHECKPOINT_EVERY_EVENTS`] events or every
//! [`CHECKPOINT_EVERY`], whichever comes first, whenever anything was appended since the last
//! one; they are signed with the service's Ed25519 key, stored by position, and given out with
//! the public key so an auditor can check an export without trusting the server. Each states
//! the Merkle tree's root at its position too, as JSON and as a signed note (`crate::proofs`).

use std::time::Duration;

use caseledger_domain::Role;
use caseledger_store::checkpoint::public_key_base64;
use caseledger_store::{ChainError, ChainVerifier, Checkpoint, Head, Position};
use chrono::{DateTime, SecondsFormat, Utc};
use tokio::sync::watch;

use crate::access::require_role;
use crate::app::App;
use crate::error::AppError;
use crate::storage::Storage;
use crate::tokens::Caller;

/// A checkpoint is made at least this many events after the previous one.
pub const CHECKPOINT_EVERY_EVENTS: u64 = 1_000;
/// …and at least this often while events are being appended.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(60);

/// How many envelopes one page of verification or export reads.
pub const AUDIT_PAGE: usize = 1_000;

const CHECKPOINT_PREFIX: &[u8] = b"checkpoint/";

fn checkpoint_key(position: Position) -> Vec<u8> {
    let mut key = CHECKPOINT_PREFIX.to_vec();
    key.extend_from_slice(&position.0.to_be_bytes());
    key
}

/// The result of walking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Intact from position 1 to the head.
    Intact {
        /// How many events.
        events: u64,
        /// The head.
        head: Head,
    },
    /// Broken at a position.
    Broken(ChainError),
}

/// The newest checkpoint in `storage`, if any: what `serve` checks its signing key against
/// before it builds the service.
pub async fn last_checkpoint(storage: &Storage) -> Result<Option<Checkpoint>, AppError> {
    Ok(storage
        .checkpoints
        .last::<Checkpoint>(CHECKPOINT_PREFIX)
        .await?
        .map(|(_, checkpoint)| checkpoint))
}

impl App {
    /// The checkpoints' public key (base64 Ed25519), if a key is installed.
    pub fn public_key(&self) -> Option<String> {
        self.signing_key.as_ref().map(public_key_base64)
    }

    /// Walks the whole chain in pages, in constant memory (auditors and admins).
    pub async fn verify_log(&self, caller: &Caller) -> Result<Verification, AppError> {
        self.verify_log_with(caller, |_| {}).await
    }

    /// [`App::verify_log`], telling `checked` how many events each page held once it passed
    /// (once a page, so the walk is not slowed).
    pub(crate) async fn verify_log_with(
        &self,
        caller: &Caller,
        mut checked: impl FnMut(u64),
    ) -> Result<Verification, AppError> {
        require_role(caller, &[Role::Admin, Role::Auditor], "verify the log")?;
        let mut verifier = ChainVerifier::new();
        let head = self.head();
        loop {
            let after = verifier.head().position;
            if after >= head.position {
                break;
            }
            let page = self.storage.log.read_all_raw(after, AUDIT_PAGE).await?;
            if page.is_empty() {
                break;
            }
            for (_, bytes) in &page {
                if let Err(error) = verifier.verify(bytes) {
                    return Ok(Verification::Broken(error));
                }
            }
            checked(page.len() as u64);
        }
        let head = verifier.head();
        Ok(Verification::Intact {
            events: head.position.0,
            head,
        })
    }

    /// One page of the export: stored envelopes after `after`, as the bytes the chain covers
    /// (auditors and admins).
    pub async fn export_page(
        &self,
        caller: &Caller,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(Position, Vec<u8>)>, AppError> {
        require_role(caller, &[Role::Admin, Role::Auditor], "export the log")?;
        Ok(self
            .storage
            .log
            .read_all_raw(Position(after), limit)
            .await?)
    }

    /// Signed checkpoints after `after`, oldest first (every role: they contain no case data
    /// and partners hold them as witnesses).
    pub async fn checkpoints(&self, after: u64, limit: usize) -> Result<Vec<Checkpoint>, AppError> {
        let start = checkpoint_key(Position(after));
        Ok(self
            .storage
            .checkpoints
            .scan_after::<Checkpoint>(CHECKPOINT_PREFIX, Some(&start), limit)
            .await?
            .into_iter()
            .map(|(_, checkpoint)| checkpoint)
            .collect())
    }

    /// The newest checkpoint, if any.
    pub async fn last_checkpoint(&self) -> Result<Option<Checkpoint>, AppError> {
        last_checkpoint(&self.storage).await
    }

    /// One step of the checkpoint worker: signs what is due at `now` and returns the new
    /// checkpoints. Due means: the log moved at least [`CHECKPOINT_EVERY_EVENTS`] past the last
    /// checkpoint (checkpoints are then made at every multiple of that distance), or it moved
    /// at all and the last checkpoint is [`CHECKPOINT_EVERY`] old.
    pub async fn try_checkpoint(&self, now: DateTime<Utc>) -> Result<Vec<Checkpoint>, AppError> {
        let Some(key) = self.signing_key.as_ref() else {
            return Ok(Vec::new());
        };
        let head = self.head();
        let last = self.last_checkpoint().await?;
        if let Some(last) = &last {
            // Another instance on the same store signed with another key: signing on would
            // leave auditors two public keys. `serve` refuses to start so; this catches an
            // instance started before the first checkpoint existed.
            if last.verify(&public_key_base64(key)).is_err() {
                return Err(AppError::Internal(anyhow::anyhow!(
                    "the last checkpoint was signed with another key than this instance's; \
                     every instance must use the same --signing-key"
                )));
            }
        }
        let (mut last_position, last_at) = match &last {
            Some(checkpoint) => (
                checkpoint.position.0,
                DateTime::parse_from_rfc3339(&checkpoint.at)
                    .map(|at| at.with_timezone(&Utc))
                    .ok(),
            ),
            None => (0, None),
        };
        let mut made = Vec::new();
        let at = now.to_rfc3339_opts(SecondsFormat::Micros, true);
        let origin = crate::proofs::log_origin(&key.verifying_key());
        while head.position.0 >= last_position + CHECKPOINT_EVERY_EVENTS {
            let position = Position(last_position + CHECKPOINT_EVERY_EVENTS);
            let hash = self.hash_at(position).await?;
            let root = self.tree_root(position.0).await?;
            made.push(Checkpoint::sign_tree(
                key,
                &origin,
                Head { position, hash },
                &root,
                at.clone(),
            ));
            last_position = position.0;
        }
        let stale = last_at
            .is_none_or(|last_at| (now - last_at).to_std().unwrap_or_default() >= CHECKPOINT_EVERY);
        if head.position.0 > last_position && made.is_empty() && stale {
            let root = self.tree_root(head.position.0).await?;
            made.push(Checkpoint::sign_tree(key, &origin, head, &root, at.clone()));
        }
        for checkpoint in &made {
            self.storage
                .checkpoints
                .put(&checkpoint_key(checkpoint.position), checkpoint)
                .await?;
        }
        if let Some(newest) = made.last() {
            self.signed_checkpoints.send_replace(newest.position.0);
        }
        Ok(made)
    }

    /// How long the checkpoint worker may sleep, and the head position that wakes it sooner:
    /// the next checkpoint is due when the log reaches the last one plus
    /// [`CHECKPOINT_EVERY_EVENTS`], or when the last one is [`CHECKPOINT_EVERY`] old and the log
    /// has moved past it.
    async fn next_checkpoint_due(&self, now: DateTime<Utc>) -> Result<(u64, Duration), AppError> {
        let Some(last) = self.last_checkpoint().await? else {
            // The first checkpoint is due as soon as there is an event.
            return Ok((1, CHECKPOINT_EVERY));
        };
        let age = DateTime::parse_from_rfc3339(&last.at)
            .ok()
            .and_then(|at| (now - at.with_timezone(&Utc)).to_std().ok())
            .unwrap_or(CHECKPOINT_EVERY);
        Ok(match CHECKPOINT_EVERY.checked_sub(age) {
            Some(left) if !left.is_zero() => (last.position.0 + CHECKPOINT_EVERY_EVENTS, left),
            _ => (last.position.0 + 1, CHECKPOINT_EVERY),
        })
    }

    /// The Merkle tree's root at `size` leaves, the tree brought up to it first.
    async fn tree_root(&self, size: u64) -> Result<caseledger_store::tree::TreeHash, AppError> {
        self.tree_up_to(size).await?;
        Ok(self.storage.tree.root(size).await?)
    }

    async fn hash_at(&self, position: Position) -> Result<caseledger_store::ChainHash, AppError> {
        let page = self
            .storage
            .log
            .read_all(Position(position.0 - 1), 1)
            .await?;
        page.first()
            .filter(|recorded| recorded.position == position)
            .map(|recorded| recorded.hash)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("position {position} is missing")))
    }

    /// Runs [`App::try_checkpoint`] whenever a checkpoint may be due — not at every append,
    /// which would read the checkpoints and verify a signature hundreds of times a second under
    /// load — until `shutdown` turns true.
    pub async fn run_checkpoints_until_stopped(&self, mut shutdown: watch::Receiver<bool>) {
        let mut heads = self.storage.log.subscribe();
        loop {
            match self.try_checkpoint(self.now()).await {
                Ok(made) => {
                    for checkpoint in made {
                        tracing::info!(position = checkpoint.position.0, "signed a checkpoint");
                    }
                }
                Err(error) => tracing::warn!(%error, "making a checkpoint failed; retrying"),
            }
            let (due_at_position, due_in) = match self.next_checkpoint_due(self.now()).await {
                Ok(due) => due,
                Err(error) => {
                    tracing::warn!(%error, "reading the last checkpoint failed; retrying");
                    (u64::MAX, Duration::from_secs(5))
                }
            };
            tokio::select! {
                moved = heads.wait_for(|head| head.position.0 >= due_at_position) => {
                    if moved.is_err() {
                        return;
                    }
                }
                _ = tokio::time::sleep(due_in) => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }
}
