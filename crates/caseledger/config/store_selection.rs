//! Which event log `serve` uses: [`StoreSelection`], `sled` (the embedded log in the data dir)
//! or a `postgres://` URL, as written to `--store`, `CASELEDGER_STORE` and `store.url`.
//!
//! This module owns the parsing and the password-free display of that choice; opening the
//! store is [`crate::serve`]'s.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Which event log `serve` uses.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum StoreSelection {
    /// The embedded sled log in the data dir.
    Sled,
    /// The PostgreSQL log at this URL.
    Postgres(String),
}

impl FromStr for StoreSelection {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text == "sled" {
            return Ok(StoreSelection::Sled);
        }
        let is_postgres = ["postgres://", "postgresql://"]
            .iter()
            .any(|scheme| text.len() > scheme.len() && text.starts_with(scheme));
        if is_postgres {
            Ok(StoreSelection::Postgres(text.to_owned()))
        } else {
            Err(format!(
                "unsupported store {:?}: use `sled` for the embedded log in the data dir, or a \
                 `postgres://user@host/database` URL",
                redact_password(text)
            ))
        }
    }
}

impl TryFrom<String> for StoreSelection {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<StoreSelection> for String {
    fn from(selection: StoreSelection) -> Self {
        match selection {
            StoreSelection::Sled => "sled".to_owned(),
            StoreSelection::Postgres(url) => url,
        }
    }
}

impl fmt::Display for StoreSelection {
    /// Shows the store without any password in its URL, so it can be logged.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreSelection::Sled => formatter.write_str("sled"),
            StoreSelection::Postgres(url) => formatter.write_str(&redact_password(url)),
        }
    }
}

impl fmt::Debug for StoreSelection {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "StoreSelection({self})")
    }
}

/// `scheme://user:secret@host/…` → `scheme://user:***@host/…`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{path}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;

    #[test]
    fn store_urls() {
        assert_eq!("sled".parse::<StoreSelection>(), Ok(StoreSelection::Sled));
        assert!(matches!(
            "postgres://u:secret@host:5432/db".parse::<StoreSelection>(),
            Ok(StoreSelection::Postgres(_))
        ));
        for bad in ["", "postgres://", "mysql://u@h/d", "./data"] {
            assert!(bad.parse::<StoreSelection>().is_err(), "{bad:?}");
        }
        let with_password: StoreSelection = "postgres://u:secret@host:5432/db".parse().unwrap();
        assert_eq!(with_password.to_string(), "postgres://u:***@host:5432/db");
        assert!(!format!("{with_password:?}").contains("secret"));
        let error = "mysql://u:hunter2@h/d"
            .parse::<StoreSelection>()
            .unwrap_err();
        assert!(!error.contains("hunter2"), "{error}");
    }
}
