//! Passwords of console accounts: the rules a new one must meet and its Argon2id hash.
//!
//! Rules (contract §8): at least [`MIN_PASSWORD_CHARS`] characters, not the login, not in the
//! list of common passwords (`common-passwords.txt`, the entries of twelve characters or more
//! of the top million of OWASP SecLists, compared without case). Hashes use Argon2id with
//! OWASP's parameters (19 MiB, two passes, one lane) in PHC string form; verification runs on a
//! blocking thread, at most [`HASHING_SLOTS`] at once, so a burst of sign-ins cannot take the
//! async workers or all the memory.

use std::collections::HashSet;
use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use caseledger_domain::FieldError;

use crate::AppError;

/// The shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// The longest password accepted, in characters: enough for any passphrase, and a bound on
/// the work one request can ask of the hasher.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// How many hashes are computed at once (each takes 19 MiB for some tens of milliseconds).
pub const HASHING_SLOTS: usize = 4;

const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

fn common_passwords() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON_PASSWORDS
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .collect()
    })
}

/// Why `password` may not be chosen by the account `login`, as a field error on `password`.
pub fn check_new_password(login: &str, password: &str) -> Result<(), FieldError> {
    let chars = password.chars().count();
    let refuse = |message: &str| Err(FieldError::new("password", message));
    if chars < MIN_PASSWORD_CHARS {
        return refuse("must be at least 12 characters long");
    }
    if chars > MAX_PASSWORD_CHARS {
        return refuse("must be at most 256 characters long");
    }
    let lowered = password.to_lowercase();
    if lowered == login.to_lowercase() {
        return refuse("must not be the login");
    }
    let mut distinct: Vec<char> = lowered.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 4 || common_passwords().contains(lowered.as_str()) {
        return refuse("is too common or too easy to guess; choose another");
    }
    Ok(())
}

fn argon2() -> Argon2<'static> {
    // OWASP Password Storage Cheat Sheet: Argon2id, m = 19 MiB, t = 2, p = 1.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hashing_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| tokio::sync::Semaphore::new(HASHING_SLOTS))
}

/// The PHC string of an Argon2id hash of `password` with a new random salt.
pub async fn hash_password(password: String) -> Result<String, AppError> {
    let _slot = hashing_slots()
        .acquire()
        .await
        .map_err(|error| AppError::Internal(error.into()))?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|error| AppError::Internal(anyhow::anyhow!("hashing a password: {error}")))
    })
    .await
    .map_err(|error| AppError::Internal(error.into()))?
}

/// Whether `password` matches the PHC string `stored` (constant-time inside argon2). With no
/// stored hash, a dummy one is checked, so an unknown login costs the same time as a known one.
pub async fn verify_password(password: String, stored: Option<String>) -> Result<bool, AppError> {
    let _slot = hashing_slots()
        .acquire()
        .await
        .map_err(|error| AppError::Internal(error.into()))?;
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| dummy_hash().to_owned());
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return Ok(false);
        };
        let matches = argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(known && matches)
    })
    .await
    .map_err(|error| AppError::Internal(error.into()))?
}

/// A hash of a random password, made once, for checking sign-ins of unknown logins.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(salt.as_str().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;

    #[test]
    fn short_common_and_login_passwords_are_refused_with_the_field_named() {
        for (login, password) in [
            ("wang.fang", "short"),
            ("wang.fang", "Wang.Fang"),
            ("wang.fang.officer", "WANG.FANG.OFFICER"),
            ("li", "123456789012"),
            ("li", "qwertyuiopasdfgh"),
            ("li", "aaaaaaaaaaaaaaaa"),
        ] {
            let refused = check_new_password(login, password).unwrap_err();
            assert_eq!(refused.field, "password", "{password}");
        }
        check_new_password("wang.fang", "劳动监督意见书按期整改2026").unwrap();
        check_new_password("wang.fang", "correct horse battery staple").unwrap();
    }

    #[test]
    fn the_common_list_is_loaded_and_lower_cased() {
        let list = common_passwords();
        assert!(list.len() > 40_000, "{}", list.len());
        assert!(list.contains("123456789012"));
        assert!(list.iter().all(|entry| entry.chars().count() >= 12));
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_no_other() {
        let hash = hash_password("correct horse battery staple".into())
            .await
            .unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(
            verify_password("correct horse battery staple".into(), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify_password("correct horse battery stapler".into(), Some(hash))
                .await
                .unwrap()
        );
        assert!(!verify_password("anything at all".into(), None)
            .await
            .unwrap());
    }
}
