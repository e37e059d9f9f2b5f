//! The account records of people (contract §8) and their keyspace layout.
//!
//! Keyspace `users`:
//! - `<16-byte id>` → [`UserRecord`];
//! - `login/<login>` → the id (a JSON string), the index by login;
//! - `rev/<16-byte id>` → the record's revision (a JSON `u64`), the guard every change of the
//!   record is written under, so two instances changing one account never lose a change;
//! - `setup/<hex SHA-256 of a setup token>` → the id, the index by setup link.
//!
//! A login is claimed under the guard `claim/<login>`, so two admins creating the same login at
//! once on two instances get one account and one refusal.

use caseledger_domain::{Department, Role};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What the store keeps of an account: never a password or a setup token, only their hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// The account's id (UUID v7).
    pub id: Uuid,
    /// What the person signs in with: lower case, unique.
    pub login: String,
    /// The person's name, as events record it.
    pub name: String,
    /// What the person may do.
    pub role: Role,
    /// A partner's department.
    pub department: Option<Department>,
    /// The Argon2id hash of the password (PHC string); `None` until the person chose one, and
    /// again after a reset.
    pub password_hash: Option<String>,
    /// Hex SHA-256 of the current one-time setup token, while one is open.
    pub setup_token_hash: Option<String>,
    /// When the setup link stops working.
    pub setup_expires_at: Option<DateTime<Utc>>,
    /// Raised by every reset and disablement: a session made under an older generation is
    /// over, on every instance, at its next request.
    pub session_generation: u64,
    /// The record's revision, raised by every change (the value of its `rev/` guard).
    pub revision: u64,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
    /// When the account was disabled, if it was.
    pub disabled_at: Option<DateTime<Utc>>,
}

/// Where an account stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    /// Created or reset: waiting for the person to choose a password through the setup link.
    PendingSetup,
    /// The person can sign in.
    Active,
    /// Disabled: no sign-in, no session.
    Disabled,
}

/// An account as admins see it: no hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserView {
    /// The account's id.
    pub id: Uuid,
    /// Its login.
    pub login: String,
    /// The person's name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// A partner's department.
    pub department: Option<Department>,
    /// Where it stands.
    pub status: UserStatus,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When the open setup link expires (pending accounts).
    pub setup_expires_at: Option<DateTime<Utc>>,
    /// When it was disabled.
    pub disabled_at: Option<DateTime<Utc>>,
}

impl UserRecord {
    /// Where the account stands.
    pub fn status(&self) -> UserStatus {
        if self.disabled_at.is_some() {
            UserStatus::Disabled
        } else if self.password_hash.is_some() {
            UserStatus::Active
        } else {
            UserStatus::PendingSetup
        }
    }

    /// The admins' view.
    pub fn view(&self) -> UserView {
        UserView {
            id: self.id,
            login: self.login.clone(),
            name: self.name.clone(),
            role: self.role,
            department: self.department.clone(),
            status: self.status(),
            created_at: self.created_at,
            setup_expires_at: self.setup_token_hash.as_ref().and(self.setup_expires_at),
            disabled_at: self.disabled_at,
        }
    }
}

/// The key of a record.
pub(crate) fn record_key(id: Uuid) -> Vec<u8> {
    id.as_bytes().to_vec()
}

/// Whether a key of the `users` keyspace is an account's record (its 16-byte id), not an
/// index entry or a guard: those start with a prefix, and `login/` or `claim/` with a
/// ten-character login is 16 bytes long too.
pub(crate) fn is_record_key(key: &[u8]) -> bool {
    const INDEX_PREFIXES: &[&[u8]] = &[b"login/", b"claim/", b"setup/", b"rev/", b"meta/"];
    key.len() == 16 && !INDEX_PREFIXES.iter().any(|prefix| key.starts_with(prefix))
}

/// The key of the revision guard of a record.
pub(crate) fn revision_key(id: Uuid) -> Vec<u8> {
    [b"rev/".as_slice(), id.as_bytes()].concat()
}

/// The key of the index entry of a login.
pub(crate) fn login_key(login: &str) -> Vec<u8> {
    format!("login/{login}").into_bytes()
}

/// The guard under which a login is claimed once.
pub(crate) fn claim_key(login: &str) -> Vec<u8> {
    format!("claim/{login}").into_bytes()
}

/// The key of the index entry of a setup token's hash.
pub(crate) fn setup_key(token_hash: &str) -> Vec<u8> {
    format!("setup/{token_hash}").into_bytes()
}
