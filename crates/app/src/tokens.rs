//! API tokens: issued at random, shown once, stored only as SHA-256 hashes, checked in
//! constant time, revocable at once.
//!
//! A token is `clt_` followed by 43 base64url characters (256 random bits). The store keeps
//! [`TokenRecord`]s by id; an in-memory index by hash answers every request without touching
//! the disk, and is updated in the same call that writes a change. When other service
//! instances share the store (PostgreSQL), [`Tokens::refresh`] re-reads the records every
//! [`TOKEN_REFRESH_EVERY`], so a token issued or revoked through one instance holds in every
//! other within that time. Such an instance fails closed: it vouches for its in-memory tokens
//! only for [`TOKEN_TRUST_WINDOW`] after the start of its last successful read, and while it
//! cannot re-read them (the database is unreachable, a refresh hangs) it refuses every token
//! ([`Tokens::check`] answers [`AppError::Unavailable`], a 503) rather than keep honouring one
//! that may have been revoked elsewhere. The first admin token is issued once per store, whichever instance
//! starts first: its record and a marker are written in one guarded batch.

use std::collections::HashMap;
use std::sync::RwLock;

use base64::Engine as _;
use caseledger_domain::{Department, Role};
use caseledger_store::Keyspace;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::AppError;

const TOKEN_PREFIX: &str = "clt_";

/// How often an instance re-reads the tokens of a shared store: twice in each trust window, so
/// one slow read does not leave the instance without a vouched-for view.
pub const TOKEN_REFRESH_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// How long after the start of its last successful read an instance on a shared store still
/// vouches for its tokens: a token revoked through another instance is refused here within
/// this time, whether or not the refreshes succeed.
pub const TOKEN_TRUST_WINDOW: std::time::Duration = std::time::Duration::from_secs(2);

/// The marker of the first admin token (a JSON `u64`, 1 once issued). Token records are keyed
/// by their 16-byte id; this key is longer, so it never collides with one.
const INITIAL_ADMIN_MARKER: &[u8] = b"meta/initial-admin-token";

/// Whom an authenticated caller stands for: an API token, or a person's console account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallerId {
    /// An API token, by its id.
    Token(Uuid),
    /// A console account (contract §8), by the user's id.
    User(Uuid),
}

impl CallerId {
    /// The id itself: what rate limits, idempotency keys and long answers are scoped by
    /// (token and user ids are both random UUIDs, so they never meet).
    pub fn uuid(&self) -> Uuid {
        match self {
            CallerId::Token(id) | CallerId::User(id) => *id,
        }
    }

    /// The token's id, for a token.
    pub fn token(&self) -> Option<Uuid> {
        match self {
            CallerId::Token(id) => Some(*id),
            CallerId::User(_) => None,
        }
    }

    /// The user's id, for a person signed in.
    pub fn user(&self) -> Option<Uuid> {
        match self {
            CallerId::User(id) => Some(*id),
            CallerId::Token(_) => None,
        }
    }
}

/// An authenticated caller: a token's or a person's identity and powers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token or the account.
    pub id: CallerId,
    /// The token's name (a person or a system), or the person's name.
    pub name: String,
    /// What the token may do.
    pub role: Role,
    /// A partner token's department.
    pub department: Option<Department>,
}

/// What the store keeps of a token: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// The token's id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// Its department (partners).
    pub department: Option<Department>,
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A newly issued token: the record and the secret, which is shown this once.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The stored record.
    pub record: TokenRecord,
    /// The bearer token.
    pub token: String,
}

/// The token registry: the keyspace and the in-memory index by hash.
#[derive(Debug)]
pub struct Tokens {
    keyspace: Keyspace,
    by_hash: RwLock<HashMap<[u8; 32], TokenRecord>>,
    /// On a shared store: when the last successful read of every record began. `None` on a
    /// store only this instance writes, whose memory is always current.
    verified_at: RwLock<Option<std::time::Instant>>,
}

/// Every token record in `keyspace`, by hash.
async fn read_index(keyspace: &Keyspace) -> Result<HashMap<[u8; 32], TokenRecord>, AppError> {
    let records: Vec<(Vec<u8>, serde_json::Value)> = keyspace.scan(b"").await?;
    let mut by_hash = HashMap::new();
    for (key, record) in records {
        if key.len() != 16 {
            continue;
        }
        let record: TokenRecord = serde_json::from_value(record)
            .map_err(|error| AppError::Internal(anyhow::anyhow!("a bad token record: {error}")))?;
        let mut hash = [0u8; 32];
        if hex::decode_to_slice(&record.token_hash, &mut hash).is_ok() {
            by_hash.insert(hash, record);
        }
    }
    Ok(by_hash)
}

/// A new random token and its record (not yet stored), with the token's hash.
fn new_token(
    name: String,
    role: Role,
    department: Option<Department>,
    now: DateTime<Utc>,
) -> ([u8; 32], IssuedToken) {
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let token = format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    let hash = hash_token(&token);
    let record = TokenRecord {
        id: Uuid::now_v7(),
        name,
        role,
        department,
        token_hash: hex::encode(hash),
        created_at: now,
        revoked_at: None,
    };
    (hash, IssuedToken { record, token })
}

fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Tokens {
    /// Loads every token record into memory.
    pub async fn load(keyspace: Keyspace) -> Result<Tokens, AppError> {
        let by_hash = read_index(&keyspace).await?;
        Ok(Tokens {
            keyspace,
            by_hash: RwLock::new(by_hash),
            verified_at: RwLock::new(None),
        })
    }

    /// Loads every token record of a store other instances also write: the tokens are vouched
    /// for only within [`TOKEN_TRUST_WINDOW`] of the last successful read.
    pub async fn load_shared(keyspace: Keyspace) -> Result<Tokens, AppError> {
        let started = std::time::Instant::now();
        let tokens = Tokens::load(keyspace).await?;
        if let Ok(mut verified_at) = tokens.verified_at.write() {
            *verified_at = Some(started);
        }
        Ok(tokens)
    }

    /// Re-reads every token record from the store, taking in what other instances issued or
    /// revoked. It merges rather than replaces: a token issued here while the store was being
    /// read is kept, and a revocation is never undone by a record read before it was written
    /// (records change only by being revoked).
    pub async fn refresh(&self) -> Result<(), AppError> {
        let started = std::time::Instant::now();
        let stored = read_index(&self.keyspace).await?;
        let mut index = self
            .by_hash
            .write()
            .map_err(|_| AppError::Internal(anyhow::anyhow!("token index poisoned")))?;
        for (hash, record) in stored {
            let revoked_here = index
                .get(&hash)
                .is_some_and(|known| known.revoked_at.is_some());
            if !revoked_here {
                index.insert(hash, record);
            }
        }
        drop(index);
        // What was read reflects the store as it stood when the read began.
        if let Ok(mut verified_at) = self.verified_at.write() {
            if verified_at.is_some_and(|at| at < started) {
                *verified_at = Some(started);
            }
        }
        Ok(())
    }

    /// The caller a bearer token stands for (`None`: unknown or revoked), or `Unavailable`
    /// when this instance shares its store and has not re-read the tokens within
    /// [`TOKEN_TRUST_WINDOW`], so it cannot vouch for any.
    pub fn check(&self, token: &str) -> Result<Option<Caller>, AppError> {
        let verified_at = *self
            .verified_at
            .read()
            .map_err(|_| AppError::Internal(anyhow::anyhow!("token freshness poisoned")))?;
        if let Some(at) = verified_at {
            let age = at.elapsed();
            if age > TOKEN_TRUST_WINDOW {
                return Err(AppError::Unavailable {
                    reason: format!(
                        "tokens cannot be checked: they were last read from the shared store {} \
                         ms ago, and a token revoked elsewhere since must not be honoured",
                        age.as_millis()
                    ),
                    retry_after_seconds: 1,
                });
            }
        }
        Ok(self.authenticate(token))
    }

    /// Whether any token was ever issued.
    pub fn is_empty(&self) -> bool {
        self.by_hash
            .read()
            .map(|map| map.is_empty())
            .unwrap_or(false)
    }

    /// Issues a token.
    pub async fn issue(
        &self,
        name: String,
        role: Role,
        department: Option<Department>,
        now: DateTime<Utc>,
    ) -> Result<IssuedToken, AppError> {
        let (hash, issued) = new_token(name, role, department, now);
        self.keyspace
            .put(issued.record.id.as_bytes(), &issued.record)
            .await?;
        self.remember(hash, &issued.record)?;
        Ok(issued)
    }

    /// Issues the first admin token of the store, unless one was ever issued: the record and
    /// the marker are written in one batch under a guard, so that of several instances
    /// starting at once on one database exactly one issues it. `None` when the store had it.
    pub async fn issue_initial_admin(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Option<IssuedToken>, AppError> {
        let (hash, issued) = new_token("initial-admin".into(), Role::Admin, None, now);
        let record =
            serde_json::to_vec(&issued.record).map_err(|error| AppError::Internal(error.into()))?;
        let marker = serde_json::to_vec(&1u64).map_err(|error| AppError::Internal(error.into()))?;
        let written = self
            .keyspace
            .apply_guarded(
                INITIAL_ADMIN_MARKER,
                0,
                vec![
                    (issued.record.id.as_bytes().to_vec(), Some(record)),
                    (INITIAL_ADMIN_MARKER.to_vec(), Some(marker)),
                ],
                true,
            )
            .await?;
        if !written {
            return Ok(None);
        }
        self.remember(hash, &issued.record)?;
        Ok(Some(issued))
    }

    fn remember(&self, hash: [u8; 32], record: &TokenRecord) -> Result<(), AppError> {
        self.by_hash
            .write()
            .map_err(|_| AppError::Internal(anyhow::anyhow!("token index poisoned")))?
            .insert(hash, record.clone());
        Ok(())
    }

    /// The caller a bearer token stands for, if it is known and not revoked.
    pub fn authenticate(&self, token: &str) -> Option<Caller> {
        let presented = hash_token(token);
        let index = self.by_hash.read().ok()?;
        let record = index.get(&presented)?;
        // The map lookup found the record by hash; comparing the stored hash again in constant
        // time keeps the final decision free of data-dependent timing.
        let mut stored = [0u8; 32];
        hex::decode_to_slice(&record.token_hash, &mut stored).ok()?;
        if !bool::from(stored.ct_eq(&presented)) || record.revoked_at.is_some() {
            return None;
        }
        Some(Caller {
            id: CallerId::Token(record.id),
            name: record.name.clone(),
            role: record.role,
            department: record.department.clone(),
        })
    }

    /// Whether the token `id` is known and not revoked: what a long-running answer (an export,
    /// a backup) checks between its chunks, so that it stops once its token is revoked.
    pub fn is_active(&self, id: Uuid) -> bool {
        self.by_hash.read().is_ok_and(|index| {
            index
                .values()
                .any(|record| record.id == id && record.revoked_at.is_none())
        })
    }

    /// Every token record, oldest first.
    pub fn list(&self) -> Vec<TokenRecord> {
        let mut records: Vec<TokenRecord> = self
            .by_hash
            .read()
            .map(|index| index.values().cloned().collect())
            .unwrap_or_default();
        records.sort_by_key(|record| record.id);
        records
    }

    /// Revokes a token at once; revoking twice keeps the first time.
    pub async fn revoke(&self, id: Uuid, now: DateTime<Utc>) -> Result<TokenRecord, AppError> {
        let mut record = self
            .list()
            .into_iter()
            .find(|record| record.id == id)
            .ok_or_else(|| AppError::NotFound("token".into()))?;
        if record.revoked_at.is_none() {
            record.revoked_at = Some(now);
            self.keyspace.put(record.id.as_bytes(), &record).await?;
            let mut hash = [0u8; 32];
            hex::decode_to_slice(&record.token_hash, &mut hash)
                .map_err(|error| AppError::Internal(error.into()))?;
            self.by_hash
                .write()
                .map_err(|_| AppError::Internal(anyhow::anyhow!("token index poisoned")))?
                .insert(hash, record.clone());
        }
        Ok(record)
    }
}
