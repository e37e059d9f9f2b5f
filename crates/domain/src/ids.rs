//! Identifiers of cases and letters: UUID newtypes.
//!
//! This module owns only the types; it never makes an id. Ids are arguments, made by the caller
//! (the app uses UUID v7), so the domain stays deterministic.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// Wraps a UUID made by the caller.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, formatter)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(input: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(input).map(Self)
            }
        }
    };
}

uuid_id! {
    /// Identifies a case (the stream of its events).
    CaseId
}

uuid_id! {
    /// Identifies a supervision letter within its case.
    LetterId
}

uuid_id! {
    /// Identifies a file attached to a case (evidence), and its stored bytes.
    AttachmentId
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_display_parse_and_serialise_as_plain_uuids() {
        let text = "0190f5a3-7c1e-7d2a-9b3c-4d5e6f708192";
        let id: CaseId = text.parse().expect("a valid UUID parses");
        assert_eq!(id.to_string(), text);
        assert_eq!(
            serde_json::to_string(&id).expect("serialises"),
            format!("\"{text}\"")
        );
        assert!("not-a-uuid".parse::<LetterId>().is_err());
    }
}
