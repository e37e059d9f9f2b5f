//! Where a whole-store command finds a store: [`Location`], a data dir (the embedded store in
//! its `sled/`) or a PostgreSQL database, as given to `--from` and `--to`.
//!
//! This module owns only the parsing and the password-free display of a location; opening it
//! is `opened.rs`'s.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::config::StoreSelection;

/// Where a store is: a data dir (the embedded store in its `sled/`) or a PostgreSQL database.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// The data dir of a (stopped) service.
    DataDir(PathBuf),
    /// A `postgres://` URL.
    Postgres(String),
}

impl FromStr for Location {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() {
            return Err("give a data dir or a postgres:// URL".into());
        }
        if text.contains("://") {
            return match text.parse::<StoreSelection>()? {
                StoreSelection::Postgres(url) => Ok(Location::Postgres(url)),
                StoreSelection::Sled => Err("give a data dir or a postgres:// URL".into()),
            };
        }
        Ok(Location::DataDir(PathBuf::from(text)))
    }
}

impl fmt::Display for Location {
    /// Shows the location without any password.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::DataDir(dir) => write!(formatter, "{} (sled)", dir.display()),
            Location::Postgres(url) => {
                write!(formatter, "{}", StoreSelection::Postgres(url.clone()))
            }
        }
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Location({self})")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;

    #[test]
    fn locations_are_data_dirs_or_postgres_urls() {
        assert_eq!(
            "/srv/caseledger".parse::<Location>().unwrap(),
            Location::DataDir(PathBuf::from("/srv/caseledger"))
        );
        let url = "postgres://u:secret@db/caseledger";
        let location: Location = url.parse().unwrap();
        assert_eq!(location, Location::Postgres(url.into()));
        assert!(!location.to_string().contains("secret"));
        assert!("mysql://u@h/d".parse::<Location>().is_err());
        assert!("".parse::<Location>().is_err());
    }
}
