//! API tokens: issued at random, shown once, stored only as SHA-256 hashes, checked in
//! constant time, revocable at once.
//!
//! A token is `clt_` followed by 43 base64url characters (256 random bits). The store keeps
//! [`TokenRecord`]s by id; an in-memory index by hash answers every request without touching
//! the disk, and is updated in the same call that writes a change.

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

/// An authenticated caller: the token's identity and powers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's id.
    pub token_id: Uuid,
    /// The token's name (a person or a system).
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
}

fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Tokens {
    /// Loads every token record into memory.
    pub async fn load(keyspace: Keyspace) -> Result<Tokens, AppError> {
        let records: Vec<(Vec<u8>, TokenRecord)> = keyspace.scan(b"").await?;
        let mut by_hash = HashMap::new();
        for (_, record) in records {
            let mut hash = [0u8; 32];
            if hex::decode_to_slice(&record.token_hash, &mut hash).is_ok() {
                by_hash.insert(hash, record);
            }
        }
        Ok(Tokens {
            keyspace,
            by_hash: RwLock::new(by_hash),
        })
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
        self.keyspace.put(record.id.as_bytes(), &record).await?;
        self.by_hash
            .write()
            .map_err(|_| AppError::Internal(anyhow::anyhow!("token index poisoned")))?
            .insert(hash, record.clone());
        Ok(IssuedToken { record, token })
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
            token_id: record.id,
            name: record.name.clone(),
            role: record.role,
            department: record.department.clone(),
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
