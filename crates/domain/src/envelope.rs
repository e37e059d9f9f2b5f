//! What the log holds for one case event: the domain event with its id, case, time and actor.
//!
//! Serialised, a [`StoredEvent`] is the caller's part of the contract's envelope
//! (`id, case_id, type, at, actor, data`); the store adds `position, version, prev_hash, hash`.
//! This is stored format: fields may be added, never renamed. It is plain data, like the rest of
//! the domain; the app fills it in and the store wraps it.

use crate::event::CaseEvent;
use crate::ids::CaseId;
use crate::policy::Department;
use crate::vocab::Role;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A case event as the log stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// The event's id (UUID v7).
    pub id: Uuid,
    /// The case (the log's stream).
    pub case_id: CaseId,
    /// When the command was accepted.
    pub at: DateTime<Utc>,
    /// Who ran it.
    pub actor: ActorRecord,
    /// The domain event: `type` and `data`.
    #[serde(flatten)]
    pub event: CaseEvent,
}

/// Who ran a command, as recorded in the envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorRecord {
    /// The token used; `null` for the service itself and for a person signed in to the console.
    pub token_id: Option<Uuid>,
    /// The console account of a person signed in (contract §8). Added after v1: written only
    /// when present, so events of API tokens and of the service keep their v1 bytes (and a
    /// missing `user_id` reads as `null`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
    /// The token's name, or `system`.
    pub name: String,
    /// The token's role, or `system`.
    pub role: ActorRole,
    /// A partner token's department.
    pub department: Option<Department>,
}

impl ActorRecord {
    /// The service itself, for events it appends on its own (missed deadlines).
    pub fn system() -> ActorRecord {
        ActorRecord {
            token_id: None,
            user_id: None,
            name: "system".into(),
            role: ActorRole::System,
            department: None,
        }
    }
}

/// A role as recorded in an envelope: the token roles, plus the service itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorRole {
    /// An admin token.
    Admin,
    /// A supervisor token.
    Supervisor,
    /// An officer token.
    Officer,
    /// A partner department's token.
    Partner,
    /// An auditor token.
    Auditor,
    /// The service itself.
    System,
}

impl From<Role> for ActorRole {
    fn from(role: Role) -> Self {
        match role {
            Role::Admin => ActorRole::Admin,
            Role::Supervisor => ActorRole::Supervisor,
            Role::Officer => ActorRole::Officer,
            Role::Partner => ActorRole::Partner,
            Role::Auditor => ActorRole::Auditor,
        }
    }
}
