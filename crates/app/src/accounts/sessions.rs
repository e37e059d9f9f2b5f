//! Console sessions and one-time secrets: how they are made, what the store keeps of them
//! (only hashes), and the per-session token that every console form carries against
//! cross-site requests.
//!
//! Keyspace `sessions`: `<32-byte SHA-256 of the session secret>` → [`SessionRecord`].
//! Keyspace `sign_in_failures`: `<login>` → the times of the recent failed sign-ins.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// The prefix of a session secret (the cookie's value).
pub(crate) const SESSION_PREFIX: &str = "cls_";
/// The prefix of a setup token (the last part of a setup link).
const SETUP_PREFIX: &str = "clsu_";

/// What the store keeps of a session: never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The account.
    pub user_id: Uuid,
    /// The account's session generation when the session began (see
    /// [`crate::accounts::UserRecord::session_generation`]).
    pub generation: u64,
    /// When the person signed in.
    pub created_at: DateTime<Utc>,
    /// When the session was last used (kept to the minute).
    pub last_seen_at: DateTime<Utc>,
}

/// A random secret with `prefix`: 256 bits, base64url.
fn random_secret(prefix: &str) -> String {
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    )
}

/// A new session secret.
pub(crate) fn new_session_secret() -> String {
    random_secret(SESSION_PREFIX)
}

/// A new setup token.
pub(crate) fn new_setup_token() -> String {
    random_secret(SETUP_PREFIX)
}

/// The SHA-256 of a secret: what the store keeps.
pub(crate) fn secret_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// The token a session's forms carry: derived from the session secret, so it is never stored,
/// and useless without the cookie it belongs to.
pub fn form_token(session_secret: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"caseledger console form token\n");
    hasher.update(session_secret.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hasher.finalize())
}

/// Whether two hex hashes are equal, compared in constant time.
pub(crate) fn hashes_match(stored: &str, presented: &str) -> bool {
    stored.len() == presented.len() && bool::from(stored.as_bytes().ct_eq(presented.as_bytes()))
}

/// Whether `presented` is the form token of `session_secret`, compared in constant time.
pub fn form_token_matches(session_secret: &str, presented: &str) -> bool {
    let expected = form_token(session_secret);
    expected.len() == presented.len() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;

    #[test]
    fn a_form_token_belongs_to_its_session_only() {
        let one = new_session_secret();
        let other = new_session_secret();
        assert!(one.starts_with("cls_") && one.len() == 47, "{one}");
        assert!(form_token_matches(&one, &form_token(&one)));
        assert!(!form_token_matches(&other, &form_token(&one)));
        assert!(!form_token_matches(&one, ""));
        assert_ne!(secret_hash(&one), secret_hash(&other));
    }
}
